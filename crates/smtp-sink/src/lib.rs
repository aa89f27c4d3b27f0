//! `smtp-sink`: a small SMTP server on 127.0.0.1 for tests, benchmarks and
//! development, with fault injection.
//!
//! mentor-status delivers email over SMTP (lettre). Its tests must talk to a
//! real SMTP server over TCP and make it misbehave on demand: reject a
//! recipient, fail temporarily, take a message and then hang up before
//! confirming it, answer slowly, go away and come back on the same port. No
//! Rust crate offers an embeddable SMTP server with those faults, so this one
//! is written by hand. It implements a subset of RFC 5321 (with RFC 4954 AUTH
//! PLAIN/LOGIN, RFC 6152 8BITMIME, RFC 6531 SMTPUTF8 and RFC 1870 SIZE), and
//! no STARTTLS: it only ever listens on a local address.
//!
//! The server runs on its own thread with its own Tokio runtime, so it works
//! the same from `#[tokio::test]` (any flavour), from plain `#[test]`s with a
//! blocking client, and from benchmarks. Dropping the [`SmtpSink`] stops it and
//! closes every connection.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use std::time::Duration;
//! let sink = mentor_status_smtp_sink::SmtpSink::start()?;
//! // point the mailer at sink.url() (smtp://127.0.0.1:PORT), send, then:
//! let messages = sink.wait_for(1, Duration::from_secs(5)).await;
//! assert_eq!(messages[0].subject().as_deref(), Some("Hei"));
//! sink.faults().reject_recipient("nobody@example.org");
//! # Ok(()) }
//! ```

mod faults;
mod message;
mod session;

use std::collections::HashSet;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, mpsc as std_mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::task::JoinSet;

pub use faults::{Faults, Stats};
pub use mail_parser;
pub use message::ReceivedMessage;

/// The largest message accepted, advertised with the `SIZE` extension.
pub const MAX_MESSAGE_SIZE: usize = 25 * 1024 * 1024;

/// The name the sink gives itself in its greeting and EHLO reply.
pub const HOSTNAME: &str = "smtp-sink.localhost";

/// A running SMTP server on a local address; see the crate documentation.
///
/// Dropping it stops the server and closes every open connection.
pub struct SmtpSink {
    addr: SocketAddr,
    shared: Arc<Shared>,
    commands: Option<mpsc::UnboundedSender<Command>>,
    thread: Option<JoinHandle<()>>,
}

impl SmtpSink {
    /// Starts a sink on `127.0.0.1` on a free port.
    pub fn start() -> io::Result<SmtpSink> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Starts a sink on `addr` (port 0 picks a free port).
    pub fn start_on(addr: impl ToSocketAddrs) -> io::Result<SmtpSink> {
        let addr = addr
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address to bind to"))?;
        let shared = Arc::new(Shared::new());
        let (commands, command_rx) = mpsc::unbounded_channel();
        let (ready_tx, ready_rx) = std_mpsc::channel();
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name(format!("smtp-sink {addr}"))
            .spawn(move || server_thread(addr, thread_shared, command_rx, ready_tx))?;
        let addr = match ready_rx.recv() {
            Ok(result) => result?,
            Err(_) => {
                return Err(io::Error::other("the smtp-sink thread died while starting"));
            }
        };
        tracing::debug!(%addr, "smtp-sink listening");
        Ok(SmtpSink {
            addr,
            shared,
            commands: Some(commands),
            thread: Some(thread),
        })
    }

    /// The address the sink listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port the sink listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `smtp://HOST:PORT`, e.g. `smtp://127.0.0.1:40123` (plain SMTP, no TLS).
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// Every message received so far (since the last [`clear`](Self::clear)),
    /// oldest first.
    pub fn messages(&self) -> Vec<ReceivedMessage> {
        lock(&self.shared.messages).clone()
    }

    /// Waits until at least `count` messages have been received (since the
    /// last [`clear`](Self::clear)) and returns all of them.
    ///
    /// # Panics
    /// When `timeout` passes first, with a message saying what did arrive.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<ReceivedMessage> {
        let mut rx = self.shared.count.subscribe();
        let waited = tokio::time::timeout(timeout, rx.wait_for(|n| *n >= count)).await;
        if waited.is_err() {
            let messages = self.messages();
            let summary: Vec<String> = messages.iter().map(ReceivedMessage::summary).collect();
            panic!(
                "smtp-sink: timed out after {timeout:?} waiting for {count} message(s); \
                 {} received: {summary:#?}\nstats: {:?}",
                messages.len(),
                self.stats()
            );
        }
        self.messages()
    }

    /// Forgets every message received so far (the counters in
    /// [`stats`](Self::stats) are kept).
    pub fn clear(&self) {
        let mut messages = lock(&self.shared.messages);
        messages.clear();
        self.shared.count.send_replace(0);
    }

    /// A receiver of every message received from now on (for the binary and
    /// for tools that stream what arrives).
    pub fn subscribe(&self) -> broadcast::Receiver<ReceivedMessage> {
        self.shared.events.subscribe()
    }

    /// The fault-injection handle; changes apply to the running server at
    /// once (to the next command of every connection).
    pub fn faults(&self) -> Faults {
        Faults::new(Arc::clone(&self.shared))
    }

    /// Counters since the start.
    pub fn stats(&self) -> Stats {
        self.shared.counters.snapshot()
    }

    /// From now on only `user` with `password` may authenticate (others get
    /// `535`), and `MAIL` without authentication gets `530`.
    pub fn require_auth(&self, user: impl Into<String>, password: impl Into<String>) {
        *lock(&self.shared.auth) = Some((user.into(), password.into()));
    }

    /// Back to the default: authentication is optional and any credentials
    /// are accepted.
    pub fn accept_any_auth(&self) {
        *lock(&self.shared.auth) = None;
    }

    /// Closes the listening socket and every open connection; new connections
    /// are refused until [`resume_listening`](Self::resume_listening). Returns
    /// once all of them are closed. Received messages are kept.
    pub fn stop_listening(&self) {
        let (tx, rx) = std_mpsc::channel();
        if self.send(Command::Stop(tx)) {
            let _ = rx.recv();
        }
    }

    /// Listens again on the same address (and port) after
    /// [`stop_listening`](Self::stop_listening); does nothing when listening.
    pub fn resume_listening(&self) -> io::Result<()> {
        let (tx, rx) = std_mpsc::channel();
        if !self.send(Command::Resume(tx)) {
            return Err(io::Error::other("the smtp-sink thread is gone"));
        }
        rx.recv()
            .unwrap_or_else(|_| Err(io::Error::other("the smtp-sink thread is gone")))
    }

    /// Whether the sink accepts connections now.
    pub fn is_listening(&self) -> bool {
        self.shared.listening.load(Ordering::SeqCst)
    }

    fn send(&self, command: Command) -> bool {
        self.commands
            .as_ref()
            .is_some_and(|commands| commands.send(command).is_ok())
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        // Closing the command channel ends the server thread, whose runtime
        // then drops the listener and every connection.
        drop(self.commands.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl std::fmt::Debug for SmtpSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSink")
            .field("addr", &self.addr)
            .field("listening", &self.is_listening())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// State shared by the handle, the faults handle and the server.
pub(crate) struct Shared {
    messages: Mutex<Vec<ReceivedMessage>>,
    /// How many messages `messages` holds, for `wait_for`.
    count: watch::Sender<usize>,
    events: broadcast::Sender<ReceivedMessage>,
    auth: Mutex<Option<(String, String)>>,
    listening: AtomicBool,
    pub(crate) faults: FaultState,
    pub(crate) counters: Counters,
}

impl Shared {
    fn new() -> Self {
        Shared {
            messages: Mutex::new(Vec::new()),
            count: watch::Sender::new(0),
            events: broadcast::Sender::new(1024),
            auth: Mutex::new(None),
            listening: AtomicBool::new(false),
            faults: FaultState::default(),
            counters: Counters::default(),
        }
    }

    /// Stores a received message and wakes whoever waits for it.
    pub(crate) fn record(&self, message: ReceivedMessage) {
        self.counters
            .messages_accepted
            .fetch_add(1, Ordering::SeqCst);
        {
            let mut messages = lock(&self.messages);
            messages.push(message.clone());
            self.count.send_replace(messages.len());
        }
        // Nobody listening is fine.
        let _ = self.events.send(message);
    }

    /// `None`: any credentials do and authentication is optional.
    pub(crate) fn required_auth(&self) -> Option<(String, String)> {
        lock(&self.auth).clone()
    }
}

#[derive(Default)]
pub(crate) struct FaultState {
    /// Lower-cased addresses whose RCPT gets 550.
    pub(crate) rejected: Mutex<HashSet<String>>,
    pub(crate) temporary_failure: AtomicBool,
    pub(crate) drop_after_data: AtomicUsize,
    pub(crate) delay: Mutex<Duration>,
}

impl FaultState {
    pub(crate) fn is_rejected(&self, address: &str) -> bool {
        lock(&self.rejected).contains(&address.to_lowercase())
    }

    /// Takes one from the drop-after-data budget; true when this message is
    /// to be dropped.
    pub(crate) fn take_drop(&self) -> bool {
        self.drop_after_data
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }

    pub(crate) fn delay(&self) -> Duration {
        *lock(&self.delay)
    }
}

#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) connections: AtomicU64,
    pub(crate) messages_accepted: AtomicU64,
    pub(crate) recipients_rejected: AtomicU64,
    pub(crate) temporary_failures: AtomicU64,
    pub(crate) dropped_after_data: AtomicU64,
    pub(crate) auth_failures: AtomicU64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> Stats {
        let get = |counter: &AtomicU64| counter.load(Ordering::SeqCst);
        Stats {
            connections: get(&self.connections),
            messages_accepted: get(&self.messages_accepted),
            recipients_rejected: get(&self.recipients_rejected),
            temporary_failures: get(&self.temporary_failures),
            dropped_after_data: get(&self.dropped_after_data),
            auth_failures: get(&self.auth_failures),
        }
    }
}

/// Locks a mutex, ignoring poisoning (the data stays consistent: every
/// critical section is a single update).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

enum Command {
    Stop(std_mpsc::Sender<()>),
    Resume(std_mpsc::Sender<io::Result<()>>),
}

/// A listening socket with its accept loop and connections.
struct Listening {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Listening {
    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

fn server_thread(
    addr: SocketAddr,
    shared: Arc<Shared>,
    mut commands: mpsc::UnboundedReceiver<Command>,
    ready: std_mpsc::Sender<io::Result<SocketAddr>>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    runtime.block_on(async move {
        let listener = match bind(addr) {
            Ok(listener) => listener,
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        };
        let addr = match listener.local_addr() {
            Ok(addr) => addr,
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        };
        let mut listening = Some(listen(listener, &shared));
        let _ = ready.send(Ok(addr));
        while let Some(command) = commands.recv().await {
            match command {
                Command::Stop(done) => {
                    if let Some(listening) = listening.take() {
                        listening.stop().await;
                        tracing::debug!(%addr, "smtp-sink stopped listening");
                    }
                    let _ = done.send(());
                }
                Command::Resume(done) => {
                    let result = if listening.is_some() {
                        Ok(())
                    } else {
                        bind(addr).map(|listener| {
                            listening = Some(listen(listener, &shared));
                            tracing::debug!(%addr, "smtp-sink listening again");
                        })
                    };
                    let _ = done.send(result);
                }
            }
        }
        if let Some(listening) = listening.take() {
            listening.stop().await;
        }
    });
}

/// Binds with `SO_REUSEADDR` so that the same port can be bound again right
/// after `stop_listening` (closed connections linger in TIME_WAIT).
fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

fn listen(listener: TcpListener, shared: &Arc<Shared>) -> Listening {
    let (stop, stop_rx) = oneshot::channel();
    shared.listening.store(true, Ordering::SeqCst);
    let task = tokio::spawn(accept_loop(listener, Arc::clone(shared), stop_rx));
    Listening { stop, task }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, mut stop: oneshot::Receiver<()>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    shared.counters.connections.fetch_add(1, Ordering::SeqCst);
                    connections.spawn(session::serve(stream, peer, Arc::clone(&shared)));
                }
                Err(e) => {
                    // E.g. out of file descriptors: back off a little.
                    tracing::warn!(error = %e, "smtp-sink accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    shared.listening.store(false, Ordering::SeqCst);
    drop(listener);
    // Aborting a connection's task drops (closes) its socket.
    connections.shutdown().await;
}
