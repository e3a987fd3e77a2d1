//! The writer thread: group commit over one SQLite connection.

use super::commands::{decide, Context, Outcome};
use super::{CommandError, Envelope, BATCH_MAX};
use crate::clock::Clock;
use crate::domain::event::{Event, Hash, RecordedEvent};
use crate::domain::state::{apply_to_catalog, QueueState};
use crate::store::{Store, StoreError};
use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use tokio::sync::mpsc;

pub struct WriterHandle {
    thread: std::thread::JoinHandle<()>,
}

/// Counters of the writer's work, readable while it runs.
#[derive(Debug, Default)]
pub struct WriterStats {
    /// Transactions committed (one per batch).
    pub commits: AtomicU64,
    /// Commands answered, accepted or refused.
    pub commands: AtomicU64,
}

impl WriterHandle {
    pub fn join(self) {
        if let Err(panic) = self.thread.join() {
            std::panic::resume_unwind(panic);
        }
    }
}

pub fn spawn(
    store: Store,
    head: (u64, Hash),
    state: Arc<RwLock<QueueState>>,
    clock: Arc<dyn Clock>,
    receiver: mpsc::Receiver<Envelope>,
    stats: Arc<WriterStats>,
) -> WriterHandle {
    let mut writer = Writer {
        store,
        head,
        state,
        clock,
        receiver,
        stats,
    };
    let thread = std::thread::Builder::new()
        .name("kezek-writer".into())
        .spawn(move || writer.run())
        .expect("the writer thread starts");
    WriterHandle { thread }
}

struct Writer {
    store: Store,
    /// The journal's last (sequence, hash): the next event links on to it.
    head: (u64, Hash),
    state: Arc<RwLock<QueueState>>,
    clock: Arc<dyn Clock>,
    receiver: mpsc::Receiver<Envelope>,
    stats: Arc<WriterStats>,
}

type Answer = Result<Outcome, CommandError>;

impl Writer {
    fn run(&mut self) {
        while let Some(batch) = self.next_batch() {
            self.process(batch);
        }
    }

    /// Waits for one command, then takes whatever else is already waiting, up to BATCH_MAX.
    fn next_batch(&mut self) -> Option<Vec<Envelope>> {
        let mut batch = vec![self.receiver.blocking_recv()?];
        while batch.len() < BATCH_MAX {
            match self.receiver.try_recv() {
                Ok(envelope) => batch.push(envelope),
                Err(_) => break,
            }
        }
        Some(batch)
    }

    fn process(&mut self, batch: Vec<Envelope>) {
        let head_before = self.head;
        let (answers, events) = match self.execute(batch.iter()) {
            Ok(done) => done,
            Err(error) => {
                // Could not even begin: nothing is stored, every caller hears so.
                tracing::error!(%error, "a batch could not be started");
                let _ = self.store.rollback();
                self.head = head_before;
                return reply_all_failed(batch, error);
            }
        };
        if let Err(error) = self.store.commit() {
            tracing::error!(%error, commands = batch.len(), "COMMIT failed; the batch is lost");
            let _ = self.store.rollback();
            self.head = head_before;
            return reply_all_failed(batch, error);
        }
        self.apply(&events);
        self.stats.commits.fetch_add(1, Ordering::Relaxed);
        self.stats
            .commands
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        for (envelope, answer) in batch.into_iter().zip(answers) {
            // A caller that gave up waiting is not an error: the change is committed.
            let _ = envelope.reply.send(answer);
        }
    }

    /// Runs every command of the batch in its own savepoint inside one transaction.
    fn execute<'a>(
        &mut self,
        batch: impl Iterator<Item = &'a Envelope>,
    ) -> Result<(Vec<Answer>, Vec<Event>), StoreError> {
        let now = self.clock.now();
        self.store.begin()?;
        let state = Arc::clone(&self.state);
        let state = state.read().expect("state lock poisoned");
        // Catalog changes of this batch are not in memory until COMMIT; a working copy
        // (made only when a batch changes the catalog) lets later commands see them.
        let mut catalog = Cow::Borrowed(&state.catalog);
        let mut answers = Vec::new();
        let mut events = Vec::new();
        for envelope in batch {
            let cx = Context {
                store: &self.store,
                catalog: &catalog,
                now,
                actor: &envelope.actor,
            };
            self.store.savepoint()?;
            let result = decide(envelope.command.clone(), &cx).and_then(|(outcome, event)| {
                let recorded = RecordedEvent::seal(
                    self.head.0,
                    self.head.1,
                    now,
                    envelope.actor.clone(),
                    &event,
                );
                self.store.record(&recorded, &event)?;
                Ok((outcome, event, (recorded.seq, recorded.hash)))
            });
            match result {
                Ok((outcome, event, head)) => {
                    self.store.release_savepoint()?;
                    if event.changes_catalog() {
                        apply_to_catalog(catalog.to_mut(), &event).expect(
                            "a decided catalog event applies to the catalog it was decided on",
                        );
                    }
                    self.head = head;
                    events.push(event);
                    answers.push(Ok(outcome));
                }
                Err(error) => {
                    self.store.rollback_to_savepoint()?;
                    if let CommandError::Storage(store_error) = &error {
                        tracing::error!(error = %store_error, "a command failed in storage");
                    }
                    answers.push(Err(error));
                }
            }
        }
        Ok((answers, events))
    }

    /// Applies committed events to memory. A failure here means memory and disk disagree:
    /// an invariant is broken, and continuing would serve wrong answers, so it panics.
    fn apply(&self, events: &[Event]) {
        let mut state = self.state.write().expect("state lock poisoned");
        for event in events {
            if let Err(error) = state.apply(event) {
                panic!(
                    "committed event {} does not apply to memory: {error}",
                    event.kind()
                );
            }
        }
    }
}

fn reply_all_failed(batch: Vec<Envelope>, error: StoreError) {
    let error = Arc::new(error);
    for envelope in batch {
        let _ = envelope
            .reply
            .send(Err(CommandError::Storage(Arc::clone(&error))));
    }
}
