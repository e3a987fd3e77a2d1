//! The writer thread: group commit over one SQLite connection.
//!
//! A command first decides (reading the state and the database), then emits its events one
//! by one through [`Tx::emit`]: each is sealed into the hash chain, written with its table
//! changes, and applied to the in-memory state at once, so that the command's next decision
//! (say, who gets the place a lapsed referral freed) sees it. A command that refuses must do
//! so before its first event; that is asserted. A storage failure after an event abandons
//! the whole batch: the transaction rolls back, the in-memory state is rebuilt from the
//! database, and every caller of the batch is told it failed.
//!
//! Readers may see a batch's effects up to one batch (milliseconds) before its COMMIT; no
//! answer is sent before it. If the COMMIT fails, those effects are undone by the rebuild.

use super::commands::{self, Command, Outcome};
use super::scheduler::Wakeup;
use super::{CommandError, Envelope, BATCH_MAX};
use crate::clock::Clock;
use crate::domain::event::{Actor, Event, Hash, RecordedEvent, SplitEvent};
use crate::domain::state::QueueState;
use crate::store::anchor::Anchor;
use crate::store::{Store, StoreError};
use chrono::{DateTime, Utc};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

pub struct WriterHandle {
    thread: std::thread::JoinHandle<()>,
}

impl WriterHandle {
    pub fn join(self) {
        if let Err(panic) = self.thread.join() {
            std::panic::resume_unwind(panic);
        }
    }
}

/// Counters of the writer's work, readable while it runs.
#[derive(Debug, Default)]
pub struct WriterStats {
    /// Transactions committed (one per batch).
    pub commits: AtomicU64,
    /// Commands answered, accepted or refused.
    pub commands: AtomicU64,
}

pub struct WriterParts {
    pub store: Store,
    pub head: (u64, Hash),
    pub state: Arc<RwLock<QueueState>>,
    pub clock: Arc<dyn Clock>,
    pub stats: Arc<WriterStats>,
    pub wakeup: Arc<Wakeup>,
}

/// The writer's own memory between batches.
#[derive(Default)]
pub struct Sweeps {
    /// The local day whose aging-out sweep is done: the sweep scans the oldest cohorts, so
    /// it runs once a day rather than at every tick. Not persisted: after a restart the
    /// first tick sweeps again, which finds nothing new.
    pub aging_swept_on: Option<chrono::NaiveDate>,
}

pub fn spawn(parts: WriterParts, receiver: mpsc::Receiver<Envelope>) -> WriterHandle {
    let mut writer = Writer {
        parts,
        receiver,
        sweeps: Sweeps::default(),
        last_batch_len: 0,
    };
    let thread = std::thread::Builder::new()
        .name("kezek-writer".into())
        .spawn(move || writer.run())
        .expect("the writer thread starts");
    WriterHandle { thread }
}

struct Writer {
    parts: WriterParts,
    receiver: mpsc::Receiver<Envelope>,
    sweeps: Sweeps,
    last_batch_len: usize,
}

/// Batches at least this large mean load: the next batch may wait to gather.
const GATHER_FROM_BATCH_LEN: usize = 8;
/// The longest a batch waits to gather: a fraction of one fsync on this class of disk.
const GATHER_WAIT: Duration = Duration::from_micros(300);
const GATHER_STEP: Duration = Duration::from_micros(50);

/// One command's view of the open transaction.
pub struct Tx<'a> {
    store: &'a Store,
    state: &'a RwLock<QueueState>,
    head: &'a mut (u64, Hash),
    now: DateTime<Utc>,
    actor: &'a Actor,
    emitted: usize,
    sweeps: &'a mut Sweeps,
}

impl Tx<'_> {
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    pub fn store(&self) -> &Store {
        self.store
    }

    /// True once a local day: whether the aging-out sweep for `today` is still to do.
    pub fn take_aging_sweep(&mut self, today: chrono::NaiveDate) -> bool {
        let due = self.sweeps.aging_swept_on != Some(today);
        self.sweeps.aging_swept_on = Some(today);
        due
    }

    /// The actor's name as it is recorded ("staff:operator-7").
    pub fn actor_name(&self) -> String {
        self.actor.0.clone()
    }

    /// Read the state. Drop the guard before the next `emit`, which needs the write lock.
    pub fn state(&self) -> RwLockReadGuard<'_, QueueState> {
        self.state.read().expect("state lock poisoned")
    }

    /// Records `event` in the journal and the tables, and applies it to memory.
    pub fn emit(&mut self, event: Event) -> Result<(), CommandError> {
        debug_assert!(
            !matches!(event, Event::AttachmentAdded { .. }),
            "an attachment's event goes with its bytes: emit_attachment"
        );
        self.emit_recorded(event).map(|_| ())
    }

    /// Records a file's `AttachmentAdded` event and, in the same transaction, its row with
    /// the bytes the event fingerprints: neither can be committed without the other.
    pub fn emit_attachment(
        &mut self,
        id: crate::domain::application::ApplicationId,
        attachment: crate::domain::attachment::AttachmentRecord,
        accepted: &crate::domain::attachment::Accepted,
    ) -> Result<(), CommandError> {
        let event = Event::AttachmentAdded {
            id,
            attachment: attachment.clone(),
        };
        let recorded = self.emit_recorded(event)?;
        self.store
            .insert_attachment(&recorded, id, &attachment, accepted)?;
        Ok(())
    }

    fn emit_recorded(&mut self, event: Event) -> Result<RecordedEvent, CommandError> {
        let split = SplitEvent::salted(&event);
        self.record(event, split)
    }

    /// Emits `event`, whose public form and personal part the caller made already
    /// (`SplitEvent::salted`, on another thread): an import's batch
    /// splits its events beside the writer, which then only links, applies and stores them.
    pub fn emit_split(&mut self, event: Event, split: SplitEvent) -> Result<(), CommandError> {
        debug_assert!(
            !matches!(event, Event::AttachmentAdded { .. }),
            "an attachment's event goes with its bytes: emit_attachment"
        );
        self.record(event, split).map(|_| ())
    }

    fn record(&mut self, event: Event, split: SplitEvent) -> Result<RecordedEvent, CommandError> {
        debug_assert_eq!(split.kind, event.kind());
        let (seq, hash) = *self.head;
        let recorded = RecordedEvent::seal_split(seq, hash, self.now, self.actor.clone(), split);
        // Memory first, for the effects the tables record; should the store then fail, the
        // batch is abandoned and memory rebuilt from the database.
        let effects = {
            let mut state = self.state.write().expect("state lock poisoned");
            match state.apply_tracked(&event, self.now) {
                Ok(effects) => {
                    state.reports.credit(&self.actor.0, &event, self.now);
                    effects
                }
                // The command decided on this state; an event it cannot take is a bug.
                Err(error) => panic!(
                    "event {} ({}) does not apply: {error}",
                    recorded.seq,
                    event.kind()
                ),
            }
        };
        self.store.record(&recorded, &event, &effects)?;
        *self.head = (recorded.seq, recorded.hash);
        self.emitted += 1;
        Ok(recorded)
    }
}

type Answer = Result<Outcome, CommandError>;

/// The first answer to this key, if the key was used before: replayed for the same request,
/// refused for a different one. Only accepted commands are remembered: a refused one stored
/// nothing, so running it again is safe.
fn remembered_answer(
    store: &Store,
    idempotency: &super::Idempotency,
) -> Result<Option<Answer>, Arc<StoreError>> {
    let stored_key = super::idempotency::stored_key(idempotency);
    let Some(remembered) = store
        .remembered(&idempotency.scope, &stored_key)
        .map_err(Arc::new)?
    else {
        return Ok(None);
    };
    if remembered.fingerprint != idempotency.fingerprint {
        return Ok(Some(Err(CommandError::IdempotencyKeyReused)));
    }
    let corrupt = |why: &str| Arc::new(StoreError::corrupt("idempotency_keys", &stored_key, why));
    let text = super::idempotency::open(idempotency, &remembered.outcome)
        .ok_or_else(|| corrupt("the answer does not open with its key"))?;
    let outcome: Outcome = serde_json::from_str(&text).map_err(|e| corrupt(&e.to_string()))?;
    Ok(Some(Ok(Outcome::Replayed(Box::new(outcome)))))
}

impl Writer {
    fn run(&mut self) {
        while let Some(batch) = self.next_batch() {
            self.process(batch);
            self.parts.store.between_batches();
        }
        self.save_reports();
    }

    /// At a clean close, the reports' aggregates into the database beside the journal's head,
    /// before the store seals the files: the next sealed start reads them instead of
    /// replaying the journal. A failure costs that start its replay, nothing more.
    fn save_reports(&self) {
        let state = self.parts.state.read().expect("state lock poisoned");
        match self
            .parts
            .store
            .save_reports(self.parts.head.0, &state.reports)
        {
            Ok(()) => tracing::info!("the reports' aggregates saved at close"),
            Err(error) => tracing::warn!(%error, "saving the reports' aggregates failed"),
        }
    }

    /// Waits for one command, then takes whatever else is already waiting, up to BATCH_MAX.
    ///
    /// Under load (the last batch was large) it waits a little longer, at most GATHER_WAIT,
    /// for as many commands as the last batch had: the callers just answered send again
    /// within microseconds, and one fsync then covers them too (PostgreSQL's
    /// `commit_delay`). A lone request after a quiet spell is never delayed.
    fn next_batch(&mut self) -> Option<Vec<Envelope>> {
        let mut batch = vec![self.receiver.blocking_recv()?];
        self.drain_into(&mut batch);
        if self.last_batch_len >= GATHER_FROM_BATCH_LEN {
            let deadline = Instant::now() + GATHER_WAIT;
            while batch.len() < self.last_batch_len && Instant::now() < deadline {
                std::thread::sleep(GATHER_STEP);
                self.drain_into(&mut batch);
            }
        }
        self.last_batch_len = batch.len();
        Some(batch)
    }

    /// The committed head into the anchor, before anyone is answered (see store/anchor.rs).
    /// A failed write is logged, not fatal: the batch is durable, and an anchor left behind
    /// the database is the harmless direction (the next write or start advances it).
    fn anchor(&self) {
        let (seq, hash) = self.parts.head;
        if let Err(error) = self.parts.store.advance_anchor(Anchor { seq, hash }) {
            tracing::error!(%error, "the anchor could not be written");
        }
    }

    fn drain_into(&mut self, batch: &mut Vec<Envelope>) {
        while batch.len() < BATCH_MAX {
            match self.receiver.try_recv() {
                Ok(envelope) => batch.push(envelope),
                Err(_) => break,
            }
        }
    }

    fn process(&mut self, mut batch: Vec<Envelope>) {
        let head_before = self.parts.head;
        let deadline_before = self.next_deadline();
        let outcome = self.execute(&mut batch).and_then(|answers| {
            self.parts
                .store
                .commit()
                .map(|()| answers)
                .map_err(Arc::new)
        });
        match outcome {
            Ok(answers) => {
                if self.parts.head != head_before {
                    self.anchor();
                }
                let stats = &self.parts.stats;
                stats.commits.fetch_add(1, Ordering::Relaxed);
                stats
                    .commands
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                // The timer sleeps until the earliest deadline: wake it only if that moved.
                if self.next_deadline() != deadline_before {
                    self.parts.wakeup.notify();
                }
                for (envelope, answer) in batch.into_iter().zip(answers) {
                    // A caller that gave up waiting is not an error: the change is committed.
                    let _ = envelope.reply.send(answer);
                }
            }
            Err(error) => {
                tracing::error!(%error, commands = batch.len(), "a batch failed; nothing of it is stored");
                let _ = self.parts.store.rollback();
                self.parts.head = head_before;
                self.sweeps = Sweeps::default();
                self.rebuild_memory();
                for envelope in batch {
                    let _ = envelope
                        .reply
                        .send(Err(CommandError::Storage(Arc::clone(&error))));
                }
            }
        }
    }

    /// Runs every command of the batch inside one transaction. No savepoints: a command
    /// writes only through `Tx::emit`, and a refusal comes before its first event, so a
    /// refused command has nothing to undo (asserted).
    fn execute(&mut self, batch: &mut [Envelope]) -> Result<Vec<Answer>, Arc<StoreError>> {
        // Microseconds: what the tables and every comparison keep. A finer clock would put
        // instants in the journal that the rows cannot hold.
        let now = self.parts.clock.now();
        let now = DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now);
        let store = &self.parts.store;
        store.begin().map_err(Arc::new)?;
        let mut answers = Vec::with_capacity(batch.len());
        for envelope in batch.iter_mut() {
            let mut tx = Tx {
                store,
                state: &self.parts.state,
                head: &mut self.parts.head,
                now,
                actor: &envelope.actor,
                emitted: 0,
                sweeps: &mut self.sweeps,
            };
            if let Some(idempotency) = &envelope.idempotency {
                if let Some(answer) = remembered_answer(store, idempotency)? {
                    answers.push(answer);
                    continue;
                }
            }
            // Moved out, not cloned: nothing reads the command after it has run.
            let command = std::mem::replace(&mut envelope.command, Command::Tick);
            let result = commands::run(command, &mut tx);
            let emitted = tx.emitted;
            match result {
                Err(CommandError::Storage(error)) => return Err(error),
                Err(refusal) => {
                    assert_eq!(
                        emitted, 0,
                        "a command refused after emitting events: {refusal}"
                    );
                    answers.push(Err(refusal));
                }
                Ok(outcome) => {
                    if let Some(idempotency) = &envelope.idempotency {
                        let text = serde_json::to_string(&outcome)
                            .expect("outcomes serialize: all keys are strings");
                        store
                            .remember(
                                &idempotency.scope,
                                &super::idempotency::stored_key(idempotency),
                                &idempotency.fingerprint,
                                &super::idempotency::seal(idempotency, &text),
                                now,
                            )
                            .map_err(Arc::new)?;
                    }
                    answers.push(Ok(outcome));
                }
            }
        }
        Ok(answers)
    }

    fn next_deadline(&self) -> Option<DateTime<Utc>> {
        self.parts
            .state
            .read()
            .expect("state lock poisoned")
            .next_deadline()
    }

    /// After a failed batch memory may hold events that are not on disk: start again from
    /// the database, the source of truth. If even that fails, nothing can be served safely.
    fn rebuild_memory(&mut self) {
        let connection = self.parts.store.connection();
        let loaded = crate::store::load_state(connection).and_then(|mut state| {
            state.reports = crate::store::load_reports(connection)?;
            Ok(state)
        });
        match loaded {
            Ok(state) => *self.parts.state.write().expect("state lock poisoned") = state,
            Err(error) => panic!("cannot rebuild the state after a failed batch: {error}"),
        }
    }
}
