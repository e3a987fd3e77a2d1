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
//! The file holds two slots, fixed-width lines `SEQ HASH CHECK` (CHECK: the first 8 bytes of
//! the SHA-256 of `SEQ HASH`, in hex), and the reader takes the valid slot with the higher
//! sequence number. At start the writer replaces the whole file atomically (a temporary
//! file, synced, renamed over the old one; the directory is not synced: should a power cut
//! undo the rename, the older anchor is left, which is behind the database, the harmless
//! direction). After each batch it overwrites the older slot in place and `fdatasync`s:
//! one data block flushed, where creating and renaming a file also made the file system
//! commit its own journal, which cost more than the batch's COMMIT (docs/PERFORMANCE.md,
//! "The anchor's cost"). A write torn by a power cut spoils only the slot being written;
//! the other still holds the previous head, behind the database, the harmless direction.
//! A file of one line without a check (the first format) is still read.

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

/// The anchor file's default place, beside the database (`kezek.db` → `kezek.db.anchor`);
/// the configuration may put it elsewhere (another disk, which the loss of the database's
/// disk does not take with it).
pub fn anchor_path(db: &Path) -> PathBuf {
    super::beside(db, "anchor")
}

/// The width of a slot, its newline included: a sequence number of up to 20 digits, the
/// hash's 64 hex digits, the check's 16, separated by spaces, padded with spaces.
const SLOT: usize = 104;

/// Reads the anchor file; `None` if there is none.
pub fn read(path: &Path) -> Result<Option<Anchor>, StoreError> {
    let text = match std::fs::read(path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StoreError::io(path, e)),
    };
    parse(&text)
        .map(Some)
        .ok_or_else(|| StoreError::corrupt("anchor", path.display(), "no valid `SEQ HASH CHECK`"))
}

/// The valid slot with the higher sequence number; or the first format's one line.
fn parse(text: &str) -> Option<Anchor> {
    let slots: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if let [line] = slots[..] {
        if line.split(' ').count() == 2 {
            return parse_fields(line);
        }
    }
    slots
        .iter()
        .filter_map(|line| {
            let (fields, check) = line.rsplit_once(' ')?;
            (check == checksum(fields)).then(|| parse_fields(fields))?
        })
        .max_by_key(|anchor| anchor.seq)
}

fn parse_fields(fields: &str) -> Option<Anchor> {
    let (seq, hash) = fields.split_once(' ')?;
    let hash = hex::decode(hash).ok()?.try_into().ok()?;
    Some(Anchor {
        seq: seq.parse().ok()?,
        hash,
    })
}

fn checksum(fields: &str) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(fields.as_bytes())[..8])
}

/// One slot's line, padded to `SLOT`.
fn slot(anchor: Anchor) -> Vec<u8> {
    let fields = format!("{} {}", anchor.seq, hex::encode(anchor.hash));
    let mut line = format!("{fields} {}", checksum(&fields)).into_bytes();
    line.resize(SLOT - 1, b' ');
    line.push(b'\n');
    line
}

/// Replaces the anchor file atomically (temporary file, fsync, rename), owner-only, both
/// slots holding `anchor`.
pub fn write(path: &Path, anchor: Anchor) -> Result<(), StoreError> {
    let temporary = super::beside(path, "tmp");
    let io = |e| StoreError::io(&temporary, e);
    let mut file = owner_only()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&temporary)
        .map_err(io)?;
    let line = slot(anchor);
    file.write_all(&[line.clone(), line].concat()).map_err(io)?;
    file.sync_data().map_err(io)?;
    std::fs::rename(&temporary, path).map_err(|e| StoreError::io(path, e))
}

/// The anchor file as the writer keeps it open after start: each head overwrites the slot
/// not written last, then `fdatasync` (the file's size never changes, so no metadata is
/// flushed).
pub struct AnchorFile {
    path: PathBuf,
    file: std::fs::File,
    next_slot: std::sync::atomic::AtomicU8,
}

impl AnchorFile {
    /// Writes `anchor` whole (atomically, as `write`) and opens the file for the batches.
    pub fn create(path: &Path, anchor: Anchor) -> Result<AnchorFile, StoreError> {
        write(path, anchor)?;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| StoreError::io(path, e))?;
        Ok(AnchorFile {
            path: path.to_path_buf(),
            file,
            next_slot: std::sync::atomic::AtomicU8::new(0),
        })
    }

    pub fn advance(&self, anchor: Anchor) -> Result<(), StoreError> {
        use std::os::unix::fs::FileExt;
        use std::sync::atomic::Ordering;
        let slot_index = self.next_slot.fetch_xor(1, Ordering::Relaxed);
        let io = |e| StoreError::io(&self.path, e);
        self.file
            .write_all_at(&slot(anchor), u64::from(slot_index) * SLOT as u64)
            .map_err(io)?;
        self.file.sync_data().map_err(io)
    }
}

/// Compares the database's head with its anchor file: refuses a database behind it (lost
/// events) or on another chain (the anchor's event has another hash).
pub fn stand(
    conn: &Connection,
    db: &Path,
    file: &Path,
    head: Anchor,
) -> Result<Standing, StoreError> {
    let Some(anchor) = read(file)? else {
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
    // An anchor written before the journal's rewrite (migration 0019) names the old chain.
    if hash.as_deref() != Some(&anchor.hash[..])
        && !super::erasure::rewritten_from(conn, anchor.seq, &anchor.hash)?
    {
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
        let file = anchor_path(&dir.path().join("kezek.db"));
        assert_eq!(read(&file).unwrap(), None);
        let anchor = Anchor {
            seq: 42,
            hash: [7; 32],
        };
        write(&file, anchor).unwrap();
        write(&file, anchor).unwrap();
        assert_eq!(read(&file).unwrap(), Some(anchor));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions();
            assert_eq!(mode.mode() & 0o777, 0o600);
        }
    }

    #[test]
    fn the_newer_valid_slot_wins_and_a_torn_one_is_passed_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = anchor_path(&dir.path().join("kezek.db"));
        let at = |seq: u64| Anchor {
            seq,
            hash: [seq as u8; 32],
        };
        let file = AnchorFile::create(&path, at(5)).unwrap();
        file.advance(at(6)).unwrap();
        file.advance(at(9)).unwrap();
        assert_eq!(read(&path).unwrap(), Some(at(9)));
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 2 * SLOT as u64);
        file.advance(at(12)).unwrap();
        assert_eq!(read(&path).unwrap(), Some(at(12)));
        // A power cut in the middle of the next write: that slot half old, half new.
        let mut bytes = std::fs::read(&path).unwrap();
        let next = slot(at(15));
        bytes[SLOT..SLOT + 30].copy_from_slice(&next[..30]);
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(read(&path).unwrap(), Some(at(12)), "the other slot stands");
        // Both spoilt: an error, never a missing anchor.
        bytes[3] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        assert!(read(&path).is_err());
    }

    #[test]
    fn the_first_format_of_one_line_is_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kezek.db.anchor");
        std::fs::write(&path, format!("42 {}\n", hex::encode([7u8; 32]))).unwrap();
        let read = read(&path).unwrap().unwrap();
        assert_eq!((read.seq, read.hash), (42, [7; 32]));
    }

    #[test]
    fn a_garbled_anchor_is_an_error_not_a_missing_one() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("kezek.db.anchor");
        std::fs::write(&file, "12 not-hex\n").unwrap();
        assert!(read(&file).is_err());
    }
}
