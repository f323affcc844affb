//! Post-call guardrails on streamed answers.
//!
//! The text of the answer (choice 0's `delta.content`) is assembled as it
//! arrives and checked by the post-call guardrails on rolling windows: every
//! time [`CHECK_EVERY`] new bytes have arrived, the guardrails see the whole
//! text so far. Text is released to the client only after a check passed,
//! and the last [`HOLD_BACK`] bytes are always held until the next check, so
//! a match that spans a window boundary (an e-mail address split over two
//! chunks) is still caught before it is sent. The end of the stream gets a
//! final check over the full text before the rest is released.
//!
//! - `block`: the stream ends with an error event naming the guardrail;
//!   nothing after the last passed check reaches the client.
//! - `modify` (masking): the modified text replaces what was held back; a
//!   modification of text already sent cannot be honoured, so it ends the
//!   stream with an error event instead.
//! - Tool-call deltas, roles, finish reasons and usage pass through in order;
//!   tool-call arguments are not checked on streams.
//!
//! Released text goes out as chunks Tianji writes itself (same id, model and
//! created time as the upstream's), so chunk boundaries differ from the
//! upstream's; the concatenated text is the same unless a guardrail masked it.

use std::collections::VecDeque;
use std::sync::Arc;

use futures::StreamExt;
use tianji_core::context::CallContext;
use tianji_core::traits::ChunkStream;
use tianji_core::types::{ChatChunk, ChatRequest, ChatResponse, Choice, ChunkChoice, Content, Delta, Message, Reply};
use tianji_core::{ErrorKind, GatewayError};

use crate::guardrails::Selected;

/// New bytes of text between two checks.
pub const CHECK_EVERY: usize = 128;
/// Bytes always held back until the next check.
pub const HOLD_BACK: usize = 64;

struct State {
    inner: ChunkStream,
    selected: Selected,
    ctx: CallContext,
    group: String,
    req: Arc<ChatRequest>,
    text: String,
    released: usize,
    since_check: usize,
    template: Option<ChatChunk>,
    out: VecDeque<Result<Reply<ChatChunk>, GatewayError>>,
    done: bool,
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl State {
    fn text_chunk(&self, text: String) -> Reply<ChatChunk> {
        let t = self.template.clone().unwrap_or_default();
        Reply::from(ChatChunk {
            choices: vec![ChunkChoice { index: 0, delta: Delta { content: Some(text), ..Default::default() }, ..Default::default() }],
            usage: None,
            ..t
        })
    }

    /// Checks the text so far and releases what passed.
    async fn check(&mut self, last: bool) {
        let response = ChatResponse {
            id: self.template.as_ref().map(|t| t.id.clone()).unwrap_or_default(),
            object: "chat.completion".into(),
            model: self.template.as_ref().map(|t| t.model.clone()).unwrap_or_default(),
            choices: vec![Choice {
                index: 0,
                message: Message { role: "assistant".into(), content: Some(Content::Text(self.text.clone())), ..Default::default() },
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut checked = response;
        if let Err(e) = self.selected.check_response(&self.ctx, &self.group, &self.req, &mut checked).await {
            self.out.push_back(Err(e));
            self.done = true;
            return;
        }
        let new_text = checked.choices.first().map(|c| c.message.text_content()).unwrap_or_default();
        if new_text != self.text {
            if !new_text.starts_with(&self.text[..self.released]) {
                self.out.push_back(Err(GatewayError::new(
                    ErrorKind::ContentPolicy,
                    "a post_call guardrail changed streamed text that was already sent; the stream was stopped",
                )));
                self.done = true;
                return;
            }
            self.text = new_text;
        }
        let upto = if last { self.text.len() } else { floor_char_boundary(&self.text, self.text.len().saturating_sub(HOLD_BACK)) };
        if upto > self.released {
            let segment = self.text[self.released..upto].to_string();
            self.released = upto;
            let chunk = self.text_chunk(segment);
            self.out.push_back(Ok(chunk));
        }
        self.since_check = 0;
    }

    async fn on_chunk(&mut self, mut chunk: Reply<ChatChunk>) {
        let parsed = match chunk.parsed() {
            Ok(p) => p,
            Err(e) => {
                self.out.push_back(Err(e));
                self.done = true;
                return;
            }
        };
        if self.template.is_none() {
            self.template = Some(ChatChunk { choices: Vec::new(), usage: None, ..parsed.clone() });
        }
        let mut content = None;
        if let Some(c) = parsed.choices.iter_mut().find(|c| c.index == 0) {
            content = c.delta.content.take().filter(|t| !t.is_empty());
        }
        let ends = parsed.choices.iter().any(|c| c.finish_reason.is_some()) || (parsed.choices.is_empty() && parsed.usage.is_some());
        let rest_is_empty = parsed.usage.is_none()
            && parsed.choices.iter().all(|c| {
                c.finish_reason.is_none()
                    && c.delta.role.is_none()
                    && c.delta.tool_calls.is_none()
                    && c.delta.content.is_none()
                    && c.delta.extra.is_empty()
            });
        if let Some(t) = content {
            self.since_check += t.len();
            self.text.push_str(&t);
        }
        if ends {
            self.check(true).await;
            if self.done {
                return;
            }
        } else if self.since_check >= CHECK_EVERY {
            self.check(false).await;
            if self.done {
                return;
            }
        }
        if !rest_is_empty {
            // Roles, tool calls, finish reasons and usage go out in order,
            // after the text released before them.
            self.out.push_back(Ok(Reply::from(parsed.clone())));
        }
    }
}

/// Wraps an upstream stream so the post-call guardrails see its text.
pub fn guard(inner: ChunkStream, selected: Selected, ctx: CallContext, group: String, req: Arc<ChatRequest>) -> ChunkStream {
    let state = State {
        inner,
        selected,
        ctx,
        group,
        req,
        text: String::new(),
        released: 0,
        since_check: 0,
        template: None,
        out: VecDeque::new(),
        done: false,
    };
    Box::pin(futures::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(item) = st.out.pop_front() {
                return Some((item, st));
            }
            if st.done {
                return None;
            }
            match st.inner.next().await {
                None => {
                    if st.released < st.text.len() {
                        st.check(true).await;
                    }
                    st.done = true;
                }
                Some(Err(e)) => {
                    st.out.push_back(Err(e));
                    st.done = true;
                }
                Some(Ok(chunk)) => st.on_chunk(chunk).await,
            }
        }
    }))
}
