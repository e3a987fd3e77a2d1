//! WAL checkpoints off the writer's path.
//!
//! SQLite's automatic checkpoint runs inside the COMMIT that crosses the threshold, on the
//! writer's thread, where it held up every batch that hit it (6% of the writer's time under
//! load). The writer's connection turns it off; this thread checkpoints from its own
//! connection every second instead (PASSIVE: it never blocks the writer or readers). A
//! checkpoint only copies committed pages from the WAL into the main file, so durability
//! does not depend on it; the WAL file is only larger between checkpoints.

use super::StoreError;
use rusqlite::Connection;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

const INTERVAL: Duration = Duration::from_secs(1);

pub struct Checkpointer {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Checkpointer {
    pub fn spawn(path: &Path) -> Result<Checkpointer, StoreError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let signal = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("kezek-checkpoint".into())
            .spawn(move || run(&conn, &signal))
            .expect("the checkpoint thread starts");
        Ok(Checkpointer {
            stop,
            thread: Some(thread),
        })
    }
}

fn run(conn: &Connection, stop: &(Mutex<bool>, Condvar)) {
    let (stopped, condvar) = stop;
    let mut guard = stopped.lock().expect("checkpoint lock poisoned");
    loop {
        let (next, _) = condvar
            .wait_timeout_while(guard, INTERVAL, |stopped| !*stopped)
            .expect("checkpoint lock poisoned");
        guard = next;
        let stopping = *guard;
        if let Err(error) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(%error, "a WAL checkpoint failed; the next one will retry");
        }
        if stopping {
            return;
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
