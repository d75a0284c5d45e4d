//! Direct connections to a single Redis server: the path of the store's
//! one-command operations (`GET`, `GETEX`, `SET`, `EVALSHA`, `EXPIRE`,
//! `DEL`, …) when the settings name one plain `redis://` server.
//!
//! Why not the connection manager alone: it multiplexes every request over
//! one connection through a driver task of its own, so each command crosses
//! a channel to that task and a oneshot back, wakes two tasks, and its reply
//! goes through redis-rs's streaming parser: some 8,000 instructions per
//! round trip, more than the rest of the session layer (BENCHMARKS.md, issue
//! 20). Here the request's own task writes the command on a connection it
//! holds alone and reads the one reply, which [`reply`](super::reply)
//! decodes.
//!
//! # Invariants
//!
//! - A connection goes back to the idle list only after a whole reply was
//!   read and nothing followed it, so an idle connection is always between
//!   replies. One whose command failed, timed out or was cancelled (the
//!   request's future dropped mid-way) is closed, never reused.
//! - At most `limit` connections are open. When all are busy, [`lease`]
//!   answers `None` and the store sends on the connection manager instead,
//!   so a burst never waits for a connection and never opens more.
//! - After [`close`], no connection is leased or kept.
//!
//! [`lease`]: DirectConnections::lease
//! [`close`]: DirectConnections::close

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use ::redis::{Cmd, ErrorKind, RedisError, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::reply;

/// The most direct connections a store opens when `pool_size` is not set.
pub(super) const DEFAULT_LIMIT: usize = 128;

/// A read buffer above this size (left by a large record) is shrunk back
/// when its connection goes idle, so that idle connections stay small.
const KEPT_BUFFER: usize = 64 * 1024;

/// The first read's room: a typical session record and its header.
const FIRST_READ: usize = 4096;

/// The direct connections of one store to one server.
pub(super) struct DirectConnections {
    host: String,
    port: u16,
    /// `AUTH` and `SELECT`, as the URL asks, sent on each new connection;
    /// `true` marks the `AUTH`.
    handshake: Vec<(Cmd, bool)>,
    idle: Mutex<Vec<Connection>>,
    /// Connections open or being opened, idle or leased.
    open: AtomicUsize,
    limit: usize,
    closed: AtomicBool,
}

impl DirectConnections {
    /// Connections to `host:port`, authenticated and in database `db` as the
    /// URL says; at most `limit` open at once.
    pub(super) fn new(
        host: &str, port: u16, username: Option<&str>, password: Option<&str>, db: i64,
        limit: usize,
    ) -> Self {
        let mut handshake = Vec::new();
        if let Some(password) = password {
            let mut auth = ::redis::cmd("AUTH");
            if let Some(username) = username {
                auth.arg(username);
            }
            auth.arg(password);
            handshake.push((auth, true));
        }
        if db != 0 {
            let mut select = ::redis::cmd("SELECT");
            select.arg(db);
            handshake.push((select, false));
        }
        Self {
            host: host.to_owned(),
            port,
            handshake,
            idle: Mutex::new(Vec::new()),
            open: AtomicUsize::new(0),
            limit: limit.max(1),
            closed: AtomicBool::new(false),
        }
    }

    /// A connection of the request's own: an idle one, or room to open one.
    /// `None` when `limit` connections are busy or the store is closed.
    pub(super) fn lease(&self) -> Option<Lease<'_>> {
        if self.closed.load(Ordering::Relaxed) {
            return None;
        }
        let idle = self.idle_list().pop();
        if let Some(connection) = idle {
            return Some(Lease {
                pool: self,
                connection: Some(connection),
                reused: true,
            });
        }
        if self.open.fetch_add(1, Ordering::Relaxed) >= self.limit {
            self.open.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        Some(Lease {
            pool: self,
            connection: None,
            reused: false,
        })
    }

    /// Closes every idle connection: after a connection was found broken,
    /// the others, as old as it, are likely broken too (a server restart).
    pub(super) fn forget_idle(&self) {
        let idle = std::mem::take(&mut *self.idle_list());
        self.open.fetch_sub(idle.len(), Ordering::Relaxed);
    }

    /// Closes the idle connections and leases no more; a leased one closes
    /// when its request is done with it.
    pub(super) fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
        self.forget_idle();
    }

    fn idle_list(&self) -> std::sync::MutexGuard<'_, Vec<Connection>> {
        // A panic while the list is locked leaves it whole: push and pop
        // cannot be interrupted half-way.
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn connect(&self) -> Result<Connection, RedisError> {
        let stream = TcpStream::connect((self.host.as_str(), self.port)).await?;
        stream.set_nodelay(true)?;
        let mut connection = Connection {
            stream,
            read: Vec::with_capacity(FIRST_READ),
            write: Vec::new(),
        };
        for (command, auth) in &self.handshake {
            let answer = connection.round_trip(command).await?;
            answer.extract_error().map_err(|error| {
                if *auth {
                    RedisError::from((
                        ErrorKind::AuthenticationFailed,
                        "Redis refused the credentials",
                        error.to_string(),
                    ))
                } else {
                    error
                }
            })?;
        }
        Ok(connection)
    }
}

/// One connection held by one request, from [`DirectConnections::lease`].
/// Dropped, it goes back to the idle list if its last reply was whole, and
/// is closed otherwise.
pub(super) struct Lease<'a> {
    pool: &'a DirectConnections,
    /// `None` before the first command (not yet connected) and after a
    /// failed one (closed).
    connection: Option<Connection>,
    reused: bool,
}

impl Lease<'_> {
    /// Whether the lease began on an idle connection, one that may have
    /// broken while it waited.
    pub(super) fn reused(&self) -> bool {
        self.reused
    }

    /// Sends `command` and reads its reply, connecting first if the lease
    /// has no connection. A server error is a reply: it is in the value.
    ///
    /// # Errors
    ///
    /// An I/O error (the connection could not be made or broke) or a
    /// protocol error; the connection is closed either way, and the next
    /// call on this lease connects afresh.
    pub(super) async fn query(&mut self, command: &Cmd) -> Result<Value, RedisError> {
        let mut connection = match self.connection.take() {
            Some(connection) => connection,
            None => self.pool.connect().await?,
        };
        let value = connection.round_trip(command).await?;
        self.connection = Some(connection);
        Ok(value)
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        match self.connection.take() {
            Some(mut connection) if !self.pool.closed.load(Ordering::Relaxed) => {
                if connection.read.capacity() > KEPT_BUFFER {
                    connection.read = Vec::with_capacity(FIRST_READ);
                }
                self.pool.idle_list().push(connection);
            }
            _ => {
                self.pool.open.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }
}

struct Connection {
    stream: TcpStream,
    /// The bytes of the reply being read; kept, so that a connection reads
    /// into the room its earlier replies made.
    read: Vec<u8>,
    /// The packed command being sent; kept for the same reason.
    write: Vec<u8>,
}

impl Connection {
    async fn round_trip(&mut self, command: &Cmd) -> Result<Value, RedisError> {
        self.write.clear();
        command.write_packed_command(&mut self.write);
        self.stream.write_all(&self.write).await?;
        self.read.clear();
        loop {
            if self.read.len() == self.read.capacity() {
                self.read.reserve(self.read.len().max(FIRST_READ));
            }
            if self.stream.read_buf(&mut self.read).await? == 0 {
                return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
            }
            match reply::end(&self.read)? {
                Some(end) if end == self.read.len() => return reply::value(&self.read),
                Some(_) => {
                    return Err(RedisError::from((
                        ErrorKind::Parse,
                        "a malformed reply from Redis",
                        "more than one reply to one command".to_owned(),
                    )))
                }
                None => {}
            }
        }
    }
}
