//! Storage: SQLite through rusqlite. The only module that knows SQL.
//!
//! One writer connection in WAL mode with `synchronous=FULL`, so a COMMIT that returned is
//! on disk. Every change of state goes through [`Store::record`], which appends the event to
//! the hash-chained journal and updates the tables in the caller's transaction, so tables and
//! journal cannot drift apart. Readers (start-up, `verify`) open their own connections.

pub mod access_log;
pub mod anchor;
mod api;
pub mod attachments;
pub mod checkpoint;
pub mod document_requests;
pub mod erasure;
pub mod files;
pub mod integrity;
pub mod seal;
// Public only for the fuzz targets in fuzz/ (the column decoders must refuse any bytes
// without panicking); not part of the service's API.
#[doc(hidden)]
pub mod codec;
pub mod identity;
mod journal;
pub mod lock;
pub mod migrate;
mod outbox;
mod read;
pub mod report_aggregates;
pub mod staff;
pub use api::*;
pub use outbox::{
    cancel_undelivered as cancel_undelivered_messages, counts as outbox_counts, holds_applications,
    messages_of, Attempt, MessageKind, Outbox, OutboxCounts, OutboxMessage, StoredMessage,
    REMINDER_BEFORE_HOURS,
};

pub use read::{
    for_each_application, for_each_event, for_each_referral, intake_rounds, load_catalog,
    load_positions, load_reports, load_state, load_waiting_list, place_rows, referral_counters,
    registration_counters, waiting_counts, Checks, LoadError, LoadedState, RoundRow,
};

use rusqlite::{Connection, OpenFlags, OptionalExtension};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "the database has schema version {found}, newer than this binary knows ({supported}); \
         run a newer kezek or restore a backup"
    )]
    SchemaTooNew { found: usize, supported: usize },
    #[error("migration {name} failed; nothing was changed: {source}")]
    Migration {
        name: &'static str,
        source: rusqlite::Error,
    },
    #[error("row {table}/{key} cannot be read: {reason}")]
    Corrupt {
        table: &'static str,
        key: String,
        reason: String,
    },
    #[error(
        "{} is in use by another kezek process (pid {holder}); one writer per database: \
         stop that one first",
        db.display()
    )]
    Locked { db: PathBuf, holder: String },
    #[error(
        "{} is {missing} events behind its anchor (the journal ends at {head}, the anchor \
         records {anchored}): acknowledged changes are missing. Restore the database from the \
         replica (README, Operations); the service will not serve it as it is",
        db.display()
    )]
    BehindAnchor {
        db: PathBuf,
        missing: u64,
        anchored: u64,
        head: u64,
    },
    #[error(
        "{}: event {seq} is not the one its anchor records: this database is not the one the \
         anchor was written for (restore the right one from the replica)",
        db.display()
    )]
    OffAnchor { db: PathBuf, seq: u64 },
    #[error("the database fails SQLite's integrity check: {0}")]
    Integrity(String),
    #[error("{}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error("making the database's files owner-only: {0}")]
    FileModes(#[source] std::io::Error),
}

/// SQLite's WAL file of the database (`kezek.db` → `kezek.db-wal`).
pub fn wal_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

/// A file beside the database: `kezek.db` and `lock` give `kezek.db.lock`.
pub(crate) fn beside(db: &Path, suffix: &str) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}

impl From<rusqlite::types::FromSqlError> for StoreError {
    fn from(error: rusqlite::types::FromSqlError) -> StoreError {
        StoreError::Sqlite(rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Null,
            Box::new(error),
        ))
    }
}

impl StoreError {
    /// A database file that is not there where one must be (commands that only read).
    pub fn corrupt_file(path: &Path) -> StoreError {
        StoreError::corrupt("file", path.display(), "no database at this path")
    }

    pub(crate) fn io(path: &Path, error: std::io::Error) -> StoreError {
        StoreError::Io {
            path: path.to_path_buf(),
            error,
        }
    }

    pub(crate) fn corrupt(
        table: &'static str,
        key: impl ToString,
        reason: impl ToString,
    ) -> StoreError {
        StoreError::Corrupt {
            table,
            key: key.to_string(),
            reason: reason.to_string(),
        }
    }
}

pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// District codes for the outbox's texts, read once (districts are never renamed);
    /// cleared on rollback, which may undo a district just read.
    district_codes: std::cell::RefCell<rustc_hash::FxHashMap<u32, String>>,
    // Declared after `conn`: dropped last, it makes the final checkpoint once the writer's
    // connection is closed.
    checkpointer: checkpoint::Checkpointer,
    /// The writer's seal (seal.rs), written when the store is dropped, after the checkpointer
    /// closed the last connection and before the lock is released.
    seal: Option<seal::SealOnClose>,
    /// What `load` checks of the file: `RowsOnly` when the writer found its files as the
    /// last clean close sealed them (seal.rs says why that is sound).
    checks: read::Checks,
    /// The writer's lock (`open_writer`), released after everything above is closed.
    lock: Option<lock::WriterLock>,
    /// The anchor file (anchor.rs).
    anchor: PathBuf,
    /// The anchor file kept open by the writer once it has taken the anchor at start.
    anchor_file: std::cell::RefCell<Option<anchor::AnchorFile>>,
    /// Whether the page cache was widened for a bulk command (`widen_cache`) and is to be
    /// narrowed again between batches.
    widened: std::cell::Cell<bool>,
}

/// The writer's page cache while a bulk command (an import's batch) runs, in KiB. SQLite's
/// default (2 MiB) holds far fewer pages than a batch of thousands of rows dirties in the
/// random-keyed child index, so it spills dirty pages into the WAL in the middle of the
/// transaction and writes them again at its end; with the whole batch's pages in memory each
/// is written once, at the commit.
const BULK_CACHE_KIB: i64 = 256 * 1024;

/// How the writer keeps its database: who checkpoints, where the anchor lives.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreOptions {
    pub checkpoints: checkpoint::Policy,
    /// The anchor file; beside the database (`<db>.anchor`) when `None`.
    pub anchor: Option<PathBuf>,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    /// For a second process beside the writer (`kezek staff`); the writer uses `open_writer`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        // PASSIVE only: this process is not the writer, and a replicator may own the WAL.
        let options = StoreOptions {
            checkpoints: checkpoint::Policy::External,
            anchor: None,
        };
        Store::open_with(path, None, &options)
    }

    /// Opens the database as its one writer: takes the lock beside it first, so a second
    /// writer stops before it has touched the file (see lock.rs). `load` then checks it
    /// (SQLite's checks and the uniqueness rules, integrity.rs) before anything is served.
    pub fn open_writer(path: &Path, options: &StoreOptions) -> Result<Store, StoreError> {
        let lock = lock::WriterLock::acquire(path)?;
        // Read before SQLite or the checkpointer touch the files, and removed at once: from
        // here on a crash must leave no seal behind.
        let sealed = seal::intact(path);
        seal::remove(path).map_err(|error| StoreError::io(&seal::seal_path(path), error))?;
        let mut store = Store::open_with(path, Some(lock), options)?;
        if sealed {
            store.checks = read::Checks::RowsOnly;
        }
        store.seal = Some(seal::SealOnClose {
            db: path.to_path_buf(),
            armed: std::cell::Cell::new(false),
        });
        Ok(store)
    }

    fn open_with(
        path: &Path,
        lock: Option<lock::WriterLock>,
        options: &StoreOptions,
    ) -> Result<Store, StoreError> {
        files::owner_only_database(path).map_err(StoreError::FileModes)?;
        let mut conn = Connection::open(path)?;
        configure(&conn)?;
        migrate::migrate(&mut conn, migrate::MIGRATIONS)?;
        let anchor_file = options
            .anchor
            .clone()
            .unwrap_or_else(|| anchor::anchor_path(path));
        // Before the histories' rebuild, which replays the journal in its new form.
        erasure::rewrite_journal(&mut conn, &anchor_file)?;
        rebuild_pending(&mut conn)?;
        // Checkpoints run on their own thread (see checkpoint.rs), not inside our COMMITs.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        // Deleted rows' pages are zeroed, not just freed: an erased attachment's bytes must
        // not stay readable in the file (store/attachments.rs).
        conn.pragma_update(None, "secure_delete", "ON")?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
            district_codes: Default::default(),
            checkpointer: checkpoint::Checkpointer::spawn(path, options.checkpoints)?,
            seal: None,
            checks: read::Checks::Sqlite,
            lock,
            anchor: anchor_file,
            anchor_file: Default::default(),
            widened: Default::default(),
        })
    }

    /// Compares the journal's head with the anchor beside the database (refusing a database
    /// behind it), then advances the anchor to the head. The writer's start, before serving.
    pub fn take_anchor(&self, head: anchor::Anchor) -> Result<(), StoreError> {
        assert!(self.lock.is_some(), "only the writer anchors");
        if anchor::stand(&self.conn, &self.path, &self.anchor, head)?
            == anchor::Standing::Unanchored
        {
            tracing::info!(seq = head.seq, "no anchor yet; writing one");
        }
        *self.anchor_file.borrow_mut() = Some(anchor::AnchorFile::create(&self.anchor, head)?);
        Ok(())
    }

    /// Records a committed batch's head in the anchor (before its callers are answered).
    pub fn advance_anchor(&self, head: anchor::Anchor) -> Result<(), StoreError> {
        match &*self.anchor_file.borrow() {
            Some(file) => file.advance(head),
            None => anchor::write(&self.anchor, head),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A separate read-only connection to the same file, for work that may run beside the
    /// writer (WAL lets readers see the last commit without blocking it).
    pub fn open_reader(path: &Path) -> Result<Connection, StoreError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Ok(conn)
    }

    pub fn begin(&self) -> Result<(), StoreError> {
        // IMMEDIATE takes the write lock now, so a batch never fails half-way on SQLITE_BUSY.
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        Ok(())
    }

    pub fn commit(&self) -> Result<(), StoreError> {
        self.conn.execute_batch("COMMIT")?;
        Ok(())
    }

    /// The writer, between batches (no transaction open, the last batch answered): gives way
    /// to a checkpoint that needs the write lock (checkpoint.rs).
    pub fn between_batches(&self) {
        if self.widened.replace(false) {
            // Back to SQLite's default: the service's memory stays what start-up measured.
            if let Err(error) = self.conn.pragma_update(None, "cache_size", -2000) {
                tracing::error!(%error, "the page cache could not be narrowed again");
            }
        }
        self.checkpointer.between_batches();
    }

    /// Widens the writer's page cache until the end of this batch (see `BULK_CACHE_KIB`).
    pub fn widen_cache(&self) -> Result<(), StoreError> {
        if !self.widened.replace(true) {
            self.conn
                .pragma_update(None, "cache_size", -BULK_CACHE_KIB)?;
        }
        Ok(())
    }

    pub fn rollback(&self) -> Result<(), StoreError> {
        self.district_codes.borrow_mut().clear();
        if !self.conn.is_autocommit() {
            self.conn.execute_batch("ROLLBACK")?;
        }
        Ok(())
    }

    /// The writer's connection, for reads that must see the open transaction.
    pub(crate) fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Direct access for tests that must do what an attacker with the file could do.
    #[doc(hidden)]
    pub fn connection_for_tests(&self) -> &Connection {
        &self.conn
    }
}

/// Fills derived tables that a migration created empty over a journal that already had
/// events: replays the journal once, in one transaction, then clears the mark.
fn rebuild_pending(conn: &mut Connection) -> Result<(), StoreError> {
    let pending: Option<String> = conn
        .query_row(
            "SELECT name FROM pending_rebuilds WHERE name = 'application_history'",
            [],
            |row| row.get(0),
        )
        .optional()?;
    if pending.is_none() {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut state = crate::domain::state::QueueState::default();
    let mut events = 0u64;
    read::for_each_event(&tx, |recorded| {
        let event = recorded
            .event()
            .map_err(|e| StoreError::corrupt("events", recorded.seq, e))?;
        let effects = state
            .apply_tracked(&event, recorded.recorded_at)
            .map_err(|e| StoreError::corrupt("events", recorded.seq, e))?;
        journal::record_effects(&tx, recorded.seq, &effects)?;
        events += 1;
        Ok(true)
    })?;
    tx.execute(
        "DELETE FROM pending_rebuilds WHERE name = 'application_history'",
        [],
    )?;
    tx.commit()?;
    if events > 0 {
        tracing::info!(events, "application histories rebuilt from the journal");
    }
    Ok(())
}

fn configure(conn: &Connection) -> Result<(), StoreError> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // FULL: the WAL is synced at every commit, so an acknowledged change survives power loss.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}
