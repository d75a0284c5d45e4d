//! Highly available Redis of a failover test's own, on free loopback ports
//! (never the shared 6379 or 7000-7005, nor a port whose +10000 the shared
//! Cluster's bus holds): a Sentinel set (one master, one replica, three
//! Sentinels) and a Cluster of three masters with a replica each. Every
//! process is a child of the test, killed on drop, so a failing test leaves
//! nothing running.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use session_tests::kv_servers::{redis_as, Reply};

use session_tests::port::free_port;

/// The name the Sentinels know the master by.
pub const MASTER_NAME: &str = "sessions-ha";
/// `requirepass` of the master and its replica.
const MASTER_PASSWORD: &str = "master-pw-5a1e";
/// `requirepass` of the Sentinels: another password, as in deployments
/// where the two differ.
const SENTINEL_PASSWORD: &str = "sentinel-pw-77c3";
/// How long a Sentinel waits before it calls the master down, and how long a
/// Cluster node waits before it calls a node failed.
const DOWN_AFTER_MS: u32 = 1000;

/// A highly available Redis that a test can take the master of.
pub trait HaRedis {
    /// For figures and messages.
    fn name(&self) -> &'static str;
    /// The demo's `Session.toml` lines that point the Redis store at it.
    fn session_toml(&self) -> String;
    /// Waits until every replica has every write its master has taken so
    /// far.
    fn wait_replicated(&self);
    /// SIGKILLs the master (the Cluster: the master of slot 0).
    fn kill_master(&mut self);
    /// Waits until the replica of the killed master is the master, as the
    /// Sentinels or the Cluster see it.
    fn wait_promoted(&self, limit: Duration);
}

/// One server process, SIGKILLed on drop.
struct Node {
    child: Option<Child>,
    port: u16,
}

impl Node {
    fn spawn(port: u16, command: &mut Command) -> Self {
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server on the PATH");
        Self {
            child: Some(child),
            port,
        }
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

fn wait_until(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ready() {
        assert!(Instant::now() < deadline, "{what} within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The reply as text, or "" for an error or a refused connection (the node
/// may be dead or starting).
fn ask(addr: &str, password: Option<&str>, args: &[&str]) -> String {
    let addr = addr.to_owned();
    let password = password.map(str::to_owned);
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let socket: std::net::SocketAddr = addr.parse().unwrap();
    if std::net::TcpStream::connect_timeout(&socket, Duration::from_millis(200)).is_err() {
        return String::new();
    }
    // The RESP helper panics when a node dies mid-reply: a dead node
    // answers "".
    std::panic::catch_unwind(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        match redis_as(&addr, password.as_deref(), &args) {
            Reply::Bulk(Some(bytes)) => String::from_utf8_lossy(&bytes).into_owned(),
            Reply::Simple(text) => text,
            Reply::Integer(n) => n.to_string(),
            Reply::Array(items) => items
                .iter()
                .map(|item| match item {
                    Reply::Bulk(Some(bytes)) => String::from_utf8_lossy(bytes).into_owned(),
                    Reply::Simple(text) => text.clone(),
                    Reply::Integer(n) => n.to_string(),
                    other => format!("{other:?}"),
                })
                .collect::<Vec<_>>()
                .join("\n"),
            _ => String::new(),
        }
    })
    .unwrap_or_default()
}

/// A field of `INFO`'s `name:value` lines.
fn info_field(info: &str, name: &str) -> Option<String> {
    info.lines()
        .find_map(|line| line.trim_end().strip_prefix(&format!("{name}:")))
        .map(str::to_owned)
}

fn redis_server(port: u16, dir: &Path) -> Command {
    let mut command = Command::new("redis-server");
    command
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(dir)
        .arg("--logfile")
        .arg(dir.join(format!("redis-{port}.log")));
    command
}

/// Whether the replica on `replica` has at least `offset` of its master's
/// replication stream and a live link.
fn caught_up(replica: &str, password: Option<&str>, offset: u64) -> bool {
    let info = ask(replica, password, &["INFO", "replication"]);
    info_field(&info, "master_link_status").as_deref() == Some("up")
        && info_field(&info, "slave_repl_offset")
            .and_then(|o| o.parse::<u64>().ok())
            .is_some_and(|o| o >= offset)
}

fn master_offset(master: &str, password: Option<&str>) -> u64 {
    let info = ask(master, password, &["INFO", "replication"]);
    info_field(&info, "master_repl_offset")
        .and_then(|o| o.parse().ok())
        .unwrap_or_else(|| panic!("master_repl_offset of {master}: {info}"))
}

// --- Sentinel ---

/// One master, one replica and three Sentinels (quorum 2), each Sentinel
/// with a config file of its own that it rewrites.
pub struct SentinelSet {
    master: Node,
    replica: Node,
    sentinels: Vec<Node>,
    _dir: tempfile::TempDir,
}

impl SentinelSet {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let auth = [
            "--requirepass",
            MASTER_PASSWORD,
            "--masterauth",
            MASTER_PASSWORD,
        ];
        let port = free_port();
        let master = Node::spawn(port, redis_server(port, dir.path()).args(auth));
        let port = free_port();
        let replica_of = master.port.to_string();
        let replica = Node::spawn(
            port,
            redis_server(port, dir.path()).args(auth).args([
                "--replicaof",
                "127.0.0.1",
                &replica_of,
            ]),
        );
        wait_until(
            "the Sentinel set's replica in sync",
            Duration::from_secs(15),
            || caught_up(&replica.addr(), Some(MASTER_PASSWORD), 0),
        );
        let sentinels = (0..3)
            .map(|_| {
                let port = free_port();
                let config = dir.path().join(format!("sentinel-{port}.conf"));
                std::fs::write(
                    &config,
                    format!(
                        "port {port}\nbind 127.0.0.1\ndir {dir}\nlogfile {dir}/sentinel-{port}.log\n\
                         requirepass {SENTINEL_PASSWORD}\nsentinel sentinel-pass {SENTINEL_PASSWORD}\n\
                         sentinel monitor {MASTER_NAME} 127.0.0.1 {master} 2\n\
                         sentinel auth-pass {MASTER_NAME} {MASTER_PASSWORD}\n\
                         sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}\n\
                         sentinel failover-timeout {MASTER_NAME} 3000\n\
                         sentinel parallel-syncs {MASTER_NAME} 1\n",
                        dir = dir.path().display(),
                        master = master.port,
                    ),
                )
                .unwrap();
                Node::spawn(
                    port,
                    Command::new("redis-server").arg(&config).arg("--sentinel"),
                )
            })
            .collect::<Vec<_>>();
        // A failover needs the Sentinels to know each other (for the quorum
        // and the election) and the replica (to promote): they learn both
        // from hello messages every 2 s.
        wait_until(
            "the Sentinels to know each other and the replica",
            Duration::from_secs(30),
            || {
                sentinels.iter().all(|sentinel| {
                    let fields = ask(
                        &sentinel.addr(),
                        Some(SENTINEL_PASSWORD),
                        &["SENTINEL", "MASTER", MASTER_NAME],
                    );
                    let field = |name: &str| {
                        let lines: Vec<&str> = fields.lines().collect();
                        lines
                            .iter()
                            .position(|l| *l == name)
                            .and_then(|i| lines.get(i + 1).map(|v| (*v).to_owned()))
                    };
                    field("num-slaves").as_deref() == Some("1")
                        && field("num-other-sentinels").as_deref() == Some("2")
                })
            },
        );
        Self {
            master,
            replica,
            sentinels,
            _dir: dir,
        }
    }

    /// Asks a Sentinel for a failover without a failure (`SENTINEL
    /// FAILOVER`): the replica is promoted and the old master, still
    /// running, is turned into its replica.
    pub fn graceful_failover(&self) {
        let answer = ask(
            &self.sentinels[0].addr(),
            Some(SENTINEL_PASSWORD),
            &["SENTINEL", "FAILOVER", MASTER_NAME],
        );
        assert_eq!(answer, "OK", "SENTINEL FAILOVER");
    }

    /// Waits until the old master is a replica of the promoted one, in
    /// sync, and the Sentinels name the promoted one.
    pub fn wait_swapped(&self, limit: Duration) {
        let (old, new) = (self.master.addr(), self.replica.port);
        wait_until(
            "the old master to be a replica of the new one",
            limit,
            || {
                self.sentinels
                    .iter()
                    .all(|s| self.named_master(s) == Some(new))
                    && caught_up(&old, Some(MASTER_PASSWORD), 0)
            },
        );
    }

    /// After [`Self::graceful_failover`]: waits until the old master has
    /// every write the new one has taken.
    pub fn wait_replicated_to_old_master(&self) {
        let offset = master_offset(&self.replica.addr(), Some(MASTER_PASSWORD));
        wait_until(
            "the old master to catch up",
            Duration::from_secs(10),
            || caught_up(&self.master.addr(), Some(MASTER_PASSWORD), offset),
        );
    }

    /// The value of `key` on the server that is master now, and on the
    /// other one.
    pub fn get_on_both(&self, key: &str) -> (String, String) {
        (
            ask(&self.replica.addr(), Some(MASTER_PASSWORD), &["GET", key]),
            ask(&self.master.addr(), Some(MASTER_PASSWORD), &["GET", key]),
        )
    }

    /// The master's port as a Sentinel names it.
    fn named_master(&self, sentinel: &Node) -> Option<u16> {
        let answer = ask(
            &sentinel.addr(),
            Some(SENTINEL_PASSWORD),
            &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME],
        );
        answer.lines().nth(1).and_then(|port| port.parse().ok())
    }
}

impl HaRedis for SentinelSet {
    fn name(&self) -> &'static str {
        "sentinel"
    }

    fn session_toml(&self) -> String {
        let urls: Vec<String> = self
            .sentinels
            .iter()
            .map(|s| format!("\"redis://{}\"", s.addr()))
            .collect();
        format!(
            "redis_sentinels = [{}]\nredis_sentinel_master = \"{MASTER_NAME}\"\n\
             redis_sentinel_password = \"{SENTINEL_PASSWORD}\"\n\
             redis_sentinel_master_password = \"{MASTER_PASSWORD}\"\n",
            urls.join(", ")
        )
    }

    fn wait_replicated(&self) {
        let offset = master_offset(&self.master.addr(), Some(MASTER_PASSWORD));
        wait_until("the replica to catch up", Duration::from_secs(10), || {
            caught_up(&self.replica.addr(), Some(MASTER_PASSWORD), offset)
        });
    }

    fn kill_master(&mut self) {
        self.master.kill();
    }

    fn wait_promoted(&self, limit: Duration) {
        let replica = self.replica.port;
        wait_until("the Sentinels to promote the replica", limit, || {
            self.sentinels
                .iter()
                .all(|s| self.named_master(s) == Some(replica))
                && ask(&self.replica.addr(), Some(MASTER_PASSWORD), &["ROLE"]).starts_with("master")
        });
    }
}

// --- Cluster ---

/// Three masters and three replicas, `cluster-node-timeout` 1 s.
pub struct OwnCluster {
    nodes: Vec<Node>,
    /// `(master, replica)` indexes into `nodes`.
    pairs: Vec<(usize, usize)>,
    /// The pair whose master is killed: the one holding slot 0.
    victim: usize,
    _dir: tempfile::TempDir,
}

/// A free port whose cluster bus port (+10000) is free too.
fn free_cluster_port() -> u16 {
    for _ in 0..1000 {
        let port = free_port();
        if port <= 55_000 && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
    panic!("no free port with a free +10000 bus port");
}

impl OwnCluster {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let nodes: Vec<Node> = (0..6)
            .map(|_| {
                let port = free_cluster_port();
                let node_dir = dir.path().join(port.to_string());
                std::fs::create_dir(&node_dir).unwrap();
                Node::spawn(
                    port,
                    redis_server(port, &node_dir)
                        .args(["--cluster-enabled", "yes"])
                        .args(["--cluster-config-file", "nodes.conf"])
                        .args(["--cluster-node-timeout", &DOWN_AFTER_MS.to_string()]),
                )
            })
            .collect();
        for node in &nodes {
            wait_until("a cluster node to answer", Duration::from_secs(10), || {
                ask(&node.addr(), None, &["PING"]) == "PONG"
            });
        }
        let status = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(nodes.iter().map(Node::addr))
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("redis-cli on the PATH");
        assert!(status.success(), "redis-cli --cluster create: {status}");
        let mut cluster = Self {
            nodes,
            pairs: Vec::new(),
            victim: 0,
            _dir: dir,
        };
        wait_until(
            "the cluster to be ok with its replicas",
            Duration::from_secs(30),
            || {
                cluster.nodes.iter().all(|n| {
                    ask(&n.addr(), None, &["CLUSTER", "INFO"]).contains("cluster_state:ok")
                }) && cluster.read_pairs()
            },
        );
        cluster
    }

    /// Reads who replicates whom from `CLUSTER NODES`; true once every
    /// master has a replica in sync.
    fn read_pairs(&mut self) -> bool {
        let listing = ask(&self.nodes[0].addr(), None, &["CLUSTER", "NODES"]);
        let index_of = |addr: &str| {
            self.nodes
                .iter()
                .position(|n| addr.starts_with(&format!("{}@", n.addr())))
        };
        let mut ids = Vec::new();
        for line in listing.lines() {
            let fields: Vec<&str> = line.split(' ').collect();
            if fields.len() < 8 {
                return false;
            }
            let Some(index) = index_of(fields[1]) else {
                return false;
            };
            ids.push((
                fields[0].to_owned(),
                index,
                fields[2].to_owned(),
                fields[3].to_owned(),
                fields[8..].join(" "),
            ));
        }
        let mut pairs = Vec::new();
        let mut victim = None;
        for (id, master, flags, _, slots) in
            ids.iter().filter(|(_, _, f, _, _)| f.contains("master"))
        {
            let Some((_, replica, _, _, _)) = ids
                .iter()
                .find(|(_, _, f, of, _)| f.contains("slave") && of == id)
            else {
                return false;
            };
            if flags.contains("fail") {
                return false;
            }
            if slots
                .split(' ')
                .any(|range| range == "0" || range.starts_with("0-"))
            {
                victim = Some(pairs.len());
            }
            pairs.push((*master, *replica));
        }
        let in_sync = pairs
            .iter()
            .all(|(_, replica)| caught_up(&self.nodes[*replica].addr(), None, 0));
        if pairs.len() != 3 || !in_sync {
            return false;
        }
        self.pairs = pairs;
        self.victim = victim.expect("a master holds slot 0");
        true
    }
}

impl HaRedis for OwnCluster {
    fn name(&self) -> &'static str {
        "cluster"
    }

    fn session_toml(&self) -> String {
        let urls: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("\"redis://{}\"", n.addr()))
            .collect();
        format!("redis = [{}]\n", urls.join(", "))
    }

    fn wait_replicated(&self) {
        for (master, replica) in &self.pairs {
            let offset = master_offset(&self.nodes[*master].addr(), None);
            wait_until("a replica to catch up", Duration::from_secs(10), || {
                caught_up(&self.nodes[*replica].addr(), None, offset)
            });
        }
    }

    fn kill_master(&mut self) {
        let (master, _) = self.pairs[self.victim];
        self.nodes[master].kill();
    }

    fn wait_promoted(&self, limit: Duration) {
        let (_, replica) = self.pairs[self.victim];
        let replica = self.nodes[replica].addr();
        wait_until("the Cluster to promote the replica", limit, || {
            ask(&replica, None, &["ROLE"]).starts_with("master")
                && ask(&replica, None, &["CLUSTER", "INFO"]).contains("cluster_state:ok")
        });
    }
}
