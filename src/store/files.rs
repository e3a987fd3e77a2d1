//! The database's files are the owner's alone: they hold IINs, names, addresses and
//! phones, and nobody else on the machine may read them.
//!
//! SQLite's unix VFS creates a new database file with mode 0644 (less the umask), and each
//! WAL, shared-memory and rollback-journal file with the same permissions as the database
//! file it belongs to. So the database is created here, 0600, before SQLite opens it, and
//! SQLite's own files follow it; the files of a database made by an older version (0644)
//! are tightened at open. This does not depend on the process's umask, which `main` also
//! sets (0077) for every other file a deployment writes, because a library caller (tests,
//! `kezek import`, tools) may not have.

use std::path::{Path, PathBuf};

/// Owner read and write, nothing for anyone else.
pub const FILE_MODE: u32 = 0o600;
/// Owner only, for folders the service makes (the outbox).
pub const DIR_MODE: u32 = 0o700;

/// The files SQLite keeps beside a database.
fn companions(path: &Path) -> [PathBuf; 3] {
    ["-wal", "-shm", "-journal"].map(|suffix| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    })
}

/// Creates the database file owner-only if it does not exist, and makes it and the files
/// SQLite keeps beside it owner-only if they do.
pub fn owner_only_database(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, FILE_MODE);
    match options.open(path) {
        Ok(_) => {}
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(error) => return Err(error),
    }
    for file in std::iter::once(path.to_path_buf()).chain(companions(path)) {
        restrict(&file, FILE_MODE)?;
    }
    Ok(())
}

/// Sets `mode` on `path` if it exists and is wider.
pub fn restrict(path: &Path, mode: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let metadata = match std::fs::metadata(path) {
            Ok(metadata) => metadata,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(error) => return Err(error),
        };
        if metadata.permissions().mode() & 0o777 & !mode != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
        }
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_new_database_is_owner_only_and_an_old_one_is_tightened() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("kezek.db");
        owner_only_database(&db).unwrap();
        assert_eq!(mode(&db), 0o600);
        let wal = dir.path().join("kezek.db-wal");
        std::fs::write(&wal, b"").unwrap();
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(&wal, std::fs::Permissions::from_mode(0o666)).unwrap();
        owner_only_database(&db).unwrap();
        assert_eq!((mode(&db), mode(&wal)), (0o600, 0o600));
    }
}
