//! Time-driven work: one thread sleeps until the next deadline (a referral's expiry, the end
//! of a stop list, or the next local midnight, when children may age out) and then sends a
//! `Tick` to the writer. It is woken early when a batch changes the deadlines or when a
//! manual clock is moved. Deadlines live in SQLite; the in-memory set is rebuilt at start,
//! and start-up ticks once before serving, so a deadline that passed while the service was
//! down is processed then, once: its event changes the state, and a second tick finds
//! nothing due.

use super::{Command, Envelope, Outcome};
use crate::clock::Clock;
use crate::domain::calendar::end_of_local_day;
use crate::domain::event::Actor;
use crate::domain::local_date;
use crate::domain::state::QueueState;
use chrono::{DateTime, Utc};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// With the system clock, sleep at most this long before looking again, so that a stepped
/// wall clock (NTP) delays a deadline by no more than this.
const SLEEP_MAX: Duration = Duration::from_secs(30);

/// A wake-up signal: a generation counter and a stop flag under one lock.
#[derive(Debug, Default)]
pub struct Wakeup {
    state: Mutex<(u64, bool)>,
    condvar: Condvar,
}

impl Wakeup {
    pub fn notify(&self) {
        let mut state = self.state.lock().expect("wakeup lock poisoned");
        state.0 += 1;
        self.condvar.notify_all();
    }

    pub fn stop(&self) {
        let mut state = self.state.lock().expect("wakeup lock poisoned");
        state.1 = true;
        self.condvar.notify_all();
    }

    fn generation(&self) -> (u64, bool) {
        *self.state.lock().expect("wakeup lock poisoned")
    }

    /// Waits until notified after generation `seen`, stopped, or `timeout` passed.
    fn wait(&self, seen: u64, timeout: Option<Duration>) {
        let state = self.state.lock().expect("wakeup lock poisoned");
        let unchanged = |s: &mut (u64, bool)| s.0 == seen && !s.1;
        match timeout {
            Some(timeout) => drop(self.condvar.wait_timeout_while(state, timeout, unchanged)),
            None => drop(self.condvar.wait_while(state, unchanged)),
        }
    }
}

pub struct Scheduler {
    pub commands: mpsc::Sender<Envelope>,
    pub state: Arc<RwLock<QueueState>>,
    pub clock: Arc<dyn Clock>,
    pub wakeup: Arc<Wakeup>,
}

impl Scheduler {
    pub fn spawn(self) -> std::thread::JoinHandle<()> {
        std::thread::Builder::new()
            .name("kezek-scheduler".into())
            .spawn(move || self.run())
            .expect("the scheduler thread starts")
    }

    fn run(self) {
        loop {
            let (seen, stopped) = self.wakeup.generation();
            if stopped {
                return;
            }
            let now = self.clock.now();
            let due = self.next_due(now);
            if due <= now {
                if !self.tick() {
                    return;
                }
                continue;
            }
            let timeout = if self.clock.is_manual() {
                None
            } else {
                let until = (due - now).to_std().unwrap_or(Duration::ZERO);
                Some(until.min(SLEEP_MAX))
            };
            self.wakeup.wait(seen, timeout);
        }
    }

    /// The earliest deadline, or the next local midnight (the daily aging-out check).
    fn next_due(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let midnight = end_of_local_day(local_date(now));
        let deadline = self
            .state
            .read()
            .expect("state lock poisoned")
            .next_deadline();
        deadline.map_or(midnight, |deadline| deadline.min(midnight))
    }

    /// Sends a tick and waits for it; false once the writer is gone.
    fn tick(&self) -> bool {
        let (reply, answer) = oneshot::channel();
        let envelope = Envelope {
            command: Command::Tick,
            actor: Actor::system(),
            idempotency: None,
            reply,
        };
        if self.commands.blocking_send(envelope).is_err() {
            return false;
        }
        match answer.blocking_recv() {
            Ok(Ok(Outcome::Ticked(report))) => {
                if report != Default::default() {
                    tracing::info!(?report, "deadlines processed");
                }
                true
            }
            Ok(other) => {
                // The writer has logged the cause; try again after a pause, not in a loop.
                tracing::error!(?other, "a tick failed");
                std::thread::sleep(Duration::from_secs(1));
                true
            }
            Err(_) => false,
        }
    }
}
