//! One writer per database: an OS lock on a file beside it, held for the writer's life.
//!
//! Two services on one file both started before: the second answered 500 to every write
//! (SQLite's lock) while its memory, rebuilt at its own start, went stale behind the first's
//! commits. The writer now takes an exclusive `flock` on `<db>.lock` before it opens the
//! database, so a second one stops before it has written anything. The kernel drops the lock
//! when the holder's file is closed, which includes every way a process dies (kill -9, a
//! panic, power loss clears it with the machine's memory): a crash never leaves a stale lock
//! behind, unlike a lock *file* whose mere existence would mean "held". The file itself stays
//! and only says which process held it last.

use super::StoreError;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// The lock on a database's writer role; released when dropped.
#[derive(Debug)]
pub struct WriterLock {
    _file: File,
}

/// The lock file beside the database (`kezek.db` → `kezek.db.lock`).
pub fn lock_path(db: &Path) -> PathBuf {
    super::beside(db, "lock")
}

impl WriterLock {
    /// Takes the lock at once or says who holds it; never waits.
    pub fn acquire(db: &Path) -> Result<WriterLock, StoreError> {
        let path = lock_path(db);
        let mut file = owner_only()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| StoreError::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                return Err(StoreError::Locked {
                    db: db.to_path_buf(),
                    holder: holder.trim().to_string(),
                });
            }
            Err(TryLockError::Error(e)) => return Err(StoreError::io(&path, e)),
        }
        // Who holds it, for the next one's message; a failure here changes nothing.
        let _ = file.set_len(0);
        let _ = file.rewind();
        let _ = write!(file, "{}", std::process::id());
        Ok(WriterLock { _file: file })
    }
}

/// Options that create a file readable and writable by its owner only.
pub(crate) fn owner_only() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_database_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("kezek.db");
        let first = WriterLock::acquire(&db).unwrap();
        // flock locks belong to the open file, so a second open in this process conflicts
        // exactly as another process's would.
        let refused = WriterLock::acquire(&db).unwrap_err();
        let message = refused.to_string();
        assert!(
            message.contains(&std::process::id().to_string()),
            "{message}"
        );
        assert!(!db.exists(), "nothing is written to the database");
        drop(first);
        WriterLock::acquire(&db).unwrap();
    }
}
