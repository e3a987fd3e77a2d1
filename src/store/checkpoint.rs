//! WAL checkpoints off the writer's path, and a bound on the WAL's size.
//!
//! SQLite's automatic checkpoint runs inside the COMMIT that crosses the threshold, on the
//! writer's thread, where it held up every batch that hit it (6% of the writer's time under
//! load). The writer's connection turns it off; this thread checkpoints from its own
//! connection instead. A checkpoint only copies committed pages from the WAL into the main
//! file, so durability does not depend on it; the WAL file is only larger between them.
//!
//! A PASSIVE checkpoint never blocks the writer or readers, but it never rewinds the WAL
//! either while commits keep coming (SQLite rewinds it only when a writer starts after a
//! checkpoint that caught up): under a flood the WAL grew to 2.55 GB. So, when Kezek owns
//! checkpoints, once the WAL passes half its bound the thread first copies what it can
//! PASSIVE (no lock), then runs a TRUNCATE checkpoint, which holds the writer off only while
//! it copies the few frames committed since and empties the file. A TRUNCATE needs the write
//! lock, and a busy writer takes it again microseconds after each COMMIT, faster than
//! SQLite's busy handler ever retries: the checkpoint starved and the WAL grew past its
//! bound. So the two hand over ([`Handoff`]): the checkpointer asks, the writer parks after
//! its next COMMIT (between batches, holding nothing), the checkpoint runs, the writer goes
//! on. The WAL's size is looked at every 25 ms, so that at ~115 MB/s of WAL (the flood) a
//! 64 MB bound is not overrun between looks; one batch's pages must fit in the bound.
//!
//! With an external replicator (Litestream) the replicator owns checkpoints: it must see
//! every frame before the WAL is rewound, so Kezek then runs PASSIVE only, never RESTART or
//! TRUNCATE, and the replicator's own checkpoints bound the WAL.

use super::StoreError;
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

const PASSIVE_EVERY: Duration = Duration::from_secs(1);
const LOOK_EVERY: Duration = Duration::from_millis(25);
/// How long the checkpointer waits for the writer to park (an idle writer never does; the
/// lock is then free anyway), and the longest the writer stays parked.
const PARK_WAIT: Duration = Duration::from_millis(200);
const PARK_MAX: Duration = Duration::from_secs(2);
/// How long a TRUNCATE checkpoint waits for the current batch and for readers of older
/// snapshots before it gives up until the next look (the writer's own wait is 5 s).
const TRUNCATE_PATIENCE: Duration = Duration::from_millis(500);

/// Who checkpoints the WAL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Kezek: PASSIVE every second, and TRUNCATE when the WAL passes half of `wal_max_bytes`.
    Own { wal_max_bytes: u64 },
    /// An external replicator (Litestream): PASSIVE only.
    External,
}

/// The default bound on the WAL when Kezek owns checkpoints.
pub const WAL_MAX_BYTES_DEFAULT: u64 = 64 * 1024 * 1024;

impl Default for Policy {
    fn default() -> Policy {
        Policy::Own {
            wal_max_bytes: WAL_MAX_BYTES_DEFAULT,
        }
    }
}

pub struct Checkpointer {
    stop: Arc<(Mutex<bool>, Condvar)>,
    handoff: Arc<Handoff>,
    thread: Option<std::thread::JoinHandle<()>>,
}

struct Worker {
    conn: Connection,
    wal: PathBuf,
    policy: Policy,
    handoff: Arc<Handoff>,
}

/// The writer's lock handed to a TRUNCATE checkpoint between two batches.
#[derive(Default)]
struct Handoff {
    /// Read by the writer after every COMMIT without taking the mutex.
    asked: AtomicBool,
    /// (asked, the writer is parked)
    state: Mutex<(bool, bool)>,
    changed: Condvar,
}

impl Handoff {
    /// The checkpointer: asks, waits for the writer to park, runs `checkpoint`, releases.
    fn with_writer_parked(&self, checkpoint: impl FnOnce()) {
        let mut state = self.state.lock().expect("handoff lock poisoned");
        *state = (true, false);
        self.asked.store(true, Ordering::Release);
        let (state, _) = self
            .changed
            .wait_timeout_while(state, PARK_WAIT, |(_, parked)| !*parked)
            .expect("handoff lock poisoned");
        drop(state);
        checkpoint();
        self.asked.store(false, Ordering::Release);
        *self.state.lock().expect("handoff lock poisoned") = (false, false);
        self.changed.notify_all();
    }

    /// The writer, after a COMMIT: parks while a checkpoint asked for it runs.
    fn park_if_asked(&self) {
        if !self.asked.load(Ordering::Acquire) {
            return;
        }
        let mut state = self.state.lock().expect("handoff lock poisoned");
        if !state.0 {
            return;
        }
        state.1 = true;
        self.changed.notify_all();
        let _ = self
            .changed
            .wait_timeout_while(state, PARK_MAX, |(asked, _)| *asked)
            .expect("handoff lock poisoned");
    }
}

impl Checkpointer {
    pub fn spawn(path: &Path, policy: Policy) -> Result<Checkpointer, StoreError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        let handoff = Arc::new(Handoff::default());
        let worker = Worker {
            conn,
            wal: super::wal_path(path),
            policy,
            handoff: Arc::clone(&handoff),
        };
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let signal = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("kezek-checkpoint".into())
            .spawn(move || worker.run(&signal))
            .expect("the checkpoint thread starts");
        Ok(Checkpointer {
            stop,
            handoff,
            thread: Some(thread),
        })
    }

    /// Called by the writer between batches: gives way to a TRUNCATE checkpoint that asked.
    pub fn between_batches(&self) {
        self.handoff.park_if_asked();
    }
}

impl Worker {
    fn run(&self, stop: &(Mutex<bool>, Condvar)) {
        let (stopped, condvar) = stop;
        let mut guard = stopped.lock().expect("checkpoint lock poisoned");
        let mut last_passive = Instant::now();
        loop {
            let (next, _) = condvar
                .wait_timeout_while(guard, LOOK_EVERY, |stopped| !*stopped)
                .expect("checkpoint lock poisoned");
            guard = next;
            let stopping = *guard;
            if self.over_half_bound() {
                self.checkpoint("PASSIVE");
                self.truncate();
                last_passive = Instant::now();
            } else if stopping || last_passive.elapsed() >= PASSIVE_EVERY {
                self.checkpoint("PASSIVE");
                last_passive = Instant::now();
            }
            if stopping {
                return;
            }
        }
    }

    fn over_half_bound(&self) -> bool {
        let Policy::Own { wal_max_bytes } = self.policy else {
            return false;
        };
        let size = std::fs::metadata(&self.wal).map_or(0, |m| m.len());
        size > wal_max_bytes / 2
    }

    fn truncate(&self) {
        assert!(
            matches!(self.policy, Policy::Own { .. }),
            "TRUNCATE only when Kezek owns checkpoints"
        );
        let _ = self.conn.busy_timeout(TRUNCATE_PATIENCE);
        self.handoff
            .with_writer_parked(|| self.checkpoint("TRUNCATE"));
        let _ = self.conn.busy_timeout(Duration::from_secs(5));
    }

    fn checkpoint(&self, mode: &str) {
        // The first column says whether the checkpoint was blocked (SQLITE_BUSY): a
        // TRUNCATE that could not finish is retried at the next look.
        let sql = format!("PRAGMA wal_checkpoint({mode})");
        match self.conn.query_row(&sql, [], |row| row.get::<_, i64>(0)) {
            Ok(0) => {}
            Ok(_) => tracing::debug!(mode, "a WAL checkpoint was blocked; retrying later"),
            Err(error) => tracing::warn!(%error, mode, "a WAL checkpoint failed; retrying later"),
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        *self.stop.0.lock().expect("checkpoint lock poisoned") = true;
        self.stop.1.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
