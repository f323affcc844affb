//! Outbound HTTP from a plugin, through `wasi:http/outgoing-handler`.
//!
//! The proxy lets a plugin reach only the hosts its manifest lists under
//! `allowed_hosts`; anything else fails with [`HttpError::Denied`]. Calls are
//! blocking from the plugin's point of view (the host stays asynchronous) and
//! count against the plugin's call deadline.
//!
//! ```ignore
//! let resp = tianji_plugin_sdk::http::post_json(
//!     "https://guard.example.com/v1/check",
//!     &[("authorization", "Bearer ...")],
//!     &serde_json::json!({"text": "hi"}),
//! )?;
//! let verdict: serde_json::Value = resp.json()?;
//! ```

use wasip2::http::outgoing_handler;
use wasip2::http::types::{ErrorCode, Fields, Method, OutgoingBody, OutgoingRequest, Scheme};
use wasip2::io::streams::StreamError;

/// A response: status, headers and the whole body.
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// Headers, names lower-case.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// The body parsed as JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, HttpError> {
        serde_json::from_slice(&self.body).map_err(|e| HttpError::Body(format!("response is not the expected JSON: {e}")))
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Why a request failed.
#[derive(Debug, Clone)]
pub enum HttpError {
    /// The URL could not be parsed.
    Url(String),
    /// The operator did not allow this host.
    Denied,
    /// Connecting, sending or receiving failed.
    Transport(String),
    /// The body could not be read or parsed.
    Body(String),
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::Url(e) => write!(f, "invalid URL: {e}"),
            HttpError::Denied => write!(f, "the host is not in this plugin's allowed_hosts"),
            HttpError::Transport(e) => write!(f, "HTTP request failed: {e}"),
            HttpError::Body(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for HttpError {}

impl From<HttpError> for String {
    fn from(e: HttpError) -> String {
        e.to_string()
    }
}

fn transport(e: ErrorCode) -> HttpError {
    match e {
        ErrorCode::HttpRequestDenied => HttpError::Denied,
        other => HttpError::Transport(format!("{other:?}")),
    }
}

/// Splits `scheme://authority/path?query`.
fn split_url(url: &str) -> Result<(Scheme, &str, &str), HttpError> {
    let (scheme, rest) = url.split_once("://").ok_or_else(|| HttpError::Url(format!("{url:?} has no scheme")))?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "https" => Scheme::Https,
        "http" => Scheme::Http,
        other => return Err(HttpError::Url(format!("unsupported scheme {other:?}"))),
    };
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        return Err(HttpError::Url(format!("{url:?} has no host")));
    }
    Ok((scheme, authority, if path.starts_with('?') { "/" } else { path }))
}

/// Sends a request and reads the whole response.
pub fn request(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Result<Response, HttpError> {
    let (scheme, authority, path) = split_url(url)?;
    let path = if let Some(q) = url.split_once('?').map(|(_, q)| q).filter(|_| !path.contains('?')) {
        format!("{path}?{q}")
    } else {
        path.to_string()
    };
    let mut entries: Vec<(String, Vec<u8>)> = headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.as_bytes().to_vec())).collect();
    // A known length, not chunked encoding: some servers refuse chunked bodies.
    if let Some(b) = body
        && !entries.iter().any(|(k, _)| k == "content-length")
    {
        entries.push(("content-length".into(), b.len().to_string().into_bytes()));
    }
    let fields = Fields::from_list(&entries).map_err(|e| HttpError::Url(format!("invalid header: {e:?}")))?;
    let req = OutgoingRequest::new(fields);
    let method = match method.to_ascii_uppercase().as_str() {
        "GET" => Method::Get,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "PATCH" => Method::Patch,
        "HEAD" => Method::Head,
        other => Method::Other(other.to_string()),
    };
    let bad = |what: &str| HttpError::Url(format!("invalid {what}"));
    req.set_method(&method).map_err(|_| bad("method"))?;
    req.set_scheme(Some(&scheme)).map_err(|_| bad("scheme"))?;
    req.set_authority(Some(authority)).map_err(|_| bad("authority"))?;
    req.set_path_with_query(Some(&path)).map_err(|_| bad("path"))?;
    let out_body = req.body().map_err(|_| HttpError::Transport("request body already taken".into()))?;
    let pending = outgoing_handler::handle(req, None).map_err(transport)?;
    // If the host refuses the request (a host not allowed, a refused
    // connection) the body stream closes; the response future says why.
    let mut write_error = None;
    {
        let stream = out_body.write().map_err(|_| HttpError::Transport("request body stream unavailable".into()))?;
        for chunk in body.unwrap_or_default().chunks(4096) {
            if let Err(e) = stream.blocking_write_and_flush(chunk) {
                write_error = Some(HttpError::Transport(format!("writing the body: {e:?}")));
                break;
            }
        }
    }
    if write_error.is_none() {
        OutgoingBody::finish(out_body, None).map_err(transport)?;
    }
    pending.subscribe().block();
    let outcome = pending.get();
    if let (Some(e), Some(Ok(Ok(_))) | None) = (write_error, &outcome) {
        return Err(e);
    }
    let resp = match outcome {
        Some(Ok(Ok(resp))) => resp,
        Some(Ok(Err(e))) => return Err(transport(e)),
        Some(Err(())) | None => return Err(HttpError::Transport("no response".into())),
    };
    let status = resp.status();
    let headers = resp.headers().entries().into_iter().map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned())).collect();
    let incoming = resp.consume().map_err(|_| HttpError::Body("response body unavailable".into()))?;
    let mut bytes = Vec::new();
    {
        let stream = incoming.stream().map_err(|_| HttpError::Body("response body stream unavailable".into()))?;
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) => bytes.extend_from_slice(&chunk),
                Err(StreamError::Closed) => break,
                Err(e) => return Err(HttpError::Body(format!("reading the body: {e:?}"))),
            }
        }
    }
    Ok(Response { status, headers, body: bytes })
}

/// `POST`s a JSON body with `content-type: application/json`.
pub fn post_json(url: &str, headers: &[(&str, &str)], body: &serde_json::Value) -> Result<Response, HttpError> {
    let mut all: Vec<(&str, &str)> = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    request("POST", url, &all, Some(body.to_string().as_bytes()))
}

/// `GET`s a URL.
pub fn get(url: &str, headers: &[(&str, &str)]) -> Result<Response, HttpError> {
    request("GET", url, headers, None)
}
