//! The sender: a thread of its own that takes due messages from the outbox, hands them to
//! the channel, and records each outcome in a small transaction on its own connection (not
//! the writer's: WAL lets both work, and its write waits for the write lock between the
//! writer's batches).
//!
//! A message is marked delivered only after the channel took it and flushed, so a crash
//! in between makes it due again after the restart; the channel's idempotency per message
//! id (the file channel) or its stable Message-ID (SMTP) makes that repeat harmless. A
//! failure is retried with exponential backoff and jitter, capped; a permanent one is kept
//! with its `last_error` and not tried again.
//!
//! Time is the service's `Clock`: a reminder is due at its instant on that clock, and so
//! is a retry. With a manual clock both wait for the clock to move.

use super::channels::{Channel, Delivered, DeliveryError};
use crate::clock::Clock;
use crate::store::{Attempt, Outbox, OutboxCounts, StoreError};
use chrono::{DateTime, Duration, Utc};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

#[derive(Clone, Debug)]
pub struct SenderConfig {
    /// How often the thread looks for due messages when it found none.
    pub poll: std::time::Duration,
    /// The most messages one pass takes (one flush, one transaction).
    pub batch: usize,
    /// The wait after the first failure; doubled after each next one.
    pub backoff_base: Duration,
    /// The longest wait between two attempts.
    pub backoff_cap: Duration,
    /// How long a delivered message is kept before it is purged (its texts name the child
    /// and the parent's address); `None`: for ever. Undelivered ones are never purged.
    pub keep_delivered: Option<Duration>,
}

/// How often the sender looks for delivered messages to purge.
const PURGE_EVERY_HOURS: i64 = 1;
/// Messages deleted per transaction, so that the writer never waits long for the lock.
const PURGE_BATCH: usize = 1_000;

/// Delivered messages are kept this long by default (`[outbox] keep_delivered_days`): long
/// enough to answer "did you tell me?" about a referral's whole validity and its appeal,
/// short of keeping every parent's address in a table for ever.
pub const KEEP_DELIVERED_DAYS_DEFAULT: u32 = 90;

impl Default for SenderConfig {
    fn default() -> Self {
        SenderConfig {
            poll: std::time::Duration::from_millis(250),
            batch: 64,
            backoff_base: Duration::seconds(30),
            backoff_cap: Duration::hours(1),
            keep_delivered: Some(Duration::days(KEEP_DELIVERED_DAYS_DEFAULT.into())),
        }
    }
}

/// The wait before attempt `attempts + 1`, after `attempts` failures (at least one):
/// `base * 2^(attempts-1)`, capped, then drawn uniformly from its upper half so that
/// messages that failed together do not all come back together.
pub fn backoff(attempts: u32, config: &SenderConfig, rng: &mut impl Rng) -> Duration {
    let doublings = attempts.saturating_sub(1).min(30);
    let base = config.backoff_base.num_milliseconds().max(1);
    let cap = config.backoff_cap.num_milliseconds().max(base);
    let full = base.saturating_mul(1i64 << doublings).min(cap);
    Duration::milliseconds(rng.random_range(full / 2..=full))
}

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PassReport {
    /// Messages taken from the outbox.
    pub taken: usize,
    pub delivered: usize,
    /// Delivered nowhere: the channel cannot carry them (phone numbers over e-mail).
    pub skipped: usize,
    /// Failed, to be retried.
    pub retrying: usize,
    /// Failed for good.
    pub given_up: usize,
}

impl PassReport {
    fn add(&mut self, other: PassReport) {
        self.taken += other.taken;
        self.delivered += other.delivered;
        self.skipped += other.skipped;
        self.retrying += other.retrying;
        self.given_up += other.given_up;
    }
}

/// Delivers what is due, one pass at a time. The sender thread runs it in a loop; tests
/// may run passes themselves, exactly.
pub struct Deliverer {
    outbox: Outbox,
    channel: Box<dyn Channel>,
    clock: Arc<dyn Clock>,
    config: SenderConfig,
    rng: SmallRng,
    /// Outcomes a failed transaction could not record (the write lock was not to be had):
    /// recorded before anything else is delivered, so that a message the channel took is
    /// not offered to it again by this process.
    unrecorded: Vec<Attempt>,
    unrecorded_at: Option<DateTime<Utc>>,
    /// When delivered messages were last purged.
    purged_at: Option<DateTime<Utc>>,
}

impl Deliverer {
    pub fn new(
        db: &Path,
        channel: Box<dyn Channel>,
        clock: Arc<dyn Clock>,
        config: SenderConfig,
    ) -> Result<Deliverer, StoreError> {
        Ok(Deliverer {
            outbox: Outbox::open(db)?,
            channel,
            clock,
            config,
            rng: SmallRng::from_os_rng(),
            unrecorded: Vec::new(),
            unrecorded_at: None,
            purged_at: None,
        })
    }

    /// Purges what was delivered longer ago than the configured time, once an hour (and at
    /// the first pass), in small transactions. Answers how many went.
    pub fn purge(&mut self) -> Result<usize, StoreError> {
        let Some(keep) = self.config.keep_delivered else {
            return Ok(0);
        };
        let now = self.clock.now();
        let due = self
            .purged_at
            .is_none_or(|at| now - at >= Duration::hours(PURGE_EVERY_HOURS));
        if !due {
            return Ok(0);
        }
        let mut purged = 0;
        loop {
            let deleted = self.outbox.purge_delivered(now - keep, PURGE_BATCH)?;
            purged += deleted;
            if deleted < PURGE_BATCH {
                break;
            }
        }
        self.purged_at = Some(now);
        Ok(purged)
    }

    /// Delivers up to one batch of what is due now and records the outcomes.
    pub fn pass(&mut self) -> Result<PassReport, StoreError> {
        self.record_leftovers()?;
        let purged = self.purge()?;
        if purged > 0 {
            tracing::info!(purged, "delivered messages purged");
        }
        let now = self.clock.now();
        let due = self.outbox.due(now, self.config.batch)?;
        let mut report = PassReport {
            taken: due.len(),
            ..PassReport::default()
        };
        if due.is_empty() {
            return Ok(report);
        }
        let name = self.channel.name();
        let mut attempts = Vec::with_capacity(due.len());
        for message in &due {
            let attempt = match self.channel.deliver(message) {
                Ok(Delivered::Sent) => Attempt::Delivered {
                    id: message.id,
                    by: name.to_string(),
                },
                Ok(Delivered::Skipped) => Attempt::Delivered {
                    id: message.id,
                    by: format!("skipped:{name}"),
                },
                Err(error) => self.failed(message.id, message.attempts, now, error),
            };
            attempts.push(attempt);
        }
        // Nothing is marked delivered before the channel made it durable.
        if let Err(error) = self.channel.flush() {
            for (attempt, message) in attempts.iter_mut().zip(&due) {
                if matches!(attempt, Attempt::Delivered { .. }) {
                    *attempt = self.failed(message.id, message.attempts, now, error.clone());
                }
            }
        }
        if let Err(error) = self.outbox.record(&attempts, now) {
            self.unrecorded = attempts;
            self.unrecorded_at = Some(now);
            return Err(error);
        }
        for attempt in &attempts {
            match attempt {
                Attempt::Delivered { by, .. } if by.starts_with("skipped:") => report.skipped += 1,
                Attempt::Delivered { .. } => report.delivered += 1,
                Attempt::Failed {
                    retry_at: Some(_), ..
                } => report.retrying += 1,
                Attempt::Failed { retry_at: None, .. } => report.given_up += 1,
            }
        }
        Ok(report)
    }

    /// Records the outcomes an earlier pass could not.
    pub fn record_leftovers(&mut self) -> Result<(), StoreError> {
        if let Some(at) = self.unrecorded_at {
            self.outbox.record(&self.unrecorded, at)?;
            self.unrecorded.clear();
            self.unrecorded_at = None;
        }
        Ok(())
    }

    /// Passes until nothing more is due now; what failed waits for its retry time.
    pub fn drain(&mut self) -> Result<PassReport, StoreError> {
        let mut total = PassReport::default();
        loop {
            let report = self.pass()?;
            total.add(report);
            if report.taken < self.config.batch {
                return Ok(total);
            }
        }
    }

    pub fn counts(&self) -> Result<OutboxCounts, StoreError> {
        self.outbox.counts()
    }

    fn failed(
        &mut self,
        id: i64,
        attempts_before: u32,
        now: DateTime<Utc>,
        error: DeliveryError,
    ) -> Attempt {
        let attempts = attempts_before.saturating_add(1);
        // The error's text goes to the outbox row only: it may quote an address.
        match error {
            DeliveryError::Transient(error) => {
                let retry_at = now + backoff(attempts, &self.config, &mut self.rng);
                tracing::warn!(
                    outbox_id = id,
                    attempts,
                    "a message was not delivered; it will be retried"
                );
                Attempt::Failed {
                    id,
                    error,
                    retry_at: Some(retry_at),
                }
            }
            DeliveryError::Permanent(error) => {
                tracing::error!(
                    outbox_id = id,
                    attempts,
                    "a message cannot be delivered; it stays in the outbox with its error"
                );
                Attempt::Failed {
                    id,
                    error,
                    retry_at: None,
                }
            }
        }
    }
}

/// Counters of the sender's work, readable while it runs.
#[derive(Debug, Default)]
pub struct SenderStats {
    pub delivered: AtomicU64,
    pub failed_attempts: AtomicU64,
}

#[derive(Default)]
struct Signal {
    state: Mutex<(u64, bool)>,
    condvar: Condvar,
}

/// The running sender thread. Dropping it (or `stop`) lets the pass in progress finish,
/// then ends the thread.
pub struct Sender {
    signal: Arc<Signal>,
    stats: Arc<SenderStats>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sender {
    /// Starts delivering from the outbox of the database at `db`.
    pub fn spawn(
        db: &Path,
        channel: Box<dyn Channel>,
        clock: Arc<dyn Clock>,
        config: SenderConfig,
    ) -> Result<Sender, StoreError> {
        let poll = config.poll;
        let batch = config.batch;
        let mut deliverer = Deliverer::new(db, channel, clock, config)?;
        let signal = Arc::new(Signal::default());
        let stats = Arc::new(SenderStats::default());
        let thread = {
            let signal = Arc::clone(&signal);
            let stats = Arc::clone(&stats);
            std::thread::Builder::new()
                .name("kezek-sender".into())
                .spawn(move || run(&mut deliverer, &signal, &stats, poll, batch))
                .expect("the sender thread starts")
        };
        Ok(Sender {
            signal,
            stats,
            thread: Some(thread),
        })
    }

    /// Looks for due messages now rather than at the next poll.
    pub fn poke(&self) {
        let mut state = self.signal.state.lock().expect("sender lock poisoned");
        state.0 += 1;
        self.signal.condvar.notify_all();
    }

    pub fn stats(&self) -> &SenderStats {
        &self.stats
    }

    /// Finishes the pass in progress and ends the thread.
    pub fn stop(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        self.signal.state.lock().expect("sender lock poisoned").1 = true;
        self.signal.condvar.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

fn run(
    deliverer: &mut Deliverer,
    signal: &Signal,
    stats: &SenderStats,
    poll: std::time::Duration,
    batch: usize,
) {
    loop {
        let (seen, stopped) = *signal.state.lock().expect("sender lock poisoned");
        if stopped {
            if let Err(error) = deliverer.record_leftovers() {
                tracing::error!(%error, "the last deliveries could not be marked; they will be offered again");
            }
            return;
        }
        let more = match deliverer.pass() {
            Ok(report) => {
                let delivered = (report.delivered + report.skipped) as u64;
                stats.delivered.fetch_add(delivered, Ordering::Relaxed);
                stats.failed_attempts.fetch_add(
                    (report.retrying + report.given_up) as u64,
                    Ordering::Relaxed,
                );
                if delivered > 0 {
                    tracing::debug!(delivered, "messages delivered");
                }
                report.taken == batch
            }
            Err(error) => {
                tracing::error!(%error, "the outbox could not be read or updated; retrying");
                false
            }
        };
        if more {
            continue;
        }
        let state = signal.state.lock().expect("sender lock poisoned");
        let _ = signal
            .condvar
            .wait_timeout_while(state, poll, |s| s.0 == seen && !s.1)
            .expect("sender lock poisoned");
    }
}
