//! Running the binary, and what several tests share.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use session::{SessionManager, Settings};

/// One run of `sessionctl`.
#[derive(Debug)]
pub struct Run {
    /// The exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// How long the process ran.
    pub elapsed: Duration,
}

impl Run {
    /// Standard output as JSON; fails the test when it does not parse.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("--json output does not parse ({e}): {self:?}"))
    }

    /// Asserts a zero exit.
    pub fn ok(self) -> Self {
        assert_eq!(self.code, 0, "{self:?}");
        self
    }
}

/// Runs `sessionctl args` in `dir` with only `env` as its environment.
pub fn sessionctl(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Run {
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_sessionctl"))
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .current_dir(dir)
        .output()
        .unwrap();
    Run {
        code: output.status.code().unwrap(),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
        elapsed: started.elapsed(),
    }
}

/// A name no other test or run uses, starting with `prefix` and the unix
/// seconds: `conf_` tables of runs older than an hour are dropped by the
/// cross-crate tests when they start.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    format!(
        "{prefix}{secs}_{}_cli{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The settings `env` gives, as the binary reads them (no file).
pub fn settings_of(env: &[(&str, &str)]) -> Settings {
    Settings::builder()
        .env_from(env.iter().copied())
        .build()
        .unwrap()
}

/// A runtime for driving the core from a synchronous test.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A manager over the store `env` selects, for writing sessions the binary
/// then reads.
pub async fn manager(env: &[(&str, &str)]) -> SessionManager {
    let mut settings = settings_of(env);
    settings.cleanup_interval = None;
    SessionManager::from_settings(settings).await.unwrap()
}

/// The SQL servers' test databases (as the cross-crate tests use them).
pub const POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/sessions_test";
/// MariaDB's.
pub const MARIADB_URL: &str = "mysql://root@127.0.0.1:3306/sessions_test";
