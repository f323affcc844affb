"""The official `openai` SDK against the real proxy and mock upstream."""

import json
import signal
import subprocess
import time
import urllib.request

import openai
import pytest

from conftest import MASTER_KEY, TIANJI, Proc, config_for, free_port, mock_stats, wait_http


def test_chat(client):
    r = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hello"}])
    assert r.choices[0].message.content == "mock answer to: hello"
    assert r.choices[0].finish_reason == "stop"
    assert r.usage.total_tokens > 0


def test_chat_headers(client):
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    assert raw.headers["x-litellm-model-group"] == "gpt-4o"
    assert raw.headers["x-litellm-call-id"]
    assert float(raw.headers["x-litellm-overhead-duration-ms"]) >= 0
    assert raw.parse().choices[0].message.content == "mock answer to: x"


def test_stream_with_usage(client):
    stream = client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "stream me"}], stream=True, stream_options={"include_usage": True}
    )
    text, usage = "", None
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            text += chunk.choices[0].delta.content
        if chunk.usage:
            usage = chunk.usage
    assert text == "mock answer to: stream me"
    assert usage is not None and usage.total_tokens > 0


def test_tool_calls_non_stream_and_stream(client):
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]
    r = client.chat.completions.create(model="tools-model", messages=[{"role": "user", "content": "weather?"}], tools=tools)
    call = r.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}

    args, name, deltas = "", None, 0
    for chunk in client.chat.completions.create(model="tools-model", messages=[{"role": "user", "content": "weather?"}], tools=tools, stream=True):
        for tc in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            name = name or tc.function.name
            if tc.function.arguments:
                args += tc.function.arguments
                deltas += 1
    assert name == "get_weather"
    assert json.loads(args) == {"city": "Paris"}
    assert deltas > 1, "arguments arrive as several deltas"


def test_embeddings(client):
    r = client.embeddings.create(model="text-embedding-3-small", input=["a", "b", "c"])
    assert len(r.data) == 3
    assert len(r.data[0].embedding) == 8


def test_models(client):
    ids = [m.id for m in client.models.list()]
    assert "gpt-4o" in ids and "mocked" in ids
    assert client.models.retrieve("gpt-4o").id == "gpt-4o"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")


def test_mock_response_needs_no_upstream(client):
    r = client.chat.completions.create(model="mocked", messages=[{"role": "user", "content": "x"}])
    assert r.choices[0].message.content == "canned answer"
    r = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}], extra_body={"mock_response": "per request"})
    assert r.choices[0].message.content == "per request"


def test_error_classes(proxy, client):
    from openai import OpenAI

    with pytest.raises(openai.AuthenticationError):
        OpenAI(base_url=f"{proxy}/v1", api_key="sk-wrong", max_retries=0).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
    assert "nope" in str(e.value)
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="gpt-4o", messages=[])
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="rate-limited", messages=[{"role": "user", "content": "x"}], extra_body={"num_retries": 0})
    with pytest.raises(openai.PermissionDeniedError):
        client.chat.completions.create(model="forbidden", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="server-error", messages=[{"role": "user", "content": "x"}], extra_body={"fallbacks": [], "num_retries": 0})
    with pytest.raises(openai.APIStatusError) as e:
        client.chat.completions.create(model="hangs", messages=[{"role": "user", "content": "x"}], extra_body={"num_retries": 0})
    assert e.value.status_code == 408
    with pytest.raises(openai.APITimeoutError):
        client.with_options(timeout=0.2).chat.completions.create(model="hangs", messages=[{"role": "user", "content": "x"}], extra_body={"timeout": 5})
    with pytest.raises(openai.APIConnectionError):
        OpenAI(base_url=f"http://127.0.0.1:{free_port()}/v1", api_key="k", max_retries=0).models.list()


def test_retry_fallback_and_cooldown(client):
    raw = client.chat.completions.with_raw_response.create(model="flaky", messages=[{"role": "user", "content": "x"}])
    assert raw.headers["x-litellm-attempted-retries"] == "2"
    raw = client.chat.completions.with_raw_response.create(model="server-error", messages=[{"role": "user", "content": "x"}])
    assert raw.headers["x-litellm-attempted-fallbacks"] == "1"
    assert raw.parse().choices[0].message.content == "mock answer to: x"
    raw = client.chat.completions.with_raw_response.create(
        model="server-error", messages=[{"role": "user", "content": "x"}], extra_body={"mock_testing_fallbacks": True, "fallbacks": ["mocked"]}
    )
    assert raw.parse().choices[0].message.content == "canned answer"
    # A 429 in a group with several deployments cools that deployment down at once;
    # once both are cooling the group answers 429 "No deployments available".
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="cools", messages=[{"role": "user", "content": "x"}], extra_body={"fallbacks": []})
    with pytest.raises(openai.RateLimitError) as e:
        client.chat.completions.create(model="cools", messages=[{"role": "user", "content": "x"}], extra_body={"fallbacks": []})
    assert "No deployments available" in str(e.value)
    assert e.value.response.headers.get("retry-after")


def test_client_disconnect_cancels_upstream(client, mock_upstream):
    before = mock_stats(mock_upstream)["cancelled_streams"]
    stream = client.chat.completions.create(model="slow-stream", messages=[{"role": "user", "content": "long " * 60}], stream=True)
    next(iter(stream))
    stream.close()
    deadline = time.monotonic() + 5
    while mock_stats(mock_upstream)["cancelled_streams"] == before:
        assert time.monotonic() < deadline, "the upstream stream kept running after the client left"
        time.sleep(0.05)


def test_sigterm_finishes_streams_then_exits_zero(mock_upstream, tmp_path):
    from openai import OpenAI

    cfg = tmp_path / "config.yaml"
    cfg.write_text(config_for(mock_upstream))
    port = free_port()
    proc = Proc([str(TIANJI), "--config", str(cfg), "--host", "127.0.0.1", "--port", str(port)])
    try:
        wait_http(f"http://127.0.0.1:{port}/health/liveliness")
        c = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=MASTER_KEY, max_retries=0)
        stream = c.chat.completions.create(model="slow-stream", messages=[{"role": "user", "content": "long " * 60}], stream=True)
        it = iter(stream)
        next(it)
        proc.p.send_signal(signal.SIGTERM)
        rest = list(it)
        assert len(rest) > 50, "the in-flight stream kept going after SIGTERM"
        assert rest[-1].choices[0].finish_reason == "stop", "and ran to its end"
        assert proc.p.wait(10) == 0
    finally:
        proc.stop()


def test_check_config_cli(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model_list:\n  - model_name: a\n    litellm_params: {model: nosuch/x, rpm: lots}\nlitellm_settings:\n  success_callback: [langfuse]\n")
    r = subprocess.run([str(TIANJI), "check-config", str(bad)], capture_output=True, text=True)
    assert r.returncode == 1
    assert "model_list[0].litellm_params.rpm" in r.stderr
    assert "unknown provider 'nosuch'" in r.stderr
    good = tmp_path / "good.yaml"
    good.write_text("model_list:\n  - model_name: a\n    litellm_params: {model: openai/gpt-4o, mock_response: hi}\nlitellm_settings:\n  success_callback: [langfuse]\n")
    r = subprocess.run([str(TIANJI), "check-config", str(good)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "litellm_settings.success_callback" in r.stdout


@pytest.mark.parametrize("runtime", ["per-core", "work-stealing"])
def test_both_runtimes_serve_and_stop(mock_upstream, tmp_path, runtime):
    from openai import OpenAI

    cfg = tmp_path / "config.yaml"
    cfg.write_text(config_for(mock_upstream))
    port = free_port()
    proc = Proc([str(TIANJI), "--config", str(cfg), "--host", "127.0.0.1", "--port", str(port), "--runtime", runtime, "--workers", "2"])
    try:
        wait_http(f"http://127.0.0.1:{port}/health/liveliness")
        c = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=MASTER_KEY, max_retries=0)
        for i in range(8):  # several connections, so both workers take some
            r = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=MASTER_KEY, max_retries=0).chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": f"n{i}"}]
            )
            assert r.choices[0].message.content == f"mock answer to: n{i}"
        assert c.models.list().data
        proc.p.send_signal(signal.SIGTERM)
        assert proc.p.wait(10) == 0
    finally:
        proc.stop()
