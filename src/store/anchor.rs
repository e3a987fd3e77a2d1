//! The chain head outside the database: `<db>.anchor` holds the journal's last sequence
//! number and hash as of the last COMMIT.
//!
//! A database that lost its tail (a truncated WAL, an older copy put back) is a consistent
//! database with a shorter chain: nothing inside it can tell. The writer therefore writes the
//! head of each committed batch to a small file beside it before it answers the batch's
//! callers, and start-up and `verify` compare. A database behind its anchor has lost
//! acknowledged events and is refused, naming how many; one ahead of it (a crash between
//! COMMIT and the anchor's write) is normal, and the anchor is advanced.
//!
//! The file is replaced atomically: written to a temporary file, synced, renamed over the
//! old one. The directory is not synced after the rename: should a power cut undo the
//! rename, the older anchor is left, which is behind the database, the harmless direction.

use super::lock::owner_only;
use super::StoreError;
use crate::domain::event::Hash;
use rusqlite::{Connection, OptionalExtension};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Anchor {
    pub seq: u64,
    pub hash: Hash,
}

/// How a database stands against its anchor.
#[derive(Debug, PartialEq, Eq)]
pub enum Standing {
    /// No anchor yet (a new database, or one from before anchors): one is written.
    Unanchored,
    /// At or ahead of the anchor, on the same chain.
    InStep,
}

/// The anchor file beside the database (`kezek.db` → `kezek.db.anchor`).
pub fn anchor_path(db: &Path) -> PathBuf {
    super::beside(db, "anchor")
}

/// Reads the anchor; `None` if there is none.
pub fn read(db: &Path) -> Result<Option<Anchor>, StoreError> {
    let path = anchor_path(db);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StoreError::io(&path, e)),
    };
    parse(&text)
        .map(Some)
        .ok_or_else(|| StoreError::corrupt("anchor", path.display(), "not `SEQ HASH`"))
}

fn parse(text: &str) -> Option<Anchor> {
    let (seq, hash) = text.trim().split_once(' ')?;
    let hash = hex::decode(hash).ok()?.try_into().ok()?;
    Some(Anchor {
        seq: seq.parse().ok()?,
        hash,
    })
}

/// Replaces the anchor atomically (temporary file, fsync, rename), owner-only.
pub fn write(db: &Path, anchor: Anchor) -> Result<(), StoreError> {
    let path = anchor_path(db);
    let temporary = super::beside(db, "anchor.tmp");
    let io = |e| StoreError::io(&temporary, e);
    let mut file = owner_only()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&temporary)
        .map_err(io)?;
    writeln!(file, "{} {}", anchor.seq, hex::encode(anchor.hash)).map_err(io)?;
    file.sync_data().map_err(io)?;
    std::fs::rename(&temporary, &path).map_err(|e| StoreError::io(&path, e))
}

/// Compares the database's head with its anchor: refuses a database behind it (lost events)
/// or on another chain (the anchor's event has another hash).
pub fn stand(conn: &Connection, db: &Path, head: Anchor) -> Result<Standing, StoreError> {
    let Some(anchor) = read(db)? else {
        return Ok(Standing::Unanchored);
    };
    if anchor.seq > head.seq {
        return Err(StoreError::BehindAnchor {
            db: db.to_path_buf(),
            missing: anchor.seq - head.seq,
            anchored: anchor.seq,
            head: head.seq,
        });
    }
    if anchor.seq == 0 {
        return Ok(Standing::InStep);
    }
    let hash: Option<Vec<u8>> = conn
        .query_row(
            "SELECT hash FROM events WHERE seq = ?1",
            [anchor.seq as i64],
            |row| row.get(0),
        )
        .optional()?;
    if hash.as_deref() != Some(&anchor.hash[..]) {
        return Err(StoreError::OffAnchor {
            db: db.to_path_buf(),
            seq: anchor.seq,
        });
    }
    Ok(Standing::InStep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_anchor_reads_back_as_written_and_is_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("kezek.db");
        assert_eq!(read(&db).unwrap(), None);
        let anchor = Anchor {
            seq: 42,
            hash: [7; 32],
        };
        write(&db, anchor).unwrap();
        write(&db, anchor).unwrap();
        assert_eq!(read(&db).unwrap(), Some(anchor));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(anchor_path(&db)).unwrap().permissions();
            assert_eq!(mode.mode() & 0o777, 0o600);
        }
    }

    #[test]
    fn a_garbled_anchor_is_an_error_not_a_missing_one() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("kezek.db");
        std::fs::write(anchor_path(&db), "12 not-hex\n").unwrap();
        assert!(read(&db).is_err());
    }
}
