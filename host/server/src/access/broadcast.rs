//! Tells every instance that a key, team, user, end user, budget or
//! organization changed, so a `/key/block` on one instance takes effect on
//! all of them at once instead of after their cache TTL. Over Redis pub/sub
//! when Redis is configured; with one instance, the local invalidation is
//! all there is.

use std::sync::Weak;
use std::time::Duration;

use futures::StreamExt;
use redis::aio::ConnectionManager;

use super::Access;

/// The pub/sub channel.
pub const CHANNEL: &str = "tianji:invalidate";

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A key (by hash).
    Key,
    /// A team.
    Team,
    /// A user.
    User,
    /// An end user.
    EndUser,
    /// A budget.
    Budget,
    /// An organization.
    Organization,
    /// The stored models (`/model/new`, ...); the id is unused.
    Models,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Key => "key",
            Kind::Team => "team",
            Kind::User => "user",
            Kind::EndUser => "end_user",
            Kind::Budget => "budget",
            Kind::Organization => "organization",
            Kind::Models => "models",
        }
    }

    fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "key" => Kind::Key,
            "team" => Kind::Team,
            "user" => Kind::User,
            "end_user" => Kind::EndUser,
            "budget" => Kind::Budget,
            "organization" => Kind::Organization,
            "models" => Kind::Models,
            _ => return None,
        })
    }
}

/// Publishes changes to the other instances.
pub struct Broadcast {
    conn: ConnectionManager,
    background: tokio::runtime::Handle,
}

impl Broadcast {
    /// Publishes on `conn`, from `background`.
    pub fn new(conn: ConnectionManager, background: tokio::runtime::Handle) -> Self {
        Self { conn, background }
    }

    /// Announces a change (without waiting).
    pub fn publish(&self, kind: Kind, id: &str) {
        let message = format!("{}:{id}", kind.as_str());
        let mut conn = self.conn.clone();
        self.background.spawn(async move {
            let sent: redis::RedisResult<i64> = redis::cmd("PUBLISH").arg(CHANNEL).arg(&message).query_async(&mut conn).await;
            if let Err(e) = sent {
                tracing::warn!(error = %e, "could not announce a change to other instances; they will see it after their cache TTL");
            }
        });
    }
}

/// Listens for other instances' changes until `access` is dropped,
/// reconnecting after errors.
pub async fn listen(client: redis::Client, access: Weak<Access>) {
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => {
                if let Err(e) = pubsub.subscribe(CHANNEL).await {
                    tracing::warn!(error = %e, "could not subscribe to cache invalidations");
                } else {
                    let mut messages = pubsub.on_message();
                    while let Some(msg) = messages.next().await {
                        let Some(access) = access.upgrade() else { return };
                        let Ok(text) = msg.get_payload::<String>() else { continue };
                        if let Some((kind, id)) = text.split_once(':')
                            && let Some(kind) = Kind::parse(kind)
                        {
                            access.forget(kind, id);
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "Redis unreachable for cache invalidations; retrying"),
        }
        if access.upgrade().is_none() {
            return;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
