//! The service layer: turns a command into validate, persist in one transaction, apply to
//! the in-memory state, answer.
//!
//! All writes go through one writer thread that owns the SQLite connection. It takes the
//! commands waiting in its queue as one batch (group commit) in one transaction: each command
//! decides first (a refusal touches nothing), then emits its events; the batch ends in one
//! COMMIT, and only then does every caller get its own answer.
//! Nothing is acknowledged before its COMMIT has returned.
//!
//! Reads (positions, first-that-fits) take a read lock on the in-memory state and never
//! touch SQLite.

mod commands;
pub mod idempotency;
mod scheduler;
mod writer;

pub use commands::{
    Command, ImportReport, NewDistrict, NewGroup, NewKindergarten, NewPlaces, Outcome, TickReport,
    ALREADY_ERASED, DOCUMENT_ALREADY_REQUESTED, DOCUMENT_REASON_MISSING, ERASURE_ACTIVE,
    PLACES_PER_REPORT_MAX, REFUSAL_TEXT_CHARS_MAX, ROUND_CLOSED, ROUND_CLOSES_BEFORE,
    ROUND_DATE_PAST, ROUND_KINDERGARTEN_UNKNOWN, ROUND_OVERLAPS, ROUND_PLACES_CLOSED,
};
pub use scheduler::Wakeup;
pub use writer::WriterStats;

use crate::clock::Clock;
use crate::domain::application::{Application, ApplicationId, Refusal};
use crate::domain::event::Actor;
use crate::domain::state::QueueState;
use crate::domain::waiting_list::Position;
use crate::store::anchor::Anchor;
pub use crate::store::checkpoint::Policy as Checkpoints;
pub use crate::store::StoreOptions;
use crate::store::{LoadError, Store, StoreError};
use std::path::Path;
use std::sync::{Arc, RwLock, RwLockReadGuard};
use tokio::sync::{mpsc, oneshot};

/// How many commands may wait for the writer. A full queue makes callers wait (backpressure)
/// instead of letting memory grow without bound.
pub const QUEUE_CAPACITY: usize = 8192;
/// The most commands one transaction takes. Bounds the latency a batch adds to its first
/// command and the work lost to a failed COMMIT.
pub const BATCH_MAX: usize = 1024;

/// Why a command was not carried out.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// Refused by validation; the reason has a stable code.
    #[error("refused: {0}")]
    Refused(#[from] Refusal),
    /// An attached file refused (its type, its contents, the limits); stable codes.
    #[error("attachment refused: {0}")]
    Attachment(#[from] crate::domain::attachment::AttachmentRefusal),
    #[error("no such application")]
    NotFound,
    /// The command does not fit the current state (e.g. withdrawing a withdrawn application).
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// The actor may not do this to this object (e.g. another kindergarten's referral).
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// The catalog change is invalid (e.g. a duplicate district code).
    #[error("invalid: {0}")]
    Invalid(String),
    /// Storage failed; nothing of this command is stored. Details are in the log only.
    #[error("storage failure")]
    Storage(#[source] Arc<StoreError>),
    #[error("the service is shutting down")]
    Unavailable,
    /// Not admitted: the writer's queue is at its ceiling. Nothing was done; retry shortly.
    #[error("the writer's queue is full")]
    Busy,
    /// Not admitted: the caller's quota for this kind of command is spent. Nothing was done;
    /// retry after this many seconds.
    #[error("over the quota; retry after {0} s")]
    Throttled(u64),
    /// The Idempotency-Key was first used for a different request.
    #[error("the idempotency key was used for a different request")]
    IdempotencyKeyReused,
}

impl From<StoreError> for CommandError {
    fn from(error: StoreError) -> CommandError {
        CommandError::Storage(Arc::new(error))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Load(#[from] LoadError),
}

pub(crate) struct Envelope {
    command: Command,
    actor: Actor,
    idempotency: Option<Idempotency>,
    reply: oneshot::Sender<Result<Outcome, CommandError>>,
}

/// A client's Idempotency-Key for one command. The writer looks the key up inside the
/// command's transaction and stores the answer in it, so a retry gets the first answer
/// (`Outcome::Replayed`) and nothing is done twice, even across a crash.
#[derive(Clone, Debug)]
pub struct Idempotency {
    /// Whose key it is ("staff:<name>", or "portal" for parents): keys of different
    /// callers never meet.
    pub scope: String,
    pub key: String,
    /// SHA-256 of what was asked (method, path, body): the same key with a different
    /// request is refused, not answered with the other request's answer.
    pub fingerprint: [u8; 32],
}

/// A handle to the running service. Cheap to clone; when the last handle is dropped the
/// scheduler stops and the writer finishes what it was given.
#[derive(Clone)]
pub struct Service {
    commands: mpsc::Sender<Envelope>,
    // A std RwLock: it is never held across an await, and reads are short.
    state: Arc<RwLock<QueueState>>,
    threads: Arc<Threads>,
    stats: Arc<WriterStats>,
    clock: Arc<dyn Clock>,
}

/// The background threads; dropping the last handle stops the scheduler.
struct Threads {
    wakeup: Arc<Wakeup>,
    scheduler: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
    writer: std::sync::Mutex<Option<writer::WriterHandle>>,
    /// The notifications' sender, when the service was started with a channel.
    sender: std::sync::Mutex<Option<crate::notify::Sender>>,
}

impl Drop for Threads {
    fn drop(&mut self) {
        self.wakeup.stop();
    }
}

impl Service {
    /// Opens the database, rebuilds the state (checking the hash chain), starts the writer,
    /// processes everything that fell due while the service was down, then starts the timer.
    pub fn start(path: &Path, clock: Arc<dyn Clock>) -> Result<Service, StartError> {
        Service::start_with(path, clock, &StoreOptions::default())
    }

    /// `start` with the given checkpoint policy and anchor file. As the database's one writer: a second
    /// start on the same file is refused before it touches it (`StoreError::Locked`), and a
    /// database that fails its integrity checks or is behind its anchor is not served.
    pub fn start_with(
        path: &Path,
        clock: Arc<dyn Clock>,
        options: &StoreOptions,
    ) -> Result<Service, StartError> {
        let store = Store::open_writer(path, options)?;
        let loaded = store.load()?;
        let (seq, hash) = loaded.head;
        store.take_anchor(Anchor { seq, hash })?;
        let state = Arc::new(RwLock::new(loaded.state));
        let (commands, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let stats = Arc::new(WriterStats::default());
        let wakeup = Arc::new(Wakeup::default());
        clock.on_change(Arc::downgrade(&wakeup));
        let parts = writer::WriterParts {
            store,
            head: loaded.head,
            state: Arc::clone(&state),
            clock: Arc::clone(&clock),
            stats: Arc::clone(&stats),
            wakeup: Arc::clone(&wakeup),
        };
        let writer = writer::spawn(parts, receiver);
        let service = Service {
            commands: commands.clone(),
            state: Arc::clone(&state),
            threads: Arc::new(Threads {
                wakeup: Arc::clone(&wakeup),
                scheduler: std::sync::Mutex::new(None),
                writer: std::sync::Mutex::new(Some(writer)),
                sender: std::sync::Mutex::new(None),
            }),
            stats,
            clock: Arc::clone(&clock),
        };
        // Overdue deadlines first: before anyone is served, before the timer runs.
        match service.submit_blocking(Command::Tick, Actor::system()) {
            Ok(_) | Err(CommandError::Unavailable) => {}
            Err(error) => tracing::error!(%error, "processing overdue deadlines at start failed"),
        }
        let scheduler = scheduler::Scheduler {
            commands,
            state,
            clock,
            wakeup,
        }
        .spawn();
        *service.threads.scheduler.lock().expect("not poisoned") = Some(scheduler);
        Ok(service)
    }

    /// `start`, then the notifications' sender on `channel` (see `notify`): it delivers the
    /// outbox from its own connection until `shutdown`. Started after the overdue deadlines
    /// were processed, so that no reminder goes out for a referral that has lapsed meanwhile.
    pub fn start_notifying(
        path: &Path,
        clock: Arc<dyn Clock>,
        options: &StoreOptions,
        channel: Box<dyn crate::notify::Channel>,
        config: crate::notify::SenderConfig,
    ) -> Result<Service, StartError> {
        let service = Service::start_with(path, Arc::clone(&clock), options)?;
        let sender = crate::notify::Sender::spawn(path, channel, clock, config)?;
        *service.threads.sender.lock().expect("not poisoned") = Some(sender);
        Ok(service)
    }

    pub async fn submit(&self, command: Command, actor: Actor) -> Result<Outcome, CommandError> {
        self.submit_idempotent(command, actor, None).await
    }

    /// `submit` with the client's Idempotency-Key, if it sent one.
    pub async fn submit_idempotent(
        &self,
        command: Command,
        actor: Actor,
        idempotency: Option<Idempotency>,
    ) -> Result<Outcome, CommandError> {
        let (reply, answer) = oneshot::channel();
        let envelope = Envelope {
            command,
            actor,
            idempotency,
            reply,
        };
        self.commands
            .send(envelope)
            .await
            .map_err(|_| CommandError::Unavailable)?;
        answer.await.map_err(|_| CommandError::Unavailable)?
    }

    /// `submit` for callers outside an async runtime (the command line, benches).
    pub fn submit_blocking(&self, command: Command, actor: Actor) -> Result<Outcome, CommandError> {
        self.submit_many_blocking(vec![(command, actor)])
            .pop()
            .expect("one answer per command")
    }

    /// Sends all commands before waiting for any answer, so the writer can batch them.
    pub fn submit_many_blocking(
        &self,
        commands: Vec<(Command, Actor)>,
    ) -> Vec<Result<Outcome, CommandError>> {
        let answers: Vec<_> = commands
            .into_iter()
            .map(|(command, actor)| {
                let (reply, answer) = oneshot::channel();
                let sent = self.commands.blocking_send(Envelope {
                    command,
                    actor,
                    idempotency: None,
                    reply,
                });
                (sent.is_ok(), answer)
            })
            .collect();
        answers
            .into_iter()
            .map(|(sent, answer)| {
                if !sent {
                    return Err(CommandError::Unavailable);
                }
                answer
                    .blocking_recv()
                    .map_err(|_| CommandError::Unavailable)?
            })
            .collect()
    }

    pub async fn register(
        &self,
        form: crate::domain::application::RegistrationForm,
        channel: crate::domain::application::Channel,
        actor: Actor,
    ) -> Result<Application, CommandError> {
        match self
            .submit(Command::Register { form, channel }, actor)
            .await?
        {
            Outcome::Registered { application, .. } => Ok(*application),
            other => unreachable!("a registration answered {other:?}"),
        }
    }

    /// Processes what is due now and waits for it (tests and the manual clock use this to
    /// be exact; the timer does the same on its own).
    pub fn tick_blocking(&self) -> Result<TickReport, CommandError> {
        match self.submit_blocking(Command::Tick, Actor::system())? {
            Outcome::Ticked(report) => Ok(report),
            other => unreachable!("a tick answered {other:?}"),
        }
    }

    pub async fn tick(&self) -> Result<TickReport, CommandError> {
        match self.submit(Command::Tick, Actor::system()).await? {
            Outcome::Ticked(report) => Ok(report),
            other => unreachable!("a tick answered {other:?}"),
        }
    }

    /// Whether a write can commit now: a command that changes nothing goes through the
    /// writer's queue and its transaction (`BEGIN IMMEDIATE` … `COMMIT`). An error says why
    /// not: the database is locked by another writer, read-only, or the writer has stopped.
    pub async fn probe_writer(&self) -> Result<(), CommandError> {
        self.submit(Command::Probe, Actor::system())
            .await
            .map(|_| ())
    }

    /// Whether the timer thread (deadlines, lapses, reminders) is alive.
    pub fn scheduler_running(&self) -> bool {
        self.threads
            .scheduler
            .lock()
            .expect("not poisoned")
            .as_ref()
            .is_some_and(|thread| !thread.is_finished())
    }

    /// Commands waiting in the writer's queue (not counting the batch being written).
    pub fn pending_commands(&self) -> usize {
        self.commands.max_capacity() - self.commands.capacity()
    }

    /// The service's time (the manual clock's, when it runs on one).
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    pub fn stats(&self) -> &WriterStats {
        &self.stats
    }

    pub fn position(&self, id: ApplicationId) -> Option<Position> {
        self.read().position(id)
    }

    /// A read view of the in-memory state. Hold it briefly: the writer waits for it to apply
    /// the next event.
    pub fn read(&self) -> RwLockReadGuard<'_, QueueState> {
        self.state
            .read()
            .expect("state lock poisoned: a writer panicked mid-update")
    }

    /// Stops the timer, lets the writer finish what it has, and waits for both. Other
    /// handles still alive keep the writer running.
    pub fn shutdown(self) {
        let Service {
            commands, threads, ..
        } = self;
        threads.wakeup.stop();
        let sender = threads.sender.lock().expect("not poisoned").take();
        if let Some(sender) = sender {
            sender.stop();
        }
        let scheduler = threads.scheduler.lock().expect("not poisoned").take();
        if let Some(scheduler) = scheduler {
            let _ = scheduler.join();
        }
        drop(commands);
        if let Ok(threads) = Arc::try_unwrap(threads) {
            let writer = threads.writer.lock().expect("not poisoned").take();
            if let Some(writer) = writer {
                writer.join();
            }
        }
    }
}
