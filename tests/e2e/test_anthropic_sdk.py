"""The official `anthropic` SDK against /v1/messages, and the `openai` SDK
against Anthropic deployments, through the real proxy and mock upstream.

`gpt-4o` / `tools-model` are OpenAI-format deployments, `claude` /
`claude-tools` Anthropic-format ones: each client must not notice which."""

import json

import anthropic
import openai
import pytest

from conftest import MASTER_KEY

WEATHER_TOOL = {"name": "get_weather", "description": "Weather in a city", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}


@pytest.fixture
def claude(proxy):
    return anthropic.Anthropic(base_url=proxy, api_key=MASTER_KEY, max_retries=0, timeout=20)


@pytest.mark.parametrize("model", ["gpt-4o", "claude"])
def test_messages_create(claude, model):
    m = claude.messages.create(model=model, max_tokens=100, system="be brief", messages=[{"role": "user", "content": "hello"}])
    assert m.type == "message"
    assert m.content[0].type == "text"
    assert m.content[0].text == "mock answer to: hello"
    assert m.stop_reason == "end_turn"
    assert m.usage.input_tokens > 0 and m.usage.output_tokens > 0


@pytest.mark.parametrize("model", ["gpt-4o", "claude"])
def test_messages_stream(claude, model):
    with claude.messages.stream(model=model, max_tokens=100, messages=[{"role": "user", "content": "stream me"}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "mock answer to: stream me"
    assert final.content[0].text == text
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens > 0


@pytest.mark.parametrize("model", ["tools-model", "claude-tools"])
def test_messages_tool_use_streamed(claude, model):
    with claude.messages.stream(model=model, max_tokens=100, tools=[WEATHER_TOOL], messages=[{"role": "user", "content": "weather?"}]) as stream:
        final = stream.get_final_message()
    tool = next(b for b in final.content if b.type == "tool_use")
    assert tool.name == "get_weather"
    assert tool.input == {"city": "Paris"}
    assert final.stop_reason == "tool_use"
    # The tool's result goes back in Anthropic's shape.
    follow = claude.messages.create(
        model=model,
        max_tokens=100,
        tools=[WEATHER_TOOL],
        messages=[
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in final.content]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool.id, "content": "sunny"}, {"type": "text", "text": "thanks"}]},
        ],
    )
    assert follow.content[-1].type in ("text", "tool_use")


def test_messages_errors_raise_anthropic_classes(claude):
    with pytest.raises(anthropic.RateLimitError):
        claude.messages.create(model="claude-limited", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    with pytest.raises(anthropic.BadRequestError):
        claude.messages.create(model="claude", max_tokens=10, messages=[{"role": "system", "content": "x"}])
    with pytest.raises(anthropic.AuthenticationError):
        anthropic.Anthropic(base_url=claude.base_url, api_key="sk-wrong", max_retries=0).messages.create(
            model="claude", max_tokens=10, messages=[{"role": "user", "content": "x"}]
        )


def test_openai_sdk_on_an_anthropic_deployment(client):
    r = client.chat.completions.create(model="claude", messages=[{"role": "system", "content": "sys"}, {"role": "user", "content": "hello"}])
    assert r.choices[0].message.content == "mock answer to: hello"
    assert r.choices[0].finish_reason == "stop"
    stream = client.chat.completions.create(
        model="claude-tools",
        messages=[{"role": "user", "content": "weather?"}],
        tools=[{"type": "function", "function": {"name": "get_weather", "parameters": WEATHER_TOOL["input_schema"]}}],
        stream=True,
    )
    args, finish = "", None
    for chunk in stream:
        for call in chunk.choices[0].delta.tool_calls or [] if chunk.choices else []:
            args += call.function.arguments or ""
        if chunk.choices and chunk.choices[0].finish_reason:
            finish = chunk.choices[0].finish_reason
    assert json.loads(args) == {"city": "Paris"}
    assert finish == "tool_calls"


def test_openai_error_classes_across_providers(client):
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="claude-limited", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="claude-small", messages=[{"role": "user", "content": "x"}])
    assert "ContextWindowExceededError" in str(e.value)
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="claude", n=2, messages=[{"role": "user", "content": "x"}])
    assert "n" in str(e.value)
