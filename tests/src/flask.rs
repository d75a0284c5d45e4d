//! Starting the Flask app of `tests/flask_app/app.py`, on the real
//! Flask-Session 0.8.0, for the interop tests (`tests/tests/interop.rs`).
//!
//! The app runs from the venv that `scripts/services.sh` (`ensure_flask`)
//! makes in the build directory. It is configured by the same `SESSION_*`
//! variables as the Rust side, and listens on a free loopback port.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::http::Client;

/// The workspace root.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The venv's Python: `$FLASK_PYTHON`, else `venv-flask` in
/// `$SESSION_TEST_STATE` or `target/test-services`, as `scripts/services.sh`
/// makes it.
pub fn python() -> PathBuf {
    if let Some(python) = std::env::var_os("FLASK_PYTHON") {
        return PathBuf::from(python);
    }
    let state = std::env::var_os("SESSION_TEST_STATE")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/test-services"));
    state.join("venv-flask/bin/python")
}

/// A running Flask app with its own working directory, which holds its log.
pub struct FlaskApp {
    child: Child,
    port: u16,
    /// The app's working directory (`flask.log` is its output).
    pub dir: tempfile::TempDir,
}

impl FlaskApp {
    /// Starts the app with `env` (the `SESSION_*` configuration; every other
    /// `SESSION_*` variable of this process is removed) and waits until
    /// `/health` answers.
    pub fn start(env: &[(&str, String)]) -> Self {
        let python = python();
        assert!(
            python.exists(),
            "{} is missing: run the README's test command, or `bash scripts/services.sh`",
            python.display()
        );
        let dir = tempfile::tempdir().unwrap();
        let log = File::create(dir.path().join("flask.log")).unwrap();
        let port = crate::port::free_port();
        let mut command = Command::new(&python);
        command
            .arg(workspace_root().join("tests/flask_app/app.py"))
            .current_dir(dir.path())
            .env("FLASK_PORT", port.to_string())
            .env("PYTHONUNBUFFERED", "1")
            .env("PYTHONWARNINGS", "ignore::DeprecationWarning")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("SESSION_")) {
            command.env_remove(key);
        }
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command.spawn().unwrap();
        let mut app = Self { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = app.child.try_wait() {
                panic!("the Flask app exited ({status}):\n{}", app.log());
            }
            if let Ok(response) = app.client().try_get("/health") {
                if response.status == 200 {
                    return app;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the Flask app did not answer within 30 s:\n{}", app.log());
    }

    /// A new client with an empty cookie jar.
    pub fn client(&self) -> Client {
        Client::new(self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// What the app has printed so far.
    pub fn log(&self) -> String {
        let mut out = String::new();
        if let Ok(mut file) = File::open(self.dir.path().join("flask.log")) {
            let _ = file.read_to_string(&mut out);
        }
        out
    }

    /// Asks the app to end `pids` and remove `dirs` (and its own directory)
    /// when this test process goes away without dropping it: the app watches
    /// its parent, so nothing outlives a test binary that was killed or that
    /// keeps its fixtures in statics.
    pub fn reap_with_me(&self, pids: &[u32], dirs: &[&Path]) {
        let quote = |path: &Path| format!("{:?}", path.display().to_string());
        let dirs: Vec<String> = dirs
            .iter()
            .copied()
            .chain([self.dir.path()])
            .map(quote)
            .collect();
        let pids: Vec<String> = pids.iter().map(u32::to_string).collect();
        let body = format!(
            "{{\"pids\":[{}],\"dirs\":[{}]}}",
            pids.join(","),
            dirs.join(",")
        );
        let response = self.client().send("POST", "/reap", &body).unwrap();
        assert_eq!(response.status, 204, "{}", response.body);
    }
}

impl Drop for FlaskApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
