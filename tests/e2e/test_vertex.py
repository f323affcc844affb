"""Vertex AI through the real binary with Application Default Credentials:
GOOGLE_APPLICATION_CREDENTIALS names a service-account key that the mock
trusts, the config names no credentials, and the official openai SDK talks
to Gemini and Claude models on Vertex."""

import json
import urllib.request

import pytest
from openai import OpenAI

from conftest import MOCK, TIANJI, Proc, free_port, require, wait_http


@pytest.fixture(scope="module")
def vertex_proxy(tmp_path_factory):
    require(MOCK)
    require(TIANJI)
    tmp = tmp_path_factory.mktemp("vertex")
    key = tmp / "adc.json"
    mock_port = free_port()
    mock = Proc([str(MOCK), "--port", str(mock_port), "--google-service-account", str(key)])
    wait_http(f"http://127.0.0.1:{mock_port}/_mock/stats")
    upstream = f"http://127.0.0.1:{mock_port}"
    cfg = tmp / "config.yaml"
    cfg.write_text(f"""
model_list:
  - model_name: gemini
    litellm_params: {{model: vertex_ai/gemini-2.5-flash, api_base: "{upstream}", vertex_project: my-project, vertex_location: europe-west4}}
  - model_name: claude
    litellm_params: {{model: vertex_ai/claude-sonnet-4-5@20250929, api_base: "{upstream}", vertex_project: my-project, vertex_location: europe-west4}}
""")
    port = free_port()
    proxy = Proc([str(TIANJI), "--config", str(cfg), "--host", "127.0.0.1", "--port", str(port)],
                 env={"GOOGLE_APPLICATION_CREDENTIALS": str(key)})
    try:
        wait_http(f"http://127.0.0.1:{port}/health/liveliness")
        yield f"http://127.0.0.1:{port}", upstream
    finally:
        proxy.stop()
        mock.stop()


def last_request(upstream: str) -> dict:
    with urllib.request.urlopen(f"{upstream}/_mock/stats") as r:
        return json.loads(r.read())["last_request"]


def test_gemini_and_claude_on_vertex_with_adc(vertex_proxy):
    proxy, upstream = vertex_proxy
    client = OpenAI(base_url=f"{proxy}/v1", api_key="unused", max_retries=0, timeout=20)
    reply = client.chat.completions.create(model="gemini", messages=[{"role": "user", "content": "hello adc"}])
    assert reply.choices[0].message.content == "mock answer to: hello adc"
    seen = last_request(upstream)
    assert seen["path"] == "/v1/projects/my-project/locations/europe-west4/publishers/google/models/gemini-2.5-flash:generateContent"
    assert seen["headers"]["authorization"].startswith("Bearer ey")

    text = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
        model="claude", stream=True, messages=[{"role": "user", "content": "stream adc"}]) if c.choices)
    assert text == "mock answer to: stream adc"
    assert last_request(upstream)["path"].endswith("/publishers/anthropic/models/claude-sonnet-4-5@20250929:streamRawPredict")
