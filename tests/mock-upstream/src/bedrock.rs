//! Amazon Bedrock Runtime: `/model/{modelId}/converse`, `/converse-stream`
//! (AWS event-stream framing) and `/invoke` (Titan and Cohere embeddings).
//!
//! Every request must carry a SigV4 signature; with
//! [`MockOptions::aws_credentials`](crate::MockOptions) set, the signature is
//! recomputed with `aws-sigv4` from the signed headers and the body and a
//! mismatch is refused as AWS refuses it (403 `InvalidSignatureException`).
//! Converse bodies are checked for the documented fields.
//!
//! Magic model names as for the OpenAI routes, plus `stream-throttle` (an
//! exception message mid-stream) and `cut-stream` (the stream ends inside a frame).

use std::time::{Duration, SystemTime};

use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use bytes::Bytes;
use http::{Response, StatusCode, header};
use serde_json::{Map, Value, json};

use crate::{Body, Call, full, split_pieces, stream_events};

const TOP_LEVEL: &[&str] = &[
    "messages",
    "system",
    "inferenceConfig",
    "toolConfig",
    "additionalModelRequestFields",
    "guardrailConfig",
    "performanceConfig",
    "requestMetadata",
    "promptVariables",
    "additionalModelResponseFieldPaths",
];
const BLOCKS: &[&str] = &["text", "image", "document", "toolUse", "toolResult", "reasoningContent", "cachePoint", "guardContent"];
const INFERENCE: &[&str] = &["maxTokens", "temperature", "topP", "stopSequences"];

/// An AWS JSON error: `{"message"}` with `x-amzn-ErrorType`.
pub(crate) fn error(status: u16, message: &str) -> Response<Body> {
    let kind = match status {
        400 => "ValidationException",
        403 => "AccessDeniedException",
        404 => "ResourceNotFoundException",
        429 => "ThrottlingException",
        503 => "ServiceUnavailableException",
        _ => "InternalServerException",
    };
    let mut r = full(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), json!({"message": message}).to_string());
    if let Ok(v) = header::HeaderValue::from_str(&format!("{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/")) {
        r.headers_mut().insert("x-amzn-errortype", v);
    }
    r
}

/// The model id of `/model/{id}/...`, percent-decoded.
pub(crate) fn model_of(path: &str) -> String {
    let encoded = path.strip_prefix("/model/").and_then(|p| p.rsplit_once('/')).map(|(m, _)| m).unwrap_or("");
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len() + 1
            && let Some(b) = encoded.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `20261122T130501Z` → time.
fn amz_date(s: &str) -> Option<SystemTime> {
    let num = |a: usize, b: usize| s.get(a..b).and_then(|x| x.parse::<i64>().ok());
    let (y, m, d, hh, mm, ss) = (num(0, 4)?, num(4, 6)?, num(6, 8)?, num(9, 11)?, num(11, 13)?, num(13, 15)?);
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    let secs = days * 86400 + hh * 3600 + mm * 60 + ss;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).ok()?))
}

/// Checks the request's SigV4 signature: present always, and equal to the
/// one recomputed with `credentials` when the mock has them.
pub(crate) fn verify_signature(
    method: &str,
    path_and_query: &str,
    headers: &Map<String, Value>,
    body: &[u8],
    credentials: Option<&(String, String)>,
) -> Result<(), String> {
    let h = |name: &str| headers.get(name).and_then(Value::as_str).unwrap_or("");
    let auth = h("authorization");
    let rest = auth.strip_prefix("AWS4-HMAC-SHA256 ").ok_or("Missing Authentication Token")?;
    let field = |name: &str| rest.split(", ").find_map(|p| p.strip_prefix(name)).unwrap_or("");
    let scope: Vec<&str> = field("Credential=").split('/').collect();
    let signed: Vec<&str> = field("SignedHeaders=").split(';').collect();
    let signature = field("Signature=");
    if scope.len() != 5 || scope[4] != "aws4_request" || signed.is_empty() || signature.is_empty() {
        return Err(format!("malformed Authorization header: {auth}"));
    }
    let Some((key, secret)) = credentials else { return Ok(()) };
    if scope[0] != key {
        return Err("The security token included in the request is invalid.".to_owned());
    }
    let time = amz_date(h("x-amz-date")).ok_or("missing or malformed x-amz-date")?;
    let creds = aws_credential_types::Credentials::new(
        key,
        secret,
        headers.get("x-amz-security-token").and_then(Value::as_str).map(str::to_owned),
        None,
        "mock",
    );
    let identity = aws_smithy_runtime_api::client::identity::Identity::from(creds);
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(scope[2])
        .name(scope[3])
        .time(time)
        .settings(aws_sigv4::http_request::SigningSettings::default())
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let uri = format!("http://{}{path_and_query}", h("host"));
    let signed_headers = signed.iter().map(|name| (*name, h(name)));
    let request =
        aws_sigv4::http_request::SignableRequest::new(method, uri, signed_headers, aws_sigv4::http_request::SignableBody::Bytes(body))
            .map_err(|e| e.to_string())?;
    let (_, expected) = aws_sigv4::http_request::sign(request, &params).map_err(|e| e.to_string())?.into_parts();
    if expected != signature {
        return Err("The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.".to_owned());
    }
    Ok(())
}

fn check(body: &Value) -> Result<(), String> {
    let obj = body.as_object().ok_or("body must be an object")?;
    if let Some(k) = obj.keys().find(|k| !TOP_LEVEL.contains(&k.as_str())) {
        return Err(format!("Malformed input request: extraneous key [{k}] is not permitted"));
    }
    let messages = obj.get("messages").and_then(Value::as_array).filter(|m| !m.is_empty()).ok_or("messages: required")?;
    let mut tool_uses = std::collections::HashSet::new();
    let mut last_role = "";
    for (i, m) in messages.iter().enumerate() {
        let role = m.get("role").and_then(Value::as_str).unwrap_or("");
        if role != "user" && role != "assistant" {
            return Err(format!("messages.{i}.role: must be user or assistant"));
        }
        if role == last_role {
            return Err("A conversation must alternate between user and assistant roles.".to_owned());
        }
        last_role = role;
        for b in m.get("content").and_then(Value::as_array).ok_or(format!("messages.{i}.content: required"))? {
            let key = b.as_object().and_then(|o| o.keys().next()).map(String::as_str).unwrap_or("");
            if !BLOCKS.contains(&key) {
                return Err(format!("messages.{i}.content: unknown content block [{key}]"));
            }
            if let Some(id) = b.pointer("/toolUse/toolUseId").and_then(Value::as_str) {
                tool_uses.insert(id.to_owned());
            }
            if let Some(id) = b.pointer("/toolResult/toolUseId").and_then(Value::as_str)
                && !tool_uses.contains(id)
            {
                return Err(format!("The toolResult block {id} does not match any toolUse block"));
            }
        }
    }
    if let Some(k) =
        obj.get("inferenceConfig").and_then(Value::as_object).and_then(|c| c.keys().find(|k| !INFERENCE.contains(&k.as_str())).cloned())
    {
        return Err(format!("Malformed input request: extraneous key [{k}] in inferenceConfig"));
    }
    Ok(())
}

fn user_text(body: &Value) -> String {
    let messages = body.get("messages").and_then(Value::as_array).cloned().unwrap_or_default();
    messages
        .iter()
        .rev()
        .filter(|m| m["role"] == "user")
        .find_map(|m| {
            let texts: Vec<&str> = m["content"].as_array()?.iter().filter_map(|b| b.get("text").and_then(Value::as_str)).collect();
            (!texts.is_empty()).then(|| texts.join(" "))
        })
        .unwrap_or_default()
}

fn usage(body: &Value, output: u64) -> Value {
    let input = (body.get("messages").map(|m| m.to_string().len()).unwrap_or(0) as u64).div_ceil(4).max(1);
    json!({"inputTokens": input, "outputTokens": output, "totalTokens": input + output})
}

fn event(kind: &str, payload: &Value) -> Bytes {
    frame(
        Message::new(payload.to_string())
            .add_header(Header::new(":message-type", HeaderValue::String("event".into())))
            .add_header(Header::new(":event-type", HeaderValue::String(kind.to_owned().into()))),
    )
}

fn frame(m: Message) -> Bytes {
    let mut buf = Vec::new();
    let _ = aws_smithy_eventstream::frame::write_message_to(&m, &mut buf);
    Bytes::from(buf)
}

/// `/converse` and `/converse-stream`.
pub(crate) fn converse(call: &Call<'_>, stream: bool) -> Response<Body> {
    if let Err(m) = check(call.body) {
        return error(400, &m);
    }
    let tools = call.model.contains("tools");
    let text = format!("mock answer to: {}", user_text(call.body));
    let output = if tools { 10 } else { text.split_whitespace().count() as u64 };
    let tool_use = json!({"toolUseId": "tooluse_mock_1", "name": "get_weather", "input": {"city": "Paris"}});
    if !stream {
        let content = if tools { json!([{"text": "Let me check."}, {"toolUse": tool_use}]) } else { json!([{"text": text}]) };
        let body = json!({"output": {"message": {"role": "assistant", "content": content}}, "stopReason": if tools { "tool_use" } else { "end_turn" },
            "usage": usage(call.body, output), "metrics": {"latencyMs": 1}});
        return full(StatusCode::OK, body.to_string());
    }
    let mut events = vec![event("messageStart", &json!({"role": "assistant"}))];
    if call.model.contains("stream-throttle") {
        events.push(frame(
            Message::new(json!({"message": "Too many requests, please wait before trying again."}).to_string())
                .add_header(Header::new(":message-type", HeaderValue::String("exception".into())))
                .add_header(Header::new(":exception-type", HeaderValue::String("throttlingException".into()))),
        ));
    }
    let first = if tools { "Let me check.".to_owned() } else { text };
    for piece in split_pieces(&first, call.chunks) {
        events.push(event("contentBlockDelta", &json!({"contentBlockIndex": 0, "delta": {"text": piece}})));
    }
    events.push(event("contentBlockStop", &json!({"contentBlockIndex": 0})));
    if tools {
        events.push(event(
            "contentBlockStart",
            &json!({"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": "tooluse_mock_1", "name": "get_weather"}}}),
        ));
        for piece in split_pieces("{\"city\": \"Paris\"}", call.chunks) {
            events.push(event("contentBlockDelta", &json!({"contentBlockIndex": 1, "delta": {"toolUse": {"input": piece}}})));
        }
        events.push(event("contentBlockStop", &json!({"contentBlockIndex": 1})));
    }
    events.push(event("messageStop", &json!({"stopReason": if tools { "tool_use" } else { "end_turn" }})));
    events.push(event("metadata", &json!({"usage": usage(call.body, output), "metrics": {"latencyMs": 1}})));
    if call.model.contains("cut-stream") {
        // The connection ends inside the stop frame.
        let n = events.len();
        events.truncate(n - 1);
        if let Some(last) = events.last_mut() {
            *last = last.slice(..last.len() / 2);
        }
    }
    let mut r = stream_events(events, call.interval, None, call.stats.clone());
    r.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/vnd.amazon.eventstream"));
    r
}

/// `/invoke` for `amazon.titan-embed-*` and `cohere.embed-*`.
pub(crate) fn invoke(call: &Call<'_>) -> Response<Body> {
    let vector = |t: &str| -> Vec<f64> { (0..8).map(|d| ((t.len() * 31 + d * 7) % 200) as f64 / 100.0 - 1.0).collect() };
    if call.model.starts_with("amazon.titan-embed") {
        let Some(t) = call.body.get("inputText").and_then(Value::as_str) else { return error(400, "inputText: required") };
        return full(StatusCode::OK, json!({"embedding": vector(t), "inputTextTokenCount": t.len().div_ceil(4)}).to_string());
    }
    if call.model.starts_with("cohere.embed") {
        let Some(texts) = call.body.get("texts").and_then(Value::as_array) else { return error(400, "texts: required") };
        let embeddings: Vec<Vec<f64>> = texts.iter().map(|t| vector(t.as_str().unwrap_or(""))).collect();
        return full(StatusCode::OK, json!({"embeddings": embeddings, "id": "mock", "texts": texts}).to_string());
    }
    error(400, &format!("the mock has no InvokeModel format for {}", call.model))
}
