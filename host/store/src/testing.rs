//! Throwaway PostgreSQL databases for tests: each test gets its own
//! database on the machine's server, dropped when the guard goes.

use sqlx::Connection;

/// The server tests use: `TIANJI_TEST_POSTGRES` or the local one.
pub fn server_url() -> String {
    std::env::var("TIANJI_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A database created for one test; dropped (with its connections) on drop.
#[derive(Debug)]
pub struct TempDatabase {
    /// Its URL.
    pub url: String,
    name: String,
}

fn admin_url_for(server: &str) -> String {
    server.to_owned()
}

impl TempDatabase {
    /// Creates an empty database. Panics, saying how to start PostgreSQL, when the server is down.
    pub async fn create() -> TempDatabase {
        let server = server_url();
        let mut conn = sqlx::PgConnection::connect(&admin_url_for(&server)).await.unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is not reachable at {server} ({e}). Start it (e.g. `service postgresql start`) or set TIANJI_TEST_POSTGRES to a server URL where user postgres may create databases."
            )
        });
        let name = format!("tianji_test_{}", uuid::Uuid::new_v4().simple());
        sqlx::Executor::execute(&mut conn, sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        let _ = conn.close().await;
        let base = server.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap_or(server);
        TempDatabase { url: format!("{base}/{name}"), name }
    }
}

impl Drop for TempDatabase {
    fn drop(&mut self) {
        let server = server_url();
        let name = self.name.clone();
        // Drop runs outside any runtime guarantee: use a short-lived one on its own thread.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            rt.block_on(async move {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&server).await {
                    let _ = sqlx::Executor::execute(&mut conn, sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                        .await;
                    let _ = conn.close().await;
                }
            });
        })
        .join();
    }
}
