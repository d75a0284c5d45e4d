//! Redis and memcached as the tests see them, with nothing but std: a tiny
//! RESP client for inspecting keys and command statistics, a count of
//! memcached items by prefix, and Redis servers of a test's own on a port of
//! its own, for the fault tests.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime};

/// The shared Redis the machine kind runs.
pub const REDIS: &str = "127.0.0.1:6379";
/// The test command's Redis Cluster masters (their replicas are on
/// 7003-7005).
pub const REDIS_CLUSTER: [&str; 3] = ["127.0.0.1:7000", "127.0.0.1:7001", "127.0.0.1:7002"];
/// The test command's memcached.
pub const MEMCACHED: &str = "127.0.0.1:11211";

/// A key prefix that no other test, process or run uses.
pub fn unique_prefix(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "t:{tag}:{}:{nanos}:{}:",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The `key_prefix` line of a demo's `Session.toml`.
pub fn key_prefix_of(session_toml: &str) -> String {
    session_toml
        .lines()
        .find_map(|line| line.strip_prefix("key_prefix = "))
        .map(|quoted| quoted.trim_matches('"').to_owned())
        .expect("a key_prefix line")
}

/// A RESP reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+OK`
    Simple(String),
    /// `-ERR …`
    Error(String),
    /// `:1`
    Integer(i64),
    /// `$…`, or `None` for nil.
    Bulk(Option<Vec<u8>>),
    /// `*…`
    Array(Vec<Reply>),
}

impl Reply {
    /// The bulk string as text.
    pub fn text(&self) -> String {
        match self {
            Reply::Bulk(Some(bytes)) => String::from_utf8_lossy(bytes).into_owned(),
            Reply::Simple(text) => text.clone(),
            other => panic!("not text: {other:?}"),
        }
    }
}

/// Sends one command to a Redis server and reads its reply.
pub fn redis(addr: &str, args: &[&str]) -> Reply {
    redis_as(addr, None, args)
}

/// Sends one command to a Redis server, after `AUTH password` when a
/// password is given, and reads its reply (an `AUTH` failure is that reply).
pub fn redis_as(addr: &str, password: Option<&str>, args: &[&str]) -> Reply {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("redis at {addr}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut command = Vec::new();
    if let Some(password) = password {
        command.extend(resp_command(&["AUTH", password]));
    }
    command.extend(resp_command(args));
    stream.write_all(&command).unwrap();
    let mut reader = BufReader::new(stream);
    if password.is_some() {
        let auth = read_reply(&mut reader);
        if auth != Reply::Simple("OK".to_owned()) {
            return auth;
        }
    }
    read_reply(&mut reader)
}

fn resp_command(args: &[&str]) -> Vec<u8> {
    let mut command = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        command.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        command.extend_from_slice(arg.as_bytes());
        command.extend_from_slice(b"\r\n");
    }
    command
}

fn read_reply(reader: &mut BufReader<TcpStream>) -> Reply {
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let line = line.trim_end_matches("\r\n");
    let (kind, rest) = line.split_at(1);
    match kind {
        "+" => Reply::Simple(rest.to_owned()),
        "-" => Reply::Error(rest.to_owned()),
        ":" => Reply::Integer(rest.parse().unwrap()),
        "$" => {
            let len: i64 = rest.parse().unwrap();
            if len < 0 {
                return Reply::Bulk(None);
            }
            let mut bytes = vec![0; len as usize + 2];
            reader.read_exact(&mut bytes).unwrap();
            bytes.truncate(len as usize);
            Reply::Bulk(Some(bytes))
        }
        "*" => {
            let len: i64 = rest.parse().unwrap();
            Reply::Array((0..len.max(0)).map(|_| read_reply(reader)).collect())
        }
        other => panic!("unexpected RESP reply {other}{rest}"),
    }
}

/// How many keys on one Redis node start with `prefix` (no glob characters).
pub fn redis_count(addr: &str, prefix: &str) -> usize {
    match redis(addr, &["KEYS", &format!("{prefix}*")]) {
        Reply::Array(keys) => keys.len(),
        other => panic!("KEYS: {other:?}"),
    }
}

/// Calls per command since the last `CONFIG RESETSTAT`, from `INFO
/// commandstats`, leaving out `info` and `config` (the test's own).
pub fn redis_command_calls(addr: &str) -> Vec<(String, u64)> {
    let info = redis(addr, &["INFO", "commandstats"]).text();
    info.lines()
        .filter_map(|line| line.strip_prefix("cmdstat_"))
        .filter_map(|line| {
            let (name, stats) = line.split_once(':')?;
            let calls = stats
                .split(',')
                .find_map(|s| s.strip_prefix("calls="))?
                .parse()
                .ok()?;
            Some((name.to_owned(), calls))
        })
        .filter(|(name, _)| !name.starts_with("info") && !name.starts_with("config"))
        .collect()
}

/// How many live memcached items start with `prefix` (`lru_crawler
/// metadump`, which memcached 1.6 offers by default).
///
/// memcached runs one crawler at a time and answers `BUSY` while another
/// (its own background crawl, or a parallel test's dump) is running; that is
/// retried for up to ten seconds.
pub fn memcached_count(addr: &str, prefix: &str) -> usize {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match metadump_count(addr, prefix) {
            Some(count) => return count,
            None if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(100));
            }
            None => panic!("memcached at {addr}: lru_crawler stayed BUSY for 10 s"),
        }
    }
}

/// One metadump: the count, or `None` when memcached answered `BUSY`.
fn metadump_count(addr: &str, prefix: &str) -> Option<usize> {
    let mut stream =
        TcpStream::connect(addr).unwrap_or_else(|e| panic!("memcached at {addr}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(b"lru_crawler metadump all\r\n").unwrap();
    let mut reader = BufReader::new(stream);
    let mut count = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 {
            panic!("memcached closed the metadump early");
        }
        let line = line.trim_end();
        if line == "END" {
            return Some(count);
        }
        if line.starts_with("BUSY") {
            return None;
        }
        assert!(!line.starts_with("ERROR"), "metadump: {line}");
        let key = line
            .strip_prefix("key=")
            .and_then(|rest| rest.split(' ').next());
        if key.is_some_and(|key| percent_decode(key).starts_with(prefix)) {
            count += 1;
        }
    }
}

/// metadump's keys are URL-encoded (`:` is `%3A`).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A redis-server of a test's own on a free port, killed on drop. With
/// `persistent`, every write is fsynced to an append-only file in a
/// directory of its own, so the data survives a kill and restart.
pub struct OwnRedis {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
    persistent: bool,
}

impl OwnRedis {
    /// Starts it and waits until it answers.
    pub fn start(persistent: bool) -> Self {
        let port = crate::port::free_port();
        let mut server = Self {
            child: None,
            port,
            dir: tempfile::tempdir().unwrap(),
            persistent,
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let dir: PathBuf = self.dir.path().to_owned();
        let mut command = Command::new("redis-server");
        command
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if self.persistent {
            command.args(["--appendonly", "yes", "--appendfsync", "always"]);
        } else {
            command.args(["--appendonly", "no"]);
        }
        self.child = Some(command.spawn().expect("redis-server on the PATH"));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let ready = TcpStream::connect(("127.0.0.1", self.port)).is_ok()
                && redis(&self.addr(), &["PING"]) == Reply::Simple("PONG".to_owned());
            if ready {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `127.0.0.1:port`
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `redis://127.0.0.1:port`
    pub fn url(&self) -> String {
        format!("redis://{}", self.addr())
    }

    /// Kills it (SIGKILL: no goodbye to its clients).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and directory.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}
