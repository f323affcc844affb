//! Google's OAuth2 for Vertex AI: a service account the mock trusts and the
//! check of the token calls carry.
//!
//! `google-cloud-auth` authenticates a service-account key with a
//! self-signed JWT (RS256; `iss` the account's e-mail, `scope` the scopes)
//! sent as the bearer token, which Google APIs accept instead of an
//! exchanged access token. The mock verifies that JWT's signature against
//! the account's public key, so a token signed with any other key is
//! refused, as Google refuses it.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{self, KeyPair as _, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

/// The scope Vertex AI calls need.
const CLOUD_PLATFORM: &str = "https://www.googleapis.com/auth/cloud-platform";

/// A service account whose tokens the mock accepts.
#[derive(Debug, Clone)]
pub struct GoogleServiceAccount {
    /// `client_email` of the account.
    pub client_email: String,
    /// The RSA public key (DER `RSAPublicKey`).
    public_key: Vec<u8>,
}

/// A new service account for `project`: its key file (as Google issues it)
/// and the account the mock trusts.
///
/// # Panics
/// When the RSA key cannot be generated (test set-up).
pub fn service_account(project: &str) -> (Value, GoogleServiceAccount) {
    #[allow(clippy::expect_used)]
    let key = KeyPair::generate(KeySize::Rsa2048).expect("RSA key generation");
    #[allow(clippy::expect_used)]
    let pkcs8 = key.as_der().expect("PKCS#8 encoding");
    let body = STANDARD.encode(pkcs8.as_ref());
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    let client_email = format!("tianji-test@{project}.iam.gserviceaccount.com");
    let file = json!({
        "type": "service_account",
        "project_id": project,
        "private_key_id": "mock-key-1",
        "private_key": pem,
        "client_email": client_email,
        "client_id": "100000000000000000001",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token",
        "universe_domain": "googleapis.com",
    });
    (file, GoogleServiceAccount { client_email, public_key: key.public_key().as_ref().to_vec() })
}

/// Checks `Authorization: Bearer <jwt>`: signed by `account`'s key, issued
/// by it, not expired, with the cloud-platform scope.
pub fn verify(authorization: Option<&str>, account: &GoogleServiceAccount) -> Result<(), String> {
    let token = authorization.and_then(|a| a.strip_prefix("Bearer ")).ok_or("Request is missing required authentication credential")?;
    let mut parts = token.split('.');
    let (Some(header), Some(claims), Some(sig), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err("Request had invalid authentication credentials: not a JWT".to_owned());
    };
    let decode = |p: &str| URL_SAFE_NO_PAD.decode(p).map_err(|_| "Request had invalid authentication credentials: bad base64".to_owned());
    let header: Value = serde_json::from_slice(&decode(header)?).map_err(|e| format!("invalid JWT header: {e}"))?;
    if header["alg"] != "RS256" {
        return Err(format!("unsupported JWT alg {}", header["alg"]));
    }
    let signed = &token[..token.len() - sig.len() - 1];
    UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &account.public_key)
        .verify(signed.as_bytes(), &decode(sig)?)
        .map_err(|_| "Request had invalid authentication credentials: invalid JWT signature".to_owned())?;
    let claims: Value = serde_json::from_slice(&decode(claims)?).map_err(|e| format!("invalid JWT claims: {e}"))?;
    if claims["iss"] != account.client_email.as_str() {
        return Err(format!("JWT issuer {} is not {}", claims["iss"], account.client_email));
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    if claims["exp"].as_u64().is_none_or(|exp| exp <= now) {
        return Err("Request had invalid authentication credentials: the JWT has expired".to_owned());
    }
    let scoped = claims["scope"].as_str().is_some_and(|s| s.split(' ').any(|s| s == CLOUD_PLATFORM));
    if !scoped && claims["aud"].as_str().is_none() {
        return Err("Request had insufficient authentication scopes.".to_owned());
    }
    Ok(())
}
