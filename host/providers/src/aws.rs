//! AWS request signing (SigV4, with `aws-sigv4`) and credentials for the
//! AWS-hosted providers (Bedrock, SageMaker).
//!
//! Credentials come, in LiteLLM's order, from the deployment's
//! `aws_access_key_id` / `aws_secret_access_key` / `aws_session_token`,
//! then the `AWS_ACCESS_KEY_ID` family of environment variables, then the
//! standard AWS chain (`aws-config`: profile, SSO, web identity, ECS, IMDS).
//! `aws_role_name` assumes that role (STS) on top. Credentials that expire
//! are cached and refreshed five minutes before they do.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwapOption;
use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use http::{HeaderMap, HeaderName, HeaderValue, Uri};
use tianji_core::config::Env;
use tianji_core::{ErrorKind, GatewayError};
use tokio::sync::OnceCell;

use crate::registry::DeploymentSpec;

/// `litellm_params` keys the AWS providers read.
pub const AWS_PARAMS: &[&str] = &[
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "aws_region_name",
    "aws_role_name",
    "aws_session_name",
    "aws_profile_name",
    "aws_bedrock_runtime_endpoint",
    "aws_sagemaker_runtime_endpoint",
];

/// Region used when neither the deployment nor the environment names one (LiteLLM's default).
pub const DEFAULT_REGION: &str = "us-west-2";

/// How long before expiry cached credentials are refreshed.
const REFRESH_BEFORE: Duration = Duration::from_secs(300);

/// Signs requests to one AWS service in one region.
pub struct AwsSigner {
    service: &'static str,
    region: String,
    source: Source,
    cached: ArcSwapOption<aws_smithy_runtime_api::client::identity::Identity>,
    expires: ArcSwapOption<SystemTime>,
}

enum Source {
    Static(Credentials),
    Chain { profile: Option<String>, role: Option<(String, String)>, provider: OnceCell<SharedCredentialsProvider> },
}

fn param(spec: &DeploymentSpec<'_>, key: &str) -> Option<String> {
    spec.params.extra.get(key).and_then(|v| v.as_str()).map(str::to_owned).filter(|s| !s.is_empty())
}

impl AwsSigner {
    /// A signer for `service` from a deployment's params and environment.
    pub fn from_spec(service: &'static str, spec: &DeploymentSpec<'_>) -> Result<Self, String> {
        let env: &Env = spec.env;
        let region = param(spec, "aws_region_name")
            .or_else(|| spec.params.region_name.clone())
            .or_else(|| env.first_of(&["AWS_REGION_NAME", "AWS_REGION", "AWS_DEFAULT_REGION"]))
            .unwrap_or_else(|| {
                tracing::warn!(
                    service,
                    "no AWS region for {}: set aws_region_name or AWS_REGION_NAME; using {DEFAULT_REGION}",
                    spec.upstream_model
                );
                DEFAULT_REGION.to_owned()
            });
        let key = param(spec, "aws_access_key_id").or_else(|| env.get("AWS_ACCESS_KEY_ID"));
        let secret = param(spec, "aws_secret_access_key").or_else(|| env.get("AWS_SECRET_ACCESS_KEY"));
        let token = param(spec, "aws_session_token").or_else(|| env.get("AWS_SESSION_TOKEN"));
        let role = param(spec, "aws_role_name").map(|r| (r, param(spec, "aws_session_name").unwrap_or_else(|| "tianji".to_owned())));
        let source = match (key, secret) {
            (Some(k), Some(s)) if role.is_none() => Source::Static(Credentials::new(k, s, token, None, "tianji-config")),
            (Some(_), None) | (None, Some(_)) => {
                return Err("aws_access_key_id and aws_secret_access_key must be given together".to_owned());
            }
            _ => Source::Chain { profile: param(spec, "aws_profile_name"), role, provider: OnceCell::new() },
        };
        Ok(Self { service, region, source, cached: ArcSwapOption::empty(), expires: ArcSwapOption::empty() })
    }

    /// The region signed for.
    pub fn region(&self) -> &str {
        &self.region
    }

    async fn identity(&self) -> Result<Arc<aws_smithy_runtime_api::client::identity::Identity>, GatewayError> {
        let fresh = self.expires.load().as_deref().is_none_or(|at| SystemTime::now() + REFRESH_BEFORE < *at);
        if let Some(id) = self.cached.load_full()
            && fresh
        {
            return Ok(id);
        }
        let creds = match &self.source {
            Source::Static(c) => c.clone(),
            Source::Chain { profile, role, provider } => {
                let provider = provider.get_or_init(|| chain(self.region.clone(), profile.clone(), role.clone())).await;
                provider.provide_credentials().await.map_err(|e| {
                    GatewayError::new(ErrorKind::Authentication, format!("no AWS credentials for {}: {e}", self.service))
                        .with_provider(self.service)
                })?
            }
        };
        self.expires.store(creds.expiry().map(Arc::new));
        let id = Arc::new(aws_smithy_runtime_api::client::identity::Identity::from(creds));
        self.cached.store(Some(id.clone()));
        Ok(id)
    }

    /// Adds the SigV4 headers (`authorization`, `x-amz-date`,
    /// `x-amz-security-token`) for a request with `headers` and `body`.
    pub async fn sign(&self, method: &str, uri: &Uri, headers: &mut HeaderMap, body: &[u8]) -> Result<(), GatewayError> {
        let identity = self.identity().await?;
        let failed = |e: &dyn std::fmt::Display| GatewayError::internal(format!("cannot sign the {} request: {e}", self.service));
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(self.service)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| failed(&e))?
            .into();
        let host = uri.authority().map(|a| a.as_str()).unwrap_or("");
        let mut signed: Vec<(&str, &str)> = vec![("host", host), ("content-type", "application/json")];
        signed.extend(headers.iter().filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str(), v))));
        let request =
            SignableRequest::new(method, uri.to_string(), signed.into_iter(), SignableBody::Bytes(body)).map_err(|e| failed(&e))?;
        let (instructions, _) = sign(request, &params).map_err(|e| failed(&e))?.into_parts();
        let (new_headers, _) = instructions.into_parts();
        for h in new_headers {
            let name = HeaderName::from_bytes(h.name().as_bytes()).map_err(|e| failed(&e))?;
            let value = HeaderValue::from_str(h.value()).map_err(|e| failed(&e))?;
            headers.insert(name, value);
        }
        Ok(())
    }
}

/// The standard AWS credential chain, with an assumed role on top when asked.
async fn chain(region: String, profile: Option<String>, role: Option<(String, String)>) -> SharedCredentialsProvider {
    let region = aws_config::Region::new(region);
    let mut builder = aws_config::default_provider::credentials::DefaultCredentialsChain::builder().region(region.clone());
    if let Some(p) = &profile {
        builder = builder.profile_name(p);
    }
    let base = SharedCredentialsProvider::new(builder.build().await);
    match role {
        None => base,
        Some((role, session)) => SharedCredentialsProvider::new(
            aws_config::sts::AssumeRoleProvider::builder(role).session_name(session).region(region).build_from_provider(base).await,
        ),
    }
}

/// Percent-encodes a model id or endpoint name for a URL path segment
/// (`:` and `/` of inference-profile ARNs included).
pub fn encode_path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One decoded AWS event-stream message: its `:message-type`,
/// `:event-type` / `:exception-type` and JSON payload.
#[derive(Debug, Clone)]
pub struct EventMessage {
    /// `event` or `exception` (or `error`).
    pub message_type: String,
    /// `:event-type` for events, `:exception-type` (or `:error-code`) otherwise.
    pub name: String,
    /// The payload.
    pub payload: bytes::Bytes,
}

/// The messages of an `application/vnd.amazon.eventstream` body; a body
/// that ends inside a frame, or a frame whose checksum fails, is an error.
pub fn event_stream_messages(
    resp: http::Response<hyper::body::Incoming>,
) -> impl futures::Stream<Item = Result<EventMessage, String>> + Send + Unpin + 'static {
    use aws_smithy_eventstream::frame::{DecodedFrame, MessageFrameDecoder};
    use futures::StreamExt;
    let body = http_body_util::BodyDataStream::new(resp.into_body());
    let state = (body, bytes::BytesMut::new(), MessageFrameDecoder::new(), false);
    Box::pin(futures::stream::unfold(state, |(mut body, mut buf, mut decoder, done)| async move {
        if done {
            return None;
        }
        loop {
            match decoder.decode_frame(&mut buf) {
                Ok(DecodedFrame::Complete(m)) => {
                    let header = |name: &str| {
                        m.headers()
                            .iter()
                            .find(|h| h.name().as_str() == name)
                            .and_then(|h| h.value().as_string().ok())
                            .map(|s| s.as_str().to_owned())
                    };
                    let message_type = header(":message-type").unwrap_or_else(|| "event".to_owned());
                    let name =
                        header(":event-type").or_else(|| header(":exception-type")).or_else(|| header(":error-code")).unwrap_or_default();
                    let msg = EventMessage { message_type, name, payload: m.payload().clone() };
                    return Some((Ok(msg), (body, buf, decoder, false)));
                }
                Ok(DecodedFrame::Incomplete) => {}
                Err(e) => return Some((Err(format!("malformed event-stream frame: {e}")), (body, buf, decoder, true))),
            }
            match body.next().await {
                Some(Ok(chunk)) => buf.extend_from_slice(&chunk),
                Some(Err(e)) => return Some((Err(format!("stream interrupted: {e}")), (body, buf, decoder, true))),
                None if buf.is_empty() => return None,
                None => {
                    return Some((
                        Err(format!("the stream ended inside a frame ({} bytes left over)", buf.len())),
                        (body, buf, decoder, true),
                    ));
                }
            }
        }
    }))
}
