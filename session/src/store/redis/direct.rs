//! The direct connection to a single Redis server: the path of the store's
//! one-command operations (`GET`, `GETEX`, `SET`, `EVALSHA`, `EXPIRE`,
//! `DEL`, …) when the settings name one plain `redis://` server and the
//! operation is the store's only one in flight.
//!
//! Why not the connection manager alone: it multiplexes every request over
//! one connection through a driver task of its own, so each command crosses
//! a channel to that task and a oneshot back, wakes two tasks, and its reply
//! goes through redis-rs's streaming parser. For an operation on its own,
//! the direct path costs some 3,700 instructions less per round trip, whole
//! app, and answers sooner (BENCHMARKS.md, issue 20). Here the request's own
//! task writes the command on the connection and reads the one reply, which
//! [`reply`](super::reply) decodes.
//!
//! Why only an operation on its own: when several are in flight, the
//! shared connection ([`multiplexed`](super::multiplexed)) writes their
//! commands in one system call and reads their replies in one, where direct
//! connections would make two calls per operation. System calls cost more
//! than the instructions saved (measured with 32 connections on Poem
//! `/read`: 4.0 system calls per request against 2.95, and 3-43% more app
//! CPU per request), so a burst goes to the shared connection, which
//! batches it. This module holds both.
//!
//! # Invariants
//!
//! - An operation leases the connection only when it was the store's only
//!   one in flight as it began ([`DirectConnection::begin`]); every
//!   operation, on either path, counts as in flight until it ends or is
//!   dropped. So at most one operation uses the direct path at a time, and
//!   at most one direct connection is open (a second one, opened in a race
//!   with a lease's return, is closed at once).
//! - The connection goes back to the store only after a whole reply was read
//!   and nothing followed it, so a kept connection is always between
//!   replies. One whose command failed, timed out or was cancelled (the
//!   request's future dropped mid-way) is closed, never reused.
//! - After [`close`], nothing is leased or kept.
//!
//! [`close`]: DirectConnection::close

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use ::redis::{Cmd, ErrorKind, RedisError, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::command::Packed;
use super::multiplexed::Multiplexed;
use super::reply;

/// A read buffer above this size (left by a large record) is shrunk back
/// when its connection is kept, so that a kept connection stays small.
const KEPT_BUFFER: usize = 64 * 1024;

/// The first read's room: a typical session record and its header.
const FIRST_READ: usize = 4096;

/// The direct connection of one store to one server, and the count of the
/// store's operations in flight that decides when it is used.
pub(super) struct DirectConnection {
    host: String,
    port: u16,
    /// `AUTH` and `SELECT`, as the URL asks, sent on each new connection;
    /// `true` marks the `AUTH`.
    handshake: Vec<(Cmd, bool)>,
    /// The connection between two operations; `None` before the first and
    /// while one uses it.
    kept: Mutex<Option<Connection>>,
    /// The store's operations in flight, on either path.
    in_flight: AtomicUsize,
    closed: AtomicBool,
    /// The connection operations share when several are in flight.
    shared: Multiplexed,
}

impl DirectConnection {
    /// The connection to `host:port`, authenticated and in database `db` as
    /// the URL says.
    pub(super) fn new(
        host: &str, port: u16, username: Option<&str>, password: Option<&str>, db: i64,
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
            kept: Mutex::new(None),
            in_flight: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            shared: Multiplexed::new(),
        }
    }

    /// Counts one store operation as in flight until the returned value is
    /// dropped; [`Operation::lease`] says whether it may go direct.
    pub(super) fn begin(&self) -> Operation<'_> {
        let alone = self.in_flight.fetch_add(1, Ordering::Relaxed) == 0;
        Operation {
            direct: self,
            alone,
        }
    }

    /// Closes the kept connection and leases no more; a leased one closes
    /// when its operation is done with it.
    pub(super) fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
        drop(self.kept_slot().take());
        self.shared.close();
    }

    /// Whether [`close`](Self::close) was called.
    pub(super) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    /// Sends `command` over the connection that operations share, and
    /// waits for its reply (see [`multiplexed`](super::multiplexed)). A
    /// server error is a reply: it is in the value.
    ///
    /// # Errors
    ///
    /// An I/O error (the connection could not be made, broke, or the store
    /// was shut down) or a protocol error.
    pub(super) async fn query_shared(&self, command: &dyn Packed) -> Result<Value, RedisError> {
        self.shared
            .query(command, || async { Ok(self.connect().await?.stream) })
            .await
    }

    fn kept_slot(&self) -> std::sync::MutexGuard<'_, Option<Connection>> {
        // A panic while the slot is locked leaves it whole: take and replace
        // cannot be interrupted half-way.
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
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

/// One store operation in flight, from [`DirectConnection::begin`]; it
/// stops counting when dropped.
pub(super) struct Operation<'a> {
    direct: &'a DirectConnection,
    /// Whether no other operation of the store was in flight as it began.
    alone: bool,
}

impl<'a> Operation<'a> {
    /// The direct connection, for an operation that began alone while the
    /// store is open; `None` otherwise, and the operation goes to the
    /// shared connection ([`DirectConnection::query_shared`]).
    pub(super) fn lease(&self) -> Option<Lease<'a>> {
        if !self.alone || self.direct.is_closed() {
            return None;
        }
        let connection = self.direct.kept_slot().take();
        Some(Lease {
            direct: self.direct,
            reused: connection.is_some(),
            connection,
        })
    }
}

impl Drop for Operation<'_> {
    fn drop(&mut self) {
        self.direct.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The direct connection, held by one operation, from [`Operation::lease`].
/// Dropped, it goes back to the store if its last reply was whole, and is
/// closed otherwise.
pub(super) struct Lease<'a> {
    direct: &'a DirectConnection,
    /// `None` before the first command (not yet connected) and after a
    /// failed one (closed).
    connection: Option<Connection>,
    reused: bool,
}

impl Lease<'_> {
    /// Whether the lease began on the kept connection, one that may have
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
    pub(super) async fn query(&mut self, command: &dyn Packed) -> Result<Value, RedisError> {
        let mut connection = match self.connection.take() {
            Some(connection) => connection,
            // Boxed: connecting is rare, and its future (a name lookup, the
            // handshake's round trips) would be held by every operation's.
            None => Box::pin(self.direct.connect()).await?,
        };
        let value = connection.round_trip(command).await?;
        self.connection = Some(connection);
        Ok(value)
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        let Some(mut connection) = self.connection.take() else {
            return;
        };
        if self.direct.closed.load(Ordering::Relaxed) {
            return;
        }
        if connection.read.capacity() > KEPT_BUFFER {
            connection.read = Vec::with_capacity(FIRST_READ);
        }
        // A connection opened while another was leased (a race with its
        // return) is closed: one is kept.
        let mut slot = self.direct.kept_slot();
        if slot.is_none() {
            *slot = Some(connection);
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
    async fn round_trip(&mut self, command: &dyn Packed) -> Result<Value, RedisError> {
        self.write.clear();
        command.pack(&mut self.write);
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
