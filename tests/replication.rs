//! The restore drill, short: `scripts/restore-drill` with few writes against the real
//! binary and Litestream (installed by scripts/install-test-deps). The service replicates,
//! is killed with its replicator, loses its database, is restored from the replica and
//! started on it; what was restored must be a prefix of what was acknowledged, and the
//! restored database must pass `kezek verify`.

use std::process::Command;

const WRITES: usize = 40;

#[test]
fn a_database_restored_from_the_replica_serves_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scripts/restore-drill"
    ))
    .arg(WRITES.to_string())
    .arg("--keep")
    .arg(dir.path())
    .env("KEZEK_BIN", env!("CARGO_BIN_EXE_kezek"))
    .output()
    .expect("scripts/restore-drill runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let line = |prefix: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no line {prefix:?} in:\n{stdout}"))
            .to_string()
    };
    let acknowledged = line("acknowledged before the kill: ");
    assert!(acknowledged.starts_with(&format!("{WRITES} registrations")));
    let restored = line("restored from the replica: ");
    let held: usize = restored.split(' ').next().unwrap().parse().unwrap();
    let lost: usize = restored
        .split("lost: ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(held + lost, WRITES, "{stdout}");
    assert_eq!(
        line("restored acknowledged operations are a prefix of them: "),
        "yes"
    );
    assert!(line("start on the restored file: serving").starts_with(" (http://"));
    assert!(line("verify: ").starts_with("ok: "), "{stdout}");
    assert!(
        dir.path().join("replica").join("ltx").is_dir(),
        "Litestream wrote the replica"
    );
}
