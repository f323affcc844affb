"""Guardrail, logger and prompt plugins through the real binary, driven by
the official openai SDK: what a client sees when a WASM guardrail blocks,
masks (also on streams) or fails, and SIGTERM flushing queued call logs."""

import http.server
import json
import threading
import urllib.request

import openai
import pytest

from conftest import MASTER_KEY, Proc, free_port, require, wait_http, TIANJI, mock_stats


class Collector(http.server.BaseHTTPRequestHandler):
    batches: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"]))
        Collector.batches.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def log_sink():
    server = http.server.HTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="module")
def guarded(mock_upstream, log_sink, tmp_path_factory):
    require(TIANJI)
    d = tmp_path_factory.mktemp("guarded")
    (d / "greeting.prompt").write_text("System: Greet {{name}} warmly.\n")
    cfg = d / "config.yaml"
    cfg.write_text(f"""
model_list:
  - model_name: gpt-4o
    litellm_params: {{model: openai/gpt-4o, api_base: "{mock_upstream}/v1", api_key: sk-upstream}}
guardrails:
  - guardrail_name: pii
    litellm_params:
      guardrail: litellm_content_filter
      mode: [pre_call, post_call]
      default_on: true
      patterns:
        - {{pattern_type: prebuilt, pattern_name: email, action: MASK}}
        - {{pattern_type: prebuilt, pattern_name: us_ssn, action: BLOCK}}
  - guardrail_name: unreachable-api
    litellm_params:
      guardrail: generic_guardrail_api
      mode: pre_call
      api_base: http://127.0.0.1:9
      failure_policy: fail_closed
  - guardrail_name: unreachable-api-open
    litellm_params:
      guardrail: generic_guardrail_api
      mode: pre_call
      api_base: http://127.0.0.1:9
      failure_policy: fail_open
prompts:
  - prompt_id: greeting
    litellm_params: {{prompt_integration: dotprompt, prompt_file: greeting.prompt}}
litellm_settings:
  callbacks: [webhook]
callback_settings:
  webhook: {{url: "{log_sink}/logs", flush_interval: 60}}
general_settings:
  master_key: {MASTER_KEY}
""")
    port = free_port()
    proc = Proc([str(TIANJI), "--config", str(cfg), "--host", "127.0.0.1", "--port", str(port), "--plugin-dir", str(d / "plugins")])
    wait_http(f"http://127.0.0.1:{port}/health/liveliness", timeout=60)
    yield f"http://127.0.0.1:{port}", proc
    proc.stop()


@pytest.fixture
def gclient(guarded):
    return openai.OpenAI(base_url=f"{guarded[0]}/v1", api_key=MASTER_KEY, max_retries=0, timeout=30)


def test_block_is_a_bad_request_naming_the_guardrail(gclient):
    with pytest.raises(openai.BadRequestError) as e:
        gclient.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "ssn 123-45-6789"}])
    assert "guardrail 'pii'" in str(e.value) and "us_ssn pattern detected" in str(e.value)
    assert e.value.body["code"] == "guardrail_violation"


def test_masking_before_upstream_and_in_answers(gclient, mock_upstream):
    raw = gclient.chat.completions.with_raw_response.create(model="gpt-4o", messages=[{"role": "user", "content": "mail bob@example.com"}])
    assert raw.headers["x-litellm-applied-guardrails"] == "pii"
    reply = raw.parse()
    assert reply.choices[0].message.content == "mock answer to: mail [EMAIL_REDACTED]"
    assert mock_stats(mock_upstream)["last_request"]["body"]["messages"][0]["content"] == "mail [EMAIL_REDACTED]"


def test_post_call_masking_on_a_stream(gclient):
    # The upstream never sees the address (pre_call masks it); post_call checks the streamed text too.
    text = "".join(
        c.choices[0].delta.content or ""
        for c in gclient.chat.completions.create(model="gpt-4o", stream=True, messages=[{"role": "user", "content": "x@y.org please"}])
        if c.choices
    )
    assert text == "mock answer to: [EMAIL_REDACTED] please"


def test_failure_policies(gclient):
    with pytest.raises(openai.InternalServerError) as e:
        gclient.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}], extra_body={"guardrails": ["unreachable-api"]})
    assert "fail_closed" in str(e.value)
    ok = gclient.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}], extra_body={"guardrails": ["unreachable-api-open"]})
    assert ok.choices[0].message.content == "mock answer to: hi"


def test_managed_prompt(gclient, mock_upstream):
    gclient.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hello"}], extra_body={"prompt_id": "greeting", "prompt_variables": {"name": "Ana"}})
    sent = mock_stats(mock_upstream)["last_request"]["body"]["messages"]
    assert sent[0] == {"role": "system", "content": "Greet Ana warmly."}
    with pytest.raises(openai.BadRequestError) as e:
        gclient.chat.completions.create(model="gpt-4o", messages=[], extra_body={"prompt_id": "greeting"})
    assert "name" in str(e.value)


def test_plugins_endpoint(guarded):
    req = urllib.request.Request(f"{guarded[0]}/plugins", headers={"Authorization": f"Bearer {MASTER_KEY}"})
    with urllib.request.urlopen(req) as r:
        status = json.loads(r.read())
    names = {p["name"]: p for p in status["plugins"]}
    assert names["litellm_content_filter"]["state"] == "active"
    assert names["litellm_content_filter"]["calls"] > 0
    assert {l["name"] for l in status["loggers"]} == {"webhook"}


def test_zz_sigterm_flushes_queued_call_logs(guarded):
    # flush_interval is 60 s, so nothing has been sent yet; SIGTERM must deliver it.
    assert Collector.batches == []
    url, proc = guarded
    proc.stop()
    assert proc.p.returncode == 0
    events = [e for b in Collector.batches for e in b]
    assert len(events) >= 5, events
    assert {e["status"] for e in events} == {"success", "failure"}
    assert all(e["call_type"] == "acompletion" for e in events)
