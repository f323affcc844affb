//! Chat chunks → Responses-API stream events, in the order OpenAI sends
//! them: `response.created`, `response.in_progress`, then per output item
//! `response.output_item.added`, its deltas (`response.output_text.delta`
//! or `response.function_call_arguments.delta`) and its `.done` events, and
//! finally `response.completed` with the usage.

use serde_json::{Value, json};
use tianji_core::types::{ChatChunk, Usage};

use super::response::{TRANSLATED_PREFIX, envelope, function_call_item, message_item, new_id, usage};

/// The open output item.
enum Item {
    Text { id: String, text: String },
    Call { id: String, call_id: String, name: String, arguments: String, index: u32 },
}

/// Turns one chat stream into Responses events.
pub struct ToResponsesStream {
    request: Value,
    id: String,
    model: String,
    seq: u64,
    started: bool,
    open: Option<Item>,
    done_items: Vec<Value>,
    usage: Option<Usage>,
    incomplete: bool,
}

impl ToResponsesStream {
    /// A converter for a stream answering `request`.
    pub fn new(request: Value) -> Self {
        let model = request.get("model").and_then(Value::as_str).unwrap_or_default().to_owned();
        Self { request, id: new_id(), model, seq: 0, started: false, open: None, done_items: Vec::new(), usage: None, incomplete: false }
    }

    fn suffix(&self) -> &str {
        &self.id[TRANSLATED_PREFIX.len()..]
    }

    fn event(&mut self, kind: &str, mut body: Value) -> Value {
        body["type"] = json!(kind);
        body["sequence_number"] = json!(self.seq);
        self.seq += 1;
        body
    }

    fn start(&mut self, out: &mut Vec<Value>) {
        if self.started {
            return;
        }
        self.started = true;
        let response = envelope(&self.id, &self.model, &self.request, "in_progress", Vec::new(), None);
        let e = self.event("response.created", json!({"response": response.clone()}));
        out.push(e);
        let e = self.event("response.in_progress", json!({"response": response}));
        out.push(e);
    }

    fn output_index(&self) -> usize {
        self.done_items.len()
    }

    fn close(&mut self, out: &mut Vec<Value>) {
        let Some(item) = self.open.take() else { return };
        let index = self.output_index();
        let done = match item {
            Item::Text { id, text } => {
                let e = self
                    .event("response.output_text.done", json!({"item_id": id, "output_index": index, "content_index": 0, "text": text}));
                out.push(e);
                let part = json!({"type": "output_text", "text": text, "annotations": []});
                let e = self
                    .event("response.content_part.done", json!({"item_id": id, "output_index": index, "content_index": 0, "part": part}));
                out.push(e);
                message_item(&id, &text)
            }
            Item::Call { id, call_id, name, arguments, .. } => {
                let e = self
                    .event("response.function_call_arguments.done", json!({"item_id": id, "output_index": index, "arguments": arguments}));
                out.push(e);
                function_call_item(&id, &call_id, &name, &arguments)
            }
        };
        let e = self.event("response.output_item.done", json!({"output_index": index, "item": done.clone()}));
        out.push(e);
        self.done_items.push(done);
    }

    /// The events for one chunk.
    pub fn chunk(&mut self, chunk: ChatChunk) -> Vec<Value> {
        let mut out = Vec::new();
        if self.model.is_empty() {
            self.model = chunk.model.clone();
        }
        self.start(&mut out);
        if let Some(u) = chunk.usage {
            self.usage = Some(u);
        }
        let Some(choice) = chunk.choices.into_iter().next() else { return out };
        if let Some(text) = choice.delta.content.filter(|t| !t.is_empty()) {
            if !matches!(self.open, Some(Item::Text { .. })) {
                self.close(&mut out);
                let id = format!("msg_{}_{}", self.suffix(), self.output_index());
                let index = self.output_index();
                let item = json!({"type": "message", "id": id, "status": "in_progress", "role": "assistant", "content": []});
                let e = self.event("response.output_item.added", json!({"output_index": index, "item": item}));
                out.push(e);
                let part = json!({"type": "output_text", "text": "", "annotations": []});
                let e = self
                    .event("response.content_part.added", json!({"item_id": id, "output_index": index, "content_index": 0, "part": part}));
                out.push(e);
                self.open = Some(Item::Text { id, text: String::new() });
            }
            let index = self.output_index();
            if let Some(Item::Text { id, text: all }) = &mut self.open {
                all.push_str(&text);
                let id = id.clone();
                let e = self
                    .event("response.output_text.delta", json!({"item_id": id, "output_index": index, "content_index": 0, "delta": text}));
                out.push(e);
            }
        }
        for call in choice.delta.tool_calls.unwrap_or_default() {
            let n = call.index.unwrap_or(0);
            let same = matches!(&self.open, Some(Item::Call { index, .. }) if *index == n) && call.id.is_none();
            if !same {
                self.close(&mut out);
                let index = self.output_index();
                let id = format!("fc_{}_{index}", self.suffix());
                let call_id = call.id.clone().unwrap_or_else(|| format!("call_{index}"));
                let name = call.function.name.clone().unwrap_or_default();
                let item =
                    json!({"type": "function_call", "id": id, "call_id": call_id, "name": name, "arguments": "", "status": "in_progress"});
                let e = self.event("response.output_item.added", json!({"output_index": index, "item": item}));
                out.push(e);
                self.open = Some(Item::Call { id, call_id, name, arguments: String::new(), index: n });
            }
            if !call.function.arguments.is_empty() {
                let index = self.output_index();
                if let Some(Item::Call { id, arguments, .. }) = &mut self.open {
                    arguments.push_str(&call.function.arguments);
                    let id = id.clone();
                    let e = self.event(
                        "response.function_call_arguments.delta",
                        json!({"item_id": id, "output_index": index, "delta": call.function.arguments}),
                    );
                    out.push(e);
                }
            }
        }
        if let Some(finish) = choice.finish_reason {
            self.incomplete = finish == "length";
            self.close(&mut out);
        }
        out
    }

    /// The closing events after the last chunk.
    pub fn finish(&mut self) -> Vec<Value> {
        let mut out = Vec::new();
        self.start(&mut out);
        self.close(&mut out);
        let status = if self.incomplete { "incomplete" } else { "completed" };
        let kind = if self.incomplete { "response.incomplete" } else { "response.completed" };
        let response = envelope(&self.id, &self.model, &self.request, status, self.done_items.clone(), self.usage.as_ref().map(usage));
        let e = self.event(kind, json!({"response": response}));
        out.push(e);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_then_call_in_openai_order() {
        let chunks: Vec<ChatChunk> = [
            json!({"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}),
            json!({"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"content": "Hi"}}]}),
            json!({"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "t1", "function": {"name": "f", "arguments": "{\"a\""}}]}}]}),
            json!({"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": ":1}"}}]}}]}),
            json!({"id": "c", "model": "m", "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
            json!({"id": "c", "model": "m", "choices": [], "usage": {"prompt_tokens": 4, "completion_tokens": 6, "total_tokens": 10}}),
        ]
        .into_iter()
        .map(|v| serde_json::from_value(v).expect("chunk"))
        .collect();
        let mut s = ToResponsesStream::new(json!({"model": "m", "input": "x"}));
        let mut events: Vec<Value> = chunks.into_iter().flat_map(|c| s.chunk(c)).collect();
        events.extend(s.finish());
        let kinds: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
        assert_eq!(
            kinds,
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.done",
                "response.output_item.done",
                "response.completed"
            ]
        );
        let done = events.last().expect("completed");
        assert_eq!(done["response"]["output"][1]["arguments"], "{\"a\":1}");
        assert_eq!(done["response"]["usage"]["output_tokens"], 6);
        assert!(events.iter().enumerate().all(|(i, e)| e["sequence_number"] == i as u64));
    }
}
