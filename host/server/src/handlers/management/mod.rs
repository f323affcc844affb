//! The management API (LiteLLM's paths and field names): keys now; teams,
//! users, organizations, customers, budgets and spend reports beside them.
//! Every route needs the master key ([`crate::auth::Admin`]) unless it says
//! otherwise, and a database (there is one whenever a master key is set).

pub mod budgets;
pub mod customers;
pub mod deployments;
pub mod keys;
pub mod organizations;
pub mod spend;
pub mod teams;
pub mod users;

use std::sync::Arc;

use tianji_core::{ErrorKind, GatewayError};
use tianji_store::StoreError;

use crate::access::Access;
use crate::state::AppState;

/// The key layer, or a clear error when the proxy runs without one.
pub fn access(state: &AppState) -> Result<&Arc<Access>, GatewayError> {
    state.access.as_ref().ok_or_else(|| {
        GatewayError::bad_request(
            "No database: set general_settings.master_key (and optionally database_url) to manage keys, teams and users.",
            None,
        )
        .with_type("no_db_connection")
    })
}

/// A store error as the API reports it.
pub fn store_error(e: StoreError) -> GatewayError {
    match e {
        StoreError::NotFound { entity, id } => GatewayError::new(ErrorKind::NotFound, format!("{entity} not found: {id}")),
        StoreError::Conflict(m) => GatewayError::bad_request(m, None).with_status(http::StatusCode::CONFLICT),
        e if e.is_unavailable() => GatewayError::new(ErrorKind::Internal, format!("the database is unreachable: {e}"))
            .with_status(http::StatusCode::SERVICE_UNAVAILABLE)
            .with_retry_after(Some(std::time::Duration::from_secs(1))),
        e => GatewayError::internal(e.to_string()),
    }
}

/// Fails with a 400 naming `field` when a number is negative.
pub fn non_negative<T: PartialOrd + Default + std::fmt::Display + Copy>(field: &str, v: Option<T>) -> Result<(), GatewayError> {
    match v {
        Some(x) if x < T::default() => Err(GatewayError::bad_request(format!("{field} must not be negative (got {x})"), Some(field))),
        _ => Ok(()),
    }
}

/// Pagination as LiteLLM's list routes take it: `page` from 1, `size` up to 100.
pub fn page_bounds(page: Option<i64>, size: Option<i64>) -> Result<(i64, i64), GatewayError> {
    let page = page.unwrap_or(1);
    let size = size.unwrap_or(10);
    if page < 1 {
        return Err(GatewayError::bad_request("page must be at least 1", Some("page")));
    }
    if !(1..=100).contains(&size) {
        return Err(GatewayError::bad_request("size must be between 1 and 100", Some("size")));
    }
    Ok((page, size))
}

/// Parses a LiteLLM duration (`30d`, `1mo`, ...) for `field`, or a 400 naming it.
pub fn parse_span(field: &str, text: &str) -> Result<tianji_store::time::Span, GatewayError> {
    tianji_store::time::parse_duration(text).map_err(|m| GatewayError::bad_request(format!("{field}: {m}"), Some(field)))
}
