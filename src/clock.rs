//! Where time comes from. Everything that needs "now" is handed a `Clock`, so that tests of
//! deadlines are exact and a black-box test can move time by hand.

use crate::service::Wakeup;
use chrono::{DateTime, Utc};
use std::sync::{Arc, Mutex, Weak};

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;

    /// A manual clock only moves when told: whoever waits for a time must be woken by it.
    fn is_manual(&self) -> bool {
        false
    }

    /// Registers a wake-up to notify whenever the clock is moved (manual clocks only).
    fn on_change(&self, _wakeup: Weak<Wakeup>) {}
}

/// The machine's clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that moves only when told to. Clones share the same time.
#[derive(Clone, Debug)]
pub struct ManualClock {
    // A std Mutex: it is held for a copy, never across an await.
    now: Arc<Mutex<DateTime<Utc>>>,
    watchers: Arc<Mutex<Vec<Weak<Wakeup>>>>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> ManualClock {
        ManualClock {
            now: Arc::new(Mutex::new(start)),
            watchers: Arc::new(Mutex::new(Vec::new())),
        }
    }

    pub fn set(&self, to: DateTime<Utc>) {
        *self.now.lock().expect("clock lock poisoned") = to;
        self.notify();
    }

    /// Moves the clock without waking the timer: for a caller that processes what fell due
    /// itself and reports it (the clock endpoint), so that the timer cannot take that work
    /// first and leave the report empty.
    pub fn set_without_waking(&self, to: DateTime<Utc>) {
        *self.now.lock().expect("clock lock poisoned") = to;
    }

    pub fn advance(&self, by: chrono::Duration) {
        *self.now.lock().expect("clock lock poisoned") += by;
        self.notify();
    }

    fn notify(&self) {
        let mut watchers = self.watchers.lock().expect("clock lock poisoned");
        watchers.retain(|watcher| match watcher.upgrade() {
            Some(wakeup) => {
                wakeup.notify();
                true
            }
            None => false,
        });
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().expect("clock lock poisoned")
    }

    fn is_manual(&self) -> bool {
        true
    }

    fn on_change(&self, wakeup: Weak<Wakeup>) {
        self.watchers
            .lock()
            .expect("clock lock poisoned")
            .push(wakeup);
    }
}
