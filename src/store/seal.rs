//! The seal: a digest of the database's files exactly as the writer left them when it closed
//! cleanly, so that the next start can tell "these are still those bytes" and skip SQLite's
//! checks of every b-tree (integrity.rs), which cost most of start-up at a million
//! applications (about 13 s of CPU, against 6 s for everything else).
//!
//! Why skipping them is sound: those checks are there for damage that did not come through
//! SQLite — a disk that rots at rest, a torn write at a crash on hardware that lies about
//! `fsync`, a hand or a tool that edited the file. Each of these changes the bytes after the
//! seal was written, so the digest no longer matches and the start checks everything, as
//! before. A crash writes no seal at all. The seal is written only by a writer whose own
//! start passed the checks (or found its seal intact), so every sealed file descends from a
//! checked one through SQLite's own writes.
//!
//! What it does not replace: the uniqueness rules on the rows and the hash chain are still
//! checked at every start, and `kezek verify` still runs everything. The seal is not a
//! defence against someone who can write the database's folder (they could forge it, as they
//! could edit a row the start does not read); the chain, the anchor kept elsewhere and
//! `verify` are.
//!
//! The digest covers the main file and the WAL (a replicator may keep the WAL after the
//! writer closed; see checkpoint.rs): BLAKE3 over both contents and both lengths. BLAKE3
//! rather than the SHA-256 of the chain because it is read at every start before anything
//! else: SHA-256 with the CPU's SHA extensions took 1.43 s for the 1.7 GB of a million
//! applications on this machine, BLAKE3 (SIMD, one thread) a fraction of it.

use std::io::Read;
use std::path::{Path, PathBuf};

/// The seal file beside the database (`kezek.db` → `kezek.db.sealed`).
pub fn seal_path(db: &Path) -> PathBuf {
    super::beside(db, "sealed")
}

const FORMAT: &str = "kezek-seal 1";

/// The lengths and digest of the database's main file and WAL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileDigest {
    main_len: u64,
    wal_len: u64,
    digest: [u8; 32],
}

impl FileDigest {
    /// Reads both files whole. A missing WAL counts as an empty one (SQLite deletes it at a
    /// clean close when nobody else holds it).
    pub fn of(db: &Path) -> std::io::Result<FileDigest> {
        let mut hasher = blake3::Hasher::new();
        let main_len = hash_file(db, &mut hasher)?;
        let wal_len = match hash_file(&super::wal_path(db), &mut hasher) {
            Ok(len) => len,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => 0,
            Err(error) => return Err(error),
        };
        // The lengths last, so that moving bytes from one file to the other changes it.
        hasher.update(&main_len.to_le_bytes());
        hasher.update(&wal_len.to_le_bytes());
        Ok(FileDigest {
            main_len,
            wal_len,
            digest: hasher.finalize().into(),
        })
    }

    fn line(&self) -> String {
        let hex: String = self.digest.iter().map(|b| format!("{b:02x}")).collect();
        format!("{FORMAT} {} {} {hex}\n", self.main_len, self.wal_len)
    }

    fn parse(line: &str) -> Option<FileDigest> {
        let rest = line.strip_suffix('\n')?.strip_prefix(FORMAT)?;
        let mut parts = rest.split(' ').skip(1);
        let main_len = parts.next()?.parse().ok()?;
        let wal_len = parts.next()?.parse().ok()?;
        let hex = parts.next()?;
        if parts.next().is_some() || hex.len() != 64 {
            return None;
        }
        let mut digest = [0u8; 32];
        for (i, byte) in digest.iter_mut().enumerate() {
            *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(FileDigest {
            main_len,
            wal_len,
            digest,
        })
    }
}

fn hash_file(path: &Path, hasher: &mut blake3::Hasher) -> std::io::Result<u64> {
    let mut file = std::fs::File::open(path)?;
    let mut buffer = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let read = match file.read(&mut buffer) {
            Ok(0) => return Ok(total),
            Ok(read) => read,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        hasher.update(&buffer[..read]);
        total += read as u64;
    }
}

/// Whether the database's files are byte for byte those sealed at the last clean close.
/// Anything unreadable or unparsable answers no: the start then checks everything.
pub fn intact(db: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(seal_path(db)) else {
        return false;
    };
    let Some(sealed) = FileDigest::parse(&text) else {
        tracing::warn!("the database's seal is unreadable; checking the whole file");
        return false;
    };
    let Ok(main) = std::fs::metadata(db) else {
        return false;
    };
    // The lengths first: a file that grew or shrank needs no reading to differ.
    let wal_len = std::fs::metadata(super::wal_path(db)).map_or(0, |m| m.len());
    if main.len() != sealed.main_len || wal_len != sealed.wal_len {
        return false;
    }
    FileDigest::of(db).is_ok_and(|now| now == sealed)
}

/// Seals the database's files as they are now. Called once the writer's connections are
/// closed; a seal lost at a crash only costs the next start its full checks, so it is
/// replaced by a rename without an fsync.
pub fn write(db: &Path) -> std::io::Result<()> {
    let digest = FileDigest::of(db)?;
    let path = seal_path(db);
    let temporary = super::beside(db, "sealed.tmp");
    std::fs::write(&temporary, digest.line())?;
    super::files::restrict(&temporary, 0o600)?;
    std::fs::rename(&temporary, &path)
}

/// Removes the seal: the writer does so when it opens the files, so that a seal can only
/// ever be the last clean close's.
pub fn remove(db: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(seal_path(db)) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

/// Written when dropped, if armed: the writer's store holds one, declared after its
/// connections and before its lock, and arms it once its start passed the checks.
#[derive(Debug)]
pub(crate) struct SealOnClose {
    pub(crate) db: PathBuf,
    pub(crate) armed: std::cell::Cell<bool>,
}

impl Drop for SealOnClose {
    fn drop(&mut self) {
        // A writer that panicked (a broken invariant, a failed write) leaves no seal: its
        // next start checks everything, which is what such a stop deserves.
        if !self.armed.get() || std::thread::panicking() {
            return;
        }
        match write(&self.db) {
            Ok(()) => tracing::info!("database sealed at close"),
            Err(error) => tracing::warn!(%error, "sealing the database at close failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seal_matches_only_the_bytes_it_was_written_for() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("kezek.db");
        std::fs::write(&db, vec![7u8; 3 << 20]).unwrap();
        assert!(!intact(&db), "no seal yet");
        write(&db).unwrap();
        assert!(intact(&db));

        // One byte changed in the middle, same length: only the digest can tell.
        let mut bytes = std::fs::read(&db).unwrap();
        bytes[(3 << 20) / 2] = 8;
        std::fs::write(&db, &bytes).unwrap();
        assert!(!intact(&db));

        write(&db).unwrap();
        assert!(intact(&db));
        // A WAL that appeared since counts.
        std::fs::write(crate::store::wal_path(&db), b"frames").unwrap();
        assert!(!intact(&db));
        write(&db).unwrap();
        assert!(intact(&db));
        // The bytes moved from the WAL to the main file: the lengths are in the digest.
        std::fs::remove_file(crate::store::wal_path(&db)).unwrap();
        bytes.extend_from_slice(b"frames");
        std::fs::write(&db, &bytes).unwrap();
        assert!(!intact(&db));
    }

    #[test]
    fn a_damaged_or_removed_seal_answers_no() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("kezek.db");
        std::fs::write(&db, b"database").unwrap();
        write(&db).unwrap();
        let line = std::fs::read_to_string(seal_path(&db)).unwrap();
        assert!(FileDigest::parse(&line).is_some());
        std::fs::write(seal_path(&db), &line[..line.len() - 5]).unwrap();
        assert!(!intact(&db));
        write(&db).unwrap();
        remove(&db).unwrap();
        assert!(!intact(&db));
        remove(&db).unwrap();
    }
}
