//! Starting and stopping a demo app.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::http::Client;
use crate::port::free_port;

/// Which framework's demo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framework {
    /// `integrations/examples/poem_demo.rs`
    Poem,
    /// `integrations/examples/rocket_demo.rs`
    Rocket,
}

impl Framework {
    fn example(self) -> &'static str {
        match self {
            Self::Poem => "poem_demo",
            Self::Rocket => "rocket_demo",
        }
    }
}

/// A running demo process with its own working directory and `Session.toml`.
pub struct DemoApp {
    child: Child,
    port: u16,
    /// The demo's working directory (holds `Session.toml` and, for the
    /// filesystem backend, the session files).
    pub dir: tempfile::TempDir,
}

/// Where cargo put the example binaries: beside the test binary's `deps`,
/// unless `DEMO_EXAMPLES_DIR` names another directory (demos built apart,
/// such as a copy that a concurrent build into a shared target dir cannot
/// replace mid-run).
pub fn example_path(name: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os("DEMO_EXAMPLES_DIR") {
        return PathBuf::from(dir).join(name);
    }
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap();
    profile_dir.join("examples").join(name)
}

impl DemoApp {
    /// Starts the demo with `session_toml` as its configuration and extra
    /// environment variables, and waits until `/plain` answers.
    pub fn start(framework: Framework, session_toml: &str, env: &[(&str, &str)]) -> Self {
        match Self::try_start(framework, session_toml, env) {
            Ok(app) => app,
            Err(output) => panic!("the {framework:?} demo did not start:\n{output}"),
        }
    }

    /// Like [`DemoApp::start`], but returns what the process printed if it exits
    /// before answering.
    pub fn try_start(
        framework: Framework, session_toml: &str, env: &[(&str, &str)],
    ) -> Result<Self, String> {
        let binary = example_path(framework.example());
        assert!(
            binary.exists(),
            "{} is missing: run the README's test command, or `cargo build -p session-integrations --examples --all-features`",
            binary.display()
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Session.toml"), session_toml).unwrap();
        let port = free_port();
        let mut command = Command::new(&binary);
        command
            .current_dir(dir.path())
            .env("PORT", port.to_string())
            .env("ROCKET_PORT", port.to_string())
            .env("RUST_LOG", "warn")
            .env_remove("SESSION_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("SESSION_")) {
            command.env_remove(key);
        }
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command.spawn().unwrap();
        let mut app = Self { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = app.child.try_wait() {
                return Err(app.output());
            }
            if let Ok(response) = app.client().try_get("/plain") {
                if response.status == 200 {
                    return Ok(app);
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!("no answer on /plain within 20 s\n{}", app.output()))
    }

    /// Runs the demo expecting it to refuse to start; returns its exit output.
    pub fn expect_startup_failure(
        framework: Framework, session_toml: &str, env: &[(&str, &str)],
    ) -> String {
        match Self::try_start(framework, session_toml, env) {
            Ok(_) => panic!("the {framework:?} demo started with an invalid configuration"),
            Err(output) => output,
        }
    }

    /// A new client with an empty cookie jar.
    pub fn client(&self) -> Client {
        Client::new(self.port)
    }

    /// A new API client that carries its sid in the session header `name`
    /// (sent empty until a response gives it a sid), with no cookie jar.
    pub fn header_client(&self, name: &str) -> Client {
        Client::with_session_header(self.port, name)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The demo process's id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn output(&mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut out = String::new();
        if let Some(mut stdout) = self.child.stdout.take() {
            let _ = stdout.read_to_string(&mut out);
        }
        if let Some(mut stderr) = self.child.stderr.take() {
            let _ = stderr.read_to_string(&mut out);
        }
        out
    }
}

impl Drop for DemoApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
