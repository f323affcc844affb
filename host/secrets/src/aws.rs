//! AWS Secrets Manager, through `aws-sdk-secretsmanager`.
//!
//! Region: `key_management_settings.aws_region_name`, else
//! `AWS_REGION_NAME`, `AWS_REGION`, `AWS_DEFAULT_REGION`, else the SDK's
//! own resolution. Credentials: `AWS_ACCESS_KEY_ID` /
//! `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN` when set, else the
//! standard AWS chain (`aws_profile_name` picks a profile), with
//! `aws_role_name` assumed on top. `AWS_ENDPOINT_URL_SECRETS_MANAGER` (or
//! `AWS_ENDPOINT_URL`) points at another endpoint. `SecretString` is the
//! value; a `SecretBinary` secret is read as UTF-8.

use async_trait::async_trait;
use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::DisplayErrorContext;
use tianji_core::config::Env;
use tianji_core::config::secrets::SecretSettings;
use tianji_core::traits::{SecretError, SecretManager};

const NAME: &str = "aws_secret_manager";

/// An AWS Secrets Manager client.
pub struct AwsSecretsManager {
    client: Client,
}

impl AwsSecretsManager {
    /// Loads the AWS configuration from the settings and `env`.
    pub async fn connect(settings: &SecretSettings, env: &Env) -> Result<Self, SecretError> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        let region = settings
            .option("aws_region_name")
            .map(str::to_owned)
            .or_else(|| env.first_of(&["AWS_REGION_NAME", "AWS_REGION", "AWS_DEFAULT_REGION"]));
        if let Some(r) = &region {
            loader = loader.region(Region::new(r.clone()));
        }
        if let (Some(id), Some(secret)) = (env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")) {
            loader = loader.credentials_provider(Credentials::new(id, secret, env.get("AWS_SESSION_TOKEN"), None, "tianji-env"));
        } else if let Some(profile) = settings.option("aws_profile_name") {
            loader = loader.profile_name(profile);
        }
        if let Some(url) = env.first_of(&["AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL"]) {
            loader = loader.endpoint_url(url);
        }
        let mut config = loader.load().await;
        if config.region().is_none() {
            return Err(SecretError::new(NAME, "no AWS region: set key_management_settings.aws_region_name or AWS_REGION_NAME"));
        }
        if let Some(role) = settings.option("aws_role_name") {
            let mut assume = aws_config::sts::AssumeRoleProvider::builder(role)
                .session_name(settings.option("aws_session_name").unwrap_or("tianji-secrets"))
                .configure(&config);
            if let Some(id) = settings.option("aws_external_id") {
                assume = assume.external_id(id);
            }
            let provider = assume.build().await;
            config = config
                .into_builder()
                .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(provider))
                .build();
        }
        Ok(Self { client: Client::new(&config) })
    }
}

#[async_trait]
impl SecretManager for AwsSecretsManager {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn get_secret(&self, name: &str) -> Result<Option<String>, SecretError> {
        match self.client.get_secret_value().secret_id(name).send().await {
            Ok(out) => {
                if let Some(s) = out.secret_string() {
                    return Ok(Some(s.to_owned()));
                }
                match out.secret_binary() {
                    Some(b) => String::from_utf8(b.as_ref().to_vec())
                        .map(Some)
                        .map_err(|_| SecretError::new(NAME, format!("secret {name} is binary and not UTF-8 text"))),
                    None => Ok(None),
                }
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => Ok(None),
            Err(e) => Err(SecretError::new(NAME, format!("reading {name}: {}", DisplayErrorContext(&e)))),
        }
    }

    async fn health(&self) -> Result<(), SecretError> {
        self.client
            .list_secrets()
            .max_results(1)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| SecretError::new(NAME, DisplayErrorContext(&e).to_string()))
    }
}
