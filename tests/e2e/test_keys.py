"""Virtual keys through the real binary, as LiteLLM users drive them: a script
calls /key/generate with the master key, then the official openai SDK uses the
generated key. Limits and access errors surface as the SDK's own exception
classes; spend shows in LiteLLM's headers, streams included."""

import json
import urllib.error
import urllib.request

import openai
import pytest

from conftest import MASTER_KEY


def call(proxy: str, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"{proxy}{path}", data=data, method=method, headers={"Authorization": f"Bearer {MASTER_KEY}", "content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def admin(proxy: str, path: str, body: dict) -> dict:
    status, v = call(proxy, "POST", path, body)
    assert status == 200, v
    return v


def sdk(proxy: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{proxy}/v1", api_key=key, max_retries=0, timeout=20)


def test_generated_key_works_with_the_sdk_and_is_held_to_its_limits(proxy):
    key = admin(proxy, "/key/generate", {"models": ["mocked"], "rpm_limit": 2, "key_alias": "e2e-limited"})["key"]
    client = sdk(proxy, key)
    raw = client.chat.completions.with_raw_response.create(model="mocked", messages=[{"role": "user", "content": "hi"}])
    assert raw.parse().choices[0].message.content == "canned answer"
    assert float(raw.headers["x-litellm-key-spend"]) > 0
    assert raw.headers["x-ratelimit-limit-requests"] == "2"
    client.chat.completions.create(model="mocked", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="mocked", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.AuthenticationError) as e:
        sdk(proxy, key).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert "key not allowed to access model" in str(e.value)


def test_a_blocked_or_deleted_key_stops_at_once(proxy):
    key = admin(proxy, "/key/generate", {"models": ["mocked"]})["key"]
    client = sdk(proxy, key)
    client.chat.completions.create(model="mocked", messages=[{"role": "user", "content": "hi"}])
    admin(proxy, "/key/block", {"key": key})
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="mocked", messages=[{"role": "user", "content": "hi"}])
    admin(proxy, "/key/unblock", {"key": key})
    client.chat.completions.create(model="mocked", messages=[{"role": "user", "content": "hi"}])
    assert admin(proxy, "/key/delete", {"keys": [key]})["deleted_keys"] == [key]
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="mocked", messages=[{"role": "user", "content": "hi"}])


def test_streams_are_charged_without_an_extra_chunk_for_the_client(proxy):
    key = admin(proxy, "/key/generate", {"models": ["mocked"]})["key"]
    client = sdk(proxy, key)
    chunks = list(client.chat.completions.create(model="mocked", messages=[{"role": "user", "content": "hi"}], stream=True))
    assert chunks and all(c.choices for c in chunks), "no usage-only chunk the client did not ask for"
    assert all(c.usage is None for c in chunks)
    raw = client.chat.completions.with_raw_response.create(model="mocked", messages=[{"role": "user", "content": "hi"}])
    one_call = float(raw.headers["x-litellm-response-cost"])
    assert float(raw.headers["x-litellm-key-spend"]) >= 2 * one_call * 0.99, "the stream was charged too"
    # A client that asks for usage still gets it.
    chunks = list(client.chat.completions.create(model="mocked", messages=[{"role": "user", "content": "hi"}], stream=True, stream_options={"include_usage": True}))
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0


def test_management_errors_name_the_field(proxy):
    status, v = call(proxy, "POST", "/key/generate", {"max_budget": -1})
    assert status == 400
    assert v["error"]["param"] == "max_budget"
    status, _ = call(proxy, "GET", "/key/info?key=sk-unknown")
    assert status == 404
