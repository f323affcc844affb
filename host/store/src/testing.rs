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

/// A private PostgreSQL server for tests that stop and restart the database
/// (never the machine's shared one): `initdb` into a temporary directory and
/// `pg_ctl` on a free port, from the installed server binaries. Run as the
/// `postgres` user when the tests run as root (PostgreSQL refuses root).
#[derive(Debug)]
pub struct OwnPostgres {
    /// `postgres://postgres@127.0.0.1:<port>/postgres`.
    pub url: String,
    dir: std::path::PathBuf,
    bin: std::path::PathBuf,
    port: u16,
}

fn pg_bin_dir() -> std::path::PathBuf {
    if let Ok(d) = std::env::var("TIANJI_PG_BIN") {
        return d.into();
    }
    let mut found: Vec<std::path::PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path().join("bin")).filter(|p| p.join("initdb").exists()).collect())
        .unwrap_or_default();
    found.sort();
    found.pop().unwrap_or_else(|| {
        panic!("PostgreSQL server binaries (initdb, pg_ctl) not found under /usr/lib/postgresql: install the postgresql package or set TIANJI_PG_BIN")
    })
}

fn is_root() -> bool {
    std::process::Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

impl OwnPostgres {
    /// Creates and starts a cluster.
    pub fn start() -> OwnPostgres {
        let bin = pg_bin_dir();
        let dir = std::env::temp_dir().join(format!("tianji-pg-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port");
        let pg = OwnPostgres { url: format!("postgres://postgres@127.0.0.1:{port}/postgres"), dir, bin, port };
        if is_root() {
            let status = std::process::Command::new("chown").arg("-R").arg("postgres:postgres").arg(&pg.dir).status();
            assert!(status.is_ok_and(|s| s.success()), "chown {} to postgres failed", pg.dir.display());
        }
        let data = pg.dir.join("data");
        pg.run("initdb", &["-D", &data.to_string_lossy(), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"]);
        pg.resume();
        pg
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let exe = self.bin.join(tool);
        let mut cmd = if is_root() {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            std::process::Command::new(&exe)
        };
        let out = cmd.args(args).output().unwrap_or_else(|e| panic!("{}: {e}", exe.display()));
        assert!(
            out.status.success(),
            "{tool} {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts the server (again) and waits until it accepts connections.
    pub fn resume(&self) {
        let data = self.dir.join("data");
        let opts = format!("-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off", self.port, self.dir.display());
        let log = self.dir.join("log");
        self.run("pg_ctl", &["-D", &data.to_string_lossy(), "-o", &opts, "-l", &log.to_string_lossy(), "-w", "start"]);
    }

    /// Stops the server at once (`-m immediate`: connections die, as in a crash).
    pub fn kill(&self) {
        let data = self.dir.join("data");
        self.run("pg_ctl", &["-D", &data.to_string_lossy(), "-m", "immediate", "-w", "stop"]);
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let exe = self.bin.join("pg_ctl");
        let mut cmd = if is_root() {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            std::process::Command::new(&exe)
        };
        let _ = cmd.args(["-D", &data.to_string_lossy(), "-m", "immediate", "stop"]).output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
