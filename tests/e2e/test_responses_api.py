"""The official `openai` SDK's Responses API (`client.responses.create`)
through the real proxy: passed through to an OpenAI deployment, translated
for an Anthropic one, plain and streaming."""

import openai
import pytest


@pytest.mark.parametrize("model", ["gpt-4o", "claude"])
def test_responses_create(client, model):
    r = client.responses.create(model=model, input="hello")
    assert r.status == "completed"
    assert r.output_text == "mock answer to: hello"
    assert r.usage.input_tokens > 0 and r.usage.output_tokens > 0


@pytest.mark.parametrize("model", ["gpt-4o", "claude"])
def test_responses_stream(client, model):
    stream = client.responses.create(model=model, input=[{"role": "user", "content": "stream me"}], stream=True)
    text, completed = "", None
    for event in stream:
        if event.type == "response.output_text.delta":
            text += event.delta
        if event.type == "response.completed":
            completed = event.response
    assert text == "mock answer to: stream me"
    assert completed is not None and completed.output_text == text


def test_responses_function_call_translated(client):
    tools = [{"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}]
    r = client.responses.create(model="claude-tools", input="weather?", tools=tools)
    call = next(i for i in r.output if i.type == "function_call")
    assert call.name == "get_weather"
    follow = client.responses.create(
        model="claude",
        tools=tools,
        input=[
            {"role": "user", "content": "weather?"},
            {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
            {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"},
        ],
    )
    assert follow.status == "completed"


def test_responses_retrieve(client):
    stored = client.responses.retrieve("resp_mock_1")
    assert stored.id == "resp_mock_1"
    translated = client.responses.create(model="claude", input="x")
    with pytest.raises(openai.BadRequestError):
        client.responses.retrieve(translated.id)
