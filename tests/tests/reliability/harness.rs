//! What the reliability tests share: a demo process whose output goes to a
//! file (a pipe nobody reads would fill up under thousands of logged 503s and
//! stall the demo), a keep-alive HTTP/1.1 client on tokio with a one-cookie
//! jar, and latency figures.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use session_tests::demo::{example_path, Framework};
use session_tests::port::free_port;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// The tests of this binary run one at a time: each measures latencies and
/// recovery times that a neighbour's load would distort.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A runtime for the load clients. Two workers: the machine has two cores,
/// which the demo and the backend share with the clients.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// How a demo process is started.
#[derive(Default)]
pub struct DemoOptions<'a> {
    /// Extra environment variables.
    pub env: &'a [(&'a str, &'a str)],
    /// Run it as this user and group (the test runs as root).
    pub user: Option<(u32, u32)>,
    /// The working directory; a new temp dir when `None`.
    pub dir: Option<&'a Path>,
}

/// A demo app process (`integrations/examples/*_demo.rs`) on a free port,
/// its stdout and stderr in `demo.log` of its working directory. Killed on
/// drop.
pub struct Demo {
    child: Child,
    port: u16,
    framework: Framework,
    log: PathBuf,
    started: Instant,
    _dir: Option<tempfile::TempDir>,
}

impl Demo {
    /// Starts it with `session_toml` and waits until `/plain` answers.
    pub fn start(framework: Framework, session_toml: &str) -> Self {
        Self::start_with(framework, session_toml, DemoOptions::default())
    }

    /// Starts it with options and waits until `/plain` answers.
    pub fn start_with(framework: Framework, session_toml: &str, options: DemoOptions<'_>) -> Self {
        let mut binary = example_path(match framework {
            Framework::Poem => "poem_demo",
            Framework::Rocket => "rocket_demo",
        });
        assert!(
            binary.exists(),
            "{} is missing: run scripts/test.sh, or `cargo build -p session-integrations --examples --all-features`",
            binary.display()
        );
        let owned = match options.dir {
            Some(_) => None,
            None => Some(tempfile::tempdir().unwrap()),
        };
        let dir = options
            .dir
            .map(Path::to_owned)
            .unwrap_or_else(|| owned.as_ref().unwrap().path().to_owned());
        std::fs::write(dir.join("Session.toml"), session_toml).unwrap();
        if options.user.is_some() {
            // The clone's target dir may not be reachable by another user.
            let copy = dir.join(binary.file_name().unwrap());
            if !copy.exists() {
                std::fs::copy(&binary, &copy).unwrap();
            }
            binary = copy;
        }
        let log = dir.join("demo.log");
        let out = File::options()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let port = free_port();
        let mut command = Command::new(&binary);
        command
            .current_dir(&dir)
            .env("PORT", port.to_string())
            .env("ROCKET_PORT", port.to_string())
            .env("RUST_LOG", "warn")
            .env_remove("SESSION_CONFIG")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("SESSION_")) {
            command.env_remove(key);
        }
        for (key, value) in options.env {
            command.env(key, value);
        }
        if let Some((uid, gid)) = options.user {
            use std::os::unix::process::CommandExt;
            command.uid(uid).gid(gid);
        }
        let child = command.spawn().unwrap();
        let mut demo = Self {
            child,
            port,
            framework,
            log,
            started: Instant::now(),
            _dir: owned,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = demo.child.try_wait() {
                panic!(
                    "the {framework:?} demo exited at start-up ({status}):\n{}",
                    demo.log()
                );
            }
            if let Ok(response) = session_tests::http::Client::new(port).try_get("/plain") {
                if response.status == 200 {
                    demo.started = Instant::now();
                    return demo;
                }
            }
            assert!(
                Instant::now() < deadline,
                "the {framework:?} demo did not answer /plain within 30 s:\n{}",
                demo.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Which framework.
    pub fn framework(&self) -> Framework {
        self.framework
    }

    /// A new keep-alive client with an empty jar.
    pub fn conn(&self) -> Conn {
        Conn::new(self.port)
    }

    /// Whether the process is still alive.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Everything it printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL, as a crash: no destructor, no flush, no goodbye.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Asserts that the process is alive and never panicked, and returns how
    /// long it has been up.
    pub fn assert_alive_without_panic(&mut self) -> Duration {
        let log = self.log();
        assert!(
            self.is_running(),
            "the {:?} demo died:\n{log}",
            self.framework
        );
        assert!(
            !log.contains("panicked"),
            "the {:?} demo panicked:\n{log}",
            self.framework
        );
        self.started.elapsed()
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One response, as a session test sees it.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    /// The `Set-Cookie` for `session`, if any.
    pub session_cookie: Option<String>,
}

impl Reply {
    /// The sid the response's `Set-Cookie` sets, unless it deletes it.
    pub fn sid(&self) -> Option<&str> {
        let cookie = self.session_cookie.as_deref()?;
        if cookie.contains("Max-Age=0") {
            return None;
        }
        cookie
            .split(';')
            .next()
            .and_then(|pair| pair.strip_prefix("session="))
    }
}

/// A keep-alive HTTP/1.1 client with a one-cookie jar, like a browser tab.
pub struct Conn {
    port: u16,
    stream: Option<BufReader<TcpStream>>,
    /// The `Cookie` header value sent with each request (`session=…`).
    pub cookie: Option<String>,
}

/// The server closed a kept-alive connection before answering: the request
/// was not processed, and is sent again on a new connection.
#[derive(Debug)]
struct Stale;

impl std::fmt::Display for Stale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection closed before the response")
    }
}

impl std::error::Error for Stale {}

impl Conn {
    /// A client with an empty jar; it connects on the first request.
    pub fn new(port: u16) -> Self {
        Self {
            port,
            stream: None,
            cookie: None,
        }
    }

    /// The sid in the jar.
    pub fn sid(&self) -> Option<&str> {
        self.cookie.as_deref()?.strip_prefix("session=")
    }

    /// GET.
    pub async fn get(&mut self, path: &str) -> io::Result<Reply> {
        self.send("GET", path, "").await
    }

    /// Sends a request, reusing the connection, and updates the jar from
    /// `Set-Cookie` (a deletion cookie empties it).
    pub async fn send(&mut self, method: &str, path: &str, body: &str) -> io::Result<Reply> {
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n",
            body.len()
        );
        if let Some(cookie) = &self.cookie {
            request.push_str("Cookie: ");
            request.push_str(cookie);
            request.push_str("\r\n");
        }
        request.push_str("\r\n");
        request.push_str(body);
        for attempt in 0..2 {
            let reused = self.stream.is_some();
            if self.stream.is_none() {
                let stream = TcpStream::connect(("127.0.0.1", self.port)).await?;
                stream.set_nodelay(true)?;
                self.stream = Some(BufReader::new(stream));
            }
            let stream = self.stream.as_mut().unwrap();
            match exchange(stream, request.as_bytes()).await {
                Ok((reply, keep)) => {
                    if !keep {
                        self.stream = None;
                    }
                    if let Some(cookie) = &reply.session_cookie {
                        self.cookie = match reply.sid() {
                            Some(sid) => Some(format!("session={sid}")),
                            None if cookie.contains("Max-Age=0") => None,
                            None => self.cookie.take(),
                        };
                    }
                    return Ok(reply);
                }
                Err(error) => {
                    self.stream = None;
                    let stale = error.get_ref().is_some_and(|e| e.is::<Stale>());
                    if !(stale && reused && attempt == 0) {
                        return Err(error);
                    }
                }
            }
        }
        unreachable!("the second attempt returns")
    }
}

/// Writes one request and reads its response; the bool says whether the
/// connection may be used again.
async fn exchange(stream: &mut BufReader<TcpStream>, request: &[u8]) -> io::Result<(Reply, bool)> {
    let stale = |error: io::Error| match error.kind() {
        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset => io::Error::other(Stale),
        _ => error,
    };
    stream.get_mut().write_all(request).await.map_err(stale)?;
    let mut line = String::new();
    if stream.read_line(&mut line).await.map_err(stale)? == 0 {
        return Err(io::Error::other(Stale));
    }
    let status: u16 = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::other(format!("bad status line {line:?}")))?;
    let keep_alive_default = line.starts_with("HTTP/1.1");
    let mut length = None;
    let mut chunked = false;
    let mut close = !keep_alive_default;
    let mut session_cookie = None;
    loop {
        line.clear();
        if stream.read_line(&mut line).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let Some((name, value)) = header.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => length = value.parse::<usize>().ok(),
            "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
            "connection" => close = value.eq_ignore_ascii_case("close"),
            "set-cookie" if value.starts_with("session=") => {
                session_cookie = Some(value.to_owned());
            }
            _ => {}
        }
    }
    let body = if status == 204 || status == 304 || status < 200 {
        Vec::new()
    } else if chunked {
        let mut body = Vec::new();
        loop {
            line.clear();
            stream.read_line(&mut line).await?;
            let size = usize::from_str_radix(line.trim(), 16)
                .map_err(|_| io::Error::other(format!("bad chunk size {line:?}")))?;
            let mut chunk = vec![0; size + 2];
            stream.read_exact(&mut chunk).await?;
            if size == 0 {
                break;
            }
            chunk.truncate(size);
            body.extend_from_slice(&chunk);
        }
        body
    } else if let Some(length) = length {
        let mut body = vec![0; length];
        stream.read_exact(&mut body).await?;
        body
    } else {
        let mut body = Vec::new();
        stream.read_to_end(&mut body).await?;
        close = true;
        body
    };
    let reply = Reply {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
        session_cookie,
    };
    Ok((reply, !close))
}

/// Sorted latencies, for percentiles.
#[derive(Debug, Default, Clone)]
pub struct Latencies(Vec<Duration>);

impl Latencies {
    pub fn push(&mut self, latency: Duration) {
        self.0.push(latency);
    }

    pub fn extend(&mut self, other: Latencies) {
        self.0.extend(other.0);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The `p`-th percentile (0–100); zero when empty.
    pub fn percentile(&mut self, p: f64) -> Duration {
        if self.0.is_empty() {
            return Duration::ZERO;
        }
        self.0.sort_unstable();
        let rank = ((p / 100.0) * (self.0.len() - 1) as f64).round() as usize;
        self.0[rank.min(self.0.len() - 1)]
    }

    pub fn max(&self) -> Duration {
        self.0.iter().copied().max().unwrap_or_default()
    }

    /// `p50 …, p99 …, max …` in milliseconds.
    pub fn summary(&mut self) -> String {
        format!(
            "p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            ms(self.percentile(50.0)),
            ms(self.percentile(99.0)),
            ms(self.max())
        )
    }
}

/// A duration in milliseconds, for figures.
pub fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// The uid and gid of a system user, from `/etc/passwd`.
pub fn user_ids(name: &str) -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    passwd
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.first() == Some(&name))
                .then(|| (fields[2].parse().unwrap(), fields[3].parse().unwrap()))
        })
        .unwrap_or_else(|| panic!("no user {name} in /etc/passwd"))
}

/// An error response tells the client nothing about the backend: Poem's is
/// the session crate's public message, Rocket's its catcher page for the
/// status; neither names a server, an address, a path or an OS error.
pub fn assert_opaque(framework: Framework, status: u16, body: &str) {
    if framework == Framework::Poem {
        let expected = match status {
            503 => "the session store is unavailable",
            _ => "internal session error",
        };
        assert_eq!(body, expected, "the {status} body");
    }
    let lower = body.to_ascii_lowercase();
    for detail in [
        "redis",
        "postgres",
        "memcache",
        "mongo",
        "filesystem",
        "127.0.0.1",
        "refused",
        "os error",
        "no space",
        "permission",
        "timed out",
        "/tmp",
    ] {
        assert!(
            !lower.contains(detail),
            "the {status} body names {detail:?}: {body}"
        );
    }
}
