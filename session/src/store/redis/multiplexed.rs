//! The shared connection to a single Redis server: the path of the store's
//! one-command operations when several are in flight (see
//! [`direct`](super::direct) for the path of one on its own).
//!
//! Why a connection of our own rather than redis-rs's connection manager:
//! the manager's driver task, channel, sink and streaming parser cost some
//! 3,700 instructions per round trip more than a command written and read by
//! hand (BENCHMARKS.md, issue 20). This one keeps what makes a shared
//! connection cheap under load, one system call for a burst's commands and
//! one for their replies, and little else: an operation appends its packed
//! command to a queue under a lock and waits on a oneshot; one task per
//! connection writes whatever is queued in one call, reads the replies,
//! decodes them with [`reply`](super::reply) and hands them out in order.
//!
//! # Invariants
//!
//! - The queue's commands and their reply senders are appended together,
//!   under one lock, so the n-th reply read goes to the n-th command
//!   written. An operation dropped while it waits (cancelled, timed out)
//!   only drops its receiver: its reply is still read, then discarded, and
//!   the replies after it still reach their own operations.
//! - One task at a time owns the connection. It marks the queue closed
//!   before it ends, whatever ends it (an error, the store's shutdown, its
//!   runtime's end), and every operation still waiting on it then gets an
//!   error; the next operation connects afresh.
//! - After [`Multiplexed::close`], nothing connects again, and a connection
//!   being made as it is called is dropped unused; the open connection's task
//!   writes what was queued, reads its replies and ends.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use ::redis::{ErrorKind, RedisError, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{oneshot, Notify};

use super::command::Packed;
use super::reply;

/// The first read's room: a burst of typical session records.
const FIRST_READ: usize = 16 * 1024;

/// A read buffer above this size (left by large records) is shrunk back
/// once it is drained.
const KEPT_BUFFER: usize = 256 * 1024;

type Reply = Result<Value, RedisError>;

/// The shared connection of one store; it connects on first use and again
/// after a failure.
pub(super) struct Multiplexed {
    shared: Arc<Shared>,
    /// Held while connecting, so that a burst after a failure opens one
    /// connection, not one per operation.
    connecting: tokio::sync::Mutex<()>,
    closed: AtomicBool,
}

/// What the operations and the connection's task share.
struct Shared {
    queue: Mutex<Queue>,
    /// Wakes the task when the queue goes from empty to not, and on close.
    wake: Notify,
}

struct Queue {
    /// Whether a task owns a connection and takes what is queued.
    open: bool,
    /// Set by [`Multiplexed::close`]: the task ends once its replies are in.
    closing: bool,
    /// The packed commands not yet written.
    commands: Vec<u8>,
    /// Their reply senders, in the same order.
    senders: Vec<oneshot::Sender<Reply>>,
}

impl Multiplexed {
    pub(super) fn new() -> Self {
        Self {
            shared: Arc::new(Shared {
                queue: Mutex::new(Queue {
                    open: false,
                    closing: false,
                    commands: Vec::new(),
                    senders: Vec::new(),
                }),
                wake: Notify::new(),
            }),
            connecting: tokio::sync::Mutex::new(()),
            closed: AtomicBool::new(false),
        }
    }

    /// Sends `command` over the shared connection and waits for its reply,
    /// connecting first (with `connect`) when no connection is open. A
    /// server error is a reply: it is in the value.
    ///
    /// # Errors
    ///
    /// An I/O error when the connection could not be made, broke before the
    /// reply came, or the store was shut down; a protocol error when the
    /// server's bytes are not RESP2 (the connection is closed then).
    pub(super) async fn query<F, Fut>(&self, command: &dyn Packed, connect: F) -> Reply
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<TcpStream, RedisError>>,
    {
        let (sender, receiver) = oneshot::channel();
        if let Err(sender) = self.shared.enqueue(command, sender) {
            // Boxed: connecting is rare (see `Lease::query`).
            Box::pin(self.connect_and_enqueue(command, sender, connect)).await?;
        }
        receiver.await.unwrap_or_else(|_| Err(lost()))
    }

    async fn connect_and_enqueue<F, Fut>(
        &self, command: &dyn Packed, sender: oneshot::Sender<Reply>, connect: F,
    ) -> Result<(), RedisError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<TcpStream, RedisError>>,
    {
        let _connecting = self.connecting.lock().await;
        // Another operation may have connected while this one waited.
        let Err(sender) = self.shared.enqueue(command, sender) else {
            return Ok(());
        };
        if self.closed.load(Ordering::Relaxed) {
            return Err(shut_down());
        }
        let stream = connect().await?;
        {
            let mut queue = self.shared.lock();
            // A `close` while this connected: the new connection is dropped
            // unused. Checked under the queue's lock, which `close` takes
            // after marking the store closed, so one of the two always sees
            // the other.
            if self.closed.load(Ordering::Relaxed) {
                return Err(shut_down());
            }
            queue.open = true;
            queue.closing = false;
        }
        tokio::spawn(drive(Arc::clone(&self.shared), stream));
        self.shared.enqueue(command, sender).map_err(|_| lost())
    }

    /// Connects no more; the open connection's task writes what is queued,
    /// reads its replies and ends.
    pub(super) fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
        self.shared.lock().closing = true;
        self.shared.wake.notify_one();
    }
}

impl Drop for Multiplexed {
    fn drop(&mut self) {
        self.close();
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // Appends and swaps cannot be interrupted half-way by a panic.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `command` and its reply sender, or gives the sender back when
    /// no connection is open.
    fn enqueue(
        &self, command: &dyn Packed, sender: oneshot::Sender<Reply>,
    ) -> Result<(), oneshot::Sender<Reply>> {
        let mut queue = self.lock();
        if !queue.open || queue.closing {
            return Err(sender);
        }
        command.pack(&mut queue.commands);
        queue.senders.push(sender);
        let first = queue.senders.len() == 1;
        drop(queue);
        // A queue that was not empty has its wake-up on the way.
        if first {
            self.wake.notify_one();
        }
        Ok(())
    }
}

/// Marks the queue closed when the task ends, however it ends (its runtime
/// may drop it), and fails what is queued and what waits for a reply.
struct Ending {
    shared: Arc<Shared>,
    waiting: VecDeque<oneshot::Sender<Reply>>,
}

impl Drop for Ending {
    fn drop(&mut self) {
        let queued = {
            let mut queue = self.shared.lock();
            queue.open = false;
            queue.commands.clear();
            std::mem::take(&mut queue.senders)
        };
        for sender in queued.into_iter().chain(self.waiting.drain(..)) {
            let _ = sender.send(Err(lost()));
        }
    }
}

/// The connection's task: writes what is queued, reads and hands out the
/// replies, until the connection fails or the store closes it.
async fn drive(shared: Arc<Shared>, stream: TcpStream) {
    let (mut reader, mut writer) = stream.into_split();
    let mut ending = Ending {
        shared,
        waiting: VecDeque::new(),
    };
    let mut commands = Vec::new();
    let mut senders = Vec::new();
    let mut read = Vec::with_capacity(FIRST_READ);
    loop {
        tokio::select! {
            biased;
            () = ending.shared.wake.notified() => {
                // The runtime runs a task it was just woken by next: without
                // this turn, each command would go out alone. After it, the
                // commands of every request task ready now go out together.
                tokio::task::yield_now().await;
                let closing = {
                    let mut queue = ending.shared.lock();
                    std::mem::swap(&mut commands, &mut queue.commands);
                    std::mem::swap(&mut senders, &mut queue.senders);
                    queue.closing
                };
                ending.waiting.extend(senders.drain(..));
                if !commands.is_empty() {
                    if writer.write_all(&commands).await.is_err() {
                        return;
                    }
                    commands.clear();
                }
                if closing && ending.waiting.is_empty() {
                    return;
                }
            }
            done = reader.read_buf(&mut read), if !ending.waiting.is_empty() => {
                if !matches!(done, Ok(n) if n > 0) {
                    return;
                }
                if hand_out(&mut read, &mut ending.waiting).is_err() {
                    return;
                }
                if ending.waiting.is_empty() && ending.shared.lock().closing {
                    return;
                }
            }
        }
    }
}

/// Hands every whole reply in `read` to the next waiting sender, and keeps
/// the bytes of an incomplete one.
///
/// # Errors
///
/// The bytes are not RESP2, or a reply came that no command asked for.
fn hand_out(
    read: &mut Vec<u8>, waiting: &mut VecDeque<oneshot::Sender<Reply>>,
) -> Result<(), RedisError> {
    let mut at = 0;
    while let Some(end) = reply::end(&read[at..])? {
        let Some(sender) = waiting.pop_front() else {
            return Err(RedisError::from((
                ErrorKind::Parse,
                "a malformed reply from Redis",
                "a reply to no command".to_owned(),
            )));
        };
        // A dropped receiver (its operation was cancelled) discards it.
        let _ = sender.send(reply::value(&read[at..at + end]));
        at += end;
    }
    read.drain(..at);
    if read.is_empty() && read.capacity() > KEPT_BUFFER {
        *read = Vec::with_capacity(FIRST_READ);
    }
    Ok(())
}

fn lost() -> RedisError {
    RedisError::from(std::io::Error::new(
        std::io::ErrorKind::ConnectionAborted,
        "the connection to Redis closed before its reply came",
    ))
}

fn shut_down() -> RedisError {
    RedisError::from((ErrorKind::Io, "the session store was shut down"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Waker};

    use super::*;

    /// A `close` while the shared connection is being made: the connection
    /// is dropped unused and the operation fails as shut down. (It used to
    /// open anyway, and stay open after the store's shutdown.)
    #[tokio::test]
    #[ignore = "needs live servers: run scripts/test.sh"]
    async fn a_close_while_connecting_leaves_no_connection_open() {
        let shared = Multiplexed::new();
        let (connect, connecting) = oneshot::channel::<()>();
        let ping = ::redis::cmd("PING");
        let mut query = pin!(shared.query(&ping, || async move {
            connecting.await.ok();
            Ok(TcpStream::connect("127.0.0.1:6379").await?)
        }));
        let mut context = Context::from_waker(Waker::noop());
        assert!(
            query.as_mut().poll(&mut context).is_pending(),
            "waits to connect"
        );
        shared.close();
        connect.send(()).unwrap();
        let error = query.await.unwrap_err();
        assert!(error.to_string().contains("shut down"), "{error}");
        assert!(!shared.shared.lock().open, "no connection is left open");
    }
}
