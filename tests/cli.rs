//! The command line as a user runs it: `demo` fills a database, `verify` passes on it and
//! fails, naming the event, once one byte of the journal is changed; `serve` answers health.

mod common;

use common::spawn_server;
use std::process::{Command, Stdio};

fn kezek(db: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kezek"))
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .expect("the binary runs")
}

#[test]
fn demo_then_verify_passes_and_a_changed_byte_fails_naming_the_event() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    let demo = kezek(&db, &["demo", "--applications", "3000", "--seed", "7"]);
    assert!(
        demo.status.success(),
        "{}",
        String::from_utf8_lossy(&demo.stderr)
    );
    assert!(String::from_utf8_lossy(&demo.stdout).contains("registered 3000 applications"));

    let verified = kezek(&db, &["verify"]);
    let stdout = String::from_utf8_lossy(&verified.stdout);
    assert!(verified.status.success(), "{stdout}");
    assert!(stdout.starts_with("ok: "), "{stdout}");

    let conn = rusqlite::Connection::open(&db).unwrap();
    let seq: i64 = conn
        .query_row(
            "SELECT seq FROM events WHERE kind = 'application_registered' LIMIT 1 OFFSET 1234",
            [],
            |r| r.get(0),
        )
        .unwrap();
    conn.execute_batch("DROP TRIGGER events_no_update").unwrap();
    // One byte: the first 'a' of the payload becomes 'b'.
    let changed = conn
        .execute("UPDATE events SET payload = substr(payload, 1, instr(payload, 'a') - 1) || 'b' || substr(payload, instr(payload, 'a') + 1) WHERE seq = ?1", [seq])
        .unwrap();
    assert_eq!(changed, 1);
    drop(conn);

    let failed = kezek(&db, &["verify"]);
    let stdout = String::from_utf8_lossy(&failed.stdout);
    assert!(!failed.status.success());
    assert!(stdout.contains(&format!("event {seq}:")), "{stdout}");
}

#[test]
fn verify_of_a_missing_file_fails_without_creating_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("absent.db");
    let output = kezek(&db, &["verify"]);
    assert!(!output.status.success());
    assert!(!db.exists(), "verify must not create a database");
}

#[test]
fn serve_answers_health_on_the_port_it_prints() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, address) = spawn_server(&dir.path().join("serve.db"), &["--demo", "200"]);
    let body = tokio::runtime::Runtime::new().unwrap().block_on(async {
        reqwest::get(format!("{address}/api/v1/health"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["applications_waiting"], 200);
}

/// `kezek staff add`, returning the token it prints.
fn add_staff(db: &std::path::Path, args: &[&str]) -> String {
    let mut all = vec!["staff", "add"];
    all.extend_from_slice(args);
    let output = kezek(db, &all);
    assert!(output.status.success(), "{output:?}");
    let token = String::from_utf8(output.stdout).unwrap().trim().to_string();
    assert!(token.starts_with("kzk_"), "the token alone is on stdout");
    token
}

fn post_clock(address: &str, token: &str, now: &str) -> (u16, serde_json::Value) {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let response = reqwest::Client::new()
            .post(format!("{address}/api/v1/admin/clock"))
            .bearer_auth(token)
            .header("Accept-Language", "kk-KZ, ru;q=0.8")
            .json(&serde_json::json!({ "now": now }))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    })
}

#[test]
fn the_clock_moves_only_when_the_service_runs_with_a_manual_clock() {
    let dir = tempfile::tempdir().unwrap();
    let admin_a = add_staff(&dir.path().join("a.db"), &["--role", "admin"]);
    let admin_b = add_staff(&dir.path().join("b.db"), &["--role", "admin"]);
    let (mut system, address) = spawn_server(&dir.path().join("a.db"), &[]);
    let (unauthorized, _) = post_clock(&address, "kzk_wrong", "2030-01-01T00:00:00Z");
    let (status, body) = post_clock(&address, &admin_a, "2030-01-01T00:00:00Z");
    system.kill().unwrap();
    system.wait().unwrap();
    assert_eq!(unauthorized, 401, "only an admin moves the clock");
    assert_eq!(status, 403);
    assert_eq!(body["code"], "clock_not_manual");
    // The message follows Accept-Language: Kazakh was asked for first.
    assert_eq!(body["lang"], "kk");
    assert!(
        body["message"].as_str().unwrap().contains("жүйелік"),
        "{body}"
    );

    let (mut manual, address) = spawn_server(&dir.path().join("b.db"), &["--clock", "manual"]);
    let (status, body) = post_clock(&address, &admin_b, "2030-01-01T00:00:00Z");
    let (backwards, refusal) = post_clock(&address, &admin_b, "2029-01-01T00:00:00Z");
    manual.kill().unwrap();
    manual.wait().unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["now"], "2030-01-01T00:00:00Z");
    assert_eq!(backwards, 409);
    assert_eq!(refusal["code"], "clock_backwards");
}

/// Waits for `child` to exit on its own, at most `seconds`; kills it and fails otherwise.
fn exits_within(mut child: std::process::Child, seconds: u64) -> std::process::Output {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the process was still running after {seconds} s");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

fn serve_output(db: &std::path::Path) -> std::process::Output {
    let child = Command::new(env!("CARGO_BIN_EXE_kezek"))
        .arg("--db")
        .arg(db)
        .args(["serve", "--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    exits_within(child, 30)
}

/// Size and modification time of the database and its WAL: what a write would change.
fn footprint(db: &std::path::Path) -> Vec<(u64, std::time::SystemTime)> {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    [db.to_path_buf(), wal.into()]
        .iter()
        .map(|path| {
            let meta = std::fs::metadata(path).unwrap();
            (meta.len(), meta.modified().unwrap())
        })
        .collect()
}

#[test]
fn a_second_server_on_a_held_database_refuses_to_start_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("held.db");
    let (mut first, _) = spawn_server(&db, &["--demo", "50"]);
    // The first server's start-up writes are over once it listens; let its checkpoint settle.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let before = footprint(&db);

    let second = serve_output(&db);
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success(), "{stderr}");
    assert!(
        stderr.contains("in use by another kezek process"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&first.id().to_string()),
        "names the holder: {stderr}"
    );
    let demo = kezek(&db, &["demo", "--applications", "10"]);
    assert!(!demo.status.success());
    assert_eq!(
        footprint(&db),
        before,
        "the refused processes wrote nothing"
    );

    // The lock dies with its holder, however it dies.
    first.kill().unwrap();
    first.wait().unwrap();
    let (mut again, _) = spawn_server(&db, &[]);
    again.kill().unwrap();
    again.wait().unwrap();
}

#[test]
fn a_corrupted_uniqueness_index_is_caught_by_verify_and_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("corrupt.db");
    let demo = kezek(&db, &["demo", "--applications", "60", "--seed", "3"]);
    assert!(demo.status.success(), "{demo:?}");
    assert!(kezek(&db, &["verify"]).status.success());

    // One digit of one key in the index's b-tree page: the page stays well-formed, so only
    // a check of the index against its table can see it.
    let (page_size, root): (u64, u64) = {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
        let size = conn
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .unwrap();
        let root = conn
            .query_row(
                "SELECT rootpage FROM sqlite_master WHERE name = 'one_active_application_per_child'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        (size, root)
    };
    let mut bytes = std::fs::read(&db).unwrap();
    let page = &mut bytes[((root - 1) * page_size) as usize..(root * page_size) as usize];
    assert_eq!(page[0], 0x0A, "60 keys fit in one leaf page of the index");
    let start = (8..page.len() - 12)
        .rev()
        .find(|&i| page[i..i + 12].iter().all(u8::is_ascii_digit))
        .expect("a child's IIN in the page");
    page[start + 11] = if page[start + 11] == b'9' {
        b'0'
    } else {
        page[start + 11] + 1
    };
    std::fs::write(&db, &bytes).unwrap();

    let verified = kezek(&db, &["verify"]);
    let stdout = String::from_utf8_lossy(&verified.stdout);
    assert!(!verified.status.success(), "{stdout}");
    assert!(
        stdout.contains("one_active_application_per_child"),
        "{stdout}"
    );

    let served = serve_output(&db);
    let stderr = String::from_utf8_lossy(&served.stderr);
    assert!(!served.status.success(), "{stderr}");
    assert!(stderr.contains("integrity check"), "{stderr}");
    assert!(
        stderr.contains("one_active_application_per_child"),
        "{stderr}"
    );
}

/// The database, its WAL and shared memory, the signing key, the outbox's folder and each
/// message hold personal data or a secret: after a service started, registered children
/// and wrote their messages, none is readable by anyone but its owner (issue 13 found them
/// 0644 and the outbox 0755).
#[cfg(unix)]
#[test]
fn the_database_key_and_outbox_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &std::path::Path| {
        let metadata = std::fs::metadata(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        metadata.permissions().mode() & 0o777
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kezek.db");
    let outbox = dir.path().join("mail").join("outbox");
    let notify = format!("file:{}", outbox.display());
    let admin = add_staff(&db, &["--role", "admin"]);
    let (mut child, address) = spawn_server(&db, &["--notify", &notify]);
    register_one(&address, &admin);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let messages = loop {
        let messages: Vec<_> = std::fs::read_dir(&outbox)
            .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        if messages
            .iter()
            .any(|p| p.extension().is_some_and(|e| e == "eml"))
            || std::time::Instant::now() > deadline
        {
            break messages;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let mut files: Vec<std::path::PathBuf> = ["kezek.db", "kezek.db-wal", "kezek.db-shm"]
        .iter()
        .map(|name| dir.path().join(name))
        .collect();
    files.extend(messages.iter().cloned());
    files.extend(
        std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.to_string_lossy().ends_with(".key")),
    );
    let folders = [outbox.clone(), dir.path().join("mail")];
    let found: Vec<(String, u32)> = files
        .iter()
        .chain(&folders)
        .map(|p| (p.display().to_string(), mode(p)))
        .collect();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !messages.is_empty(),
        "the demo's registrations wrote messages"
    );
    assert!(
        files.iter().any(|p| p.to_string_lossy().ends_with(".key")),
        "the signing key is beside the database: {found:?}"
    );
    for (path, mode) in &found[..files.len()] {
        assert_eq!(*mode, 0o600, "{path}: {mode:o}");
    }
    for (path, mode) in &found[files.len()..] {
        assert_eq!(*mode, 0o700, "{path}: {mode:o}");
    }
}

/// Through the API: a district, then one child registered by a parent with an e-mail.
#[cfg(unix)]
fn register_one(address: &str, admin: &str) {
    use kezek::domain::iin::{Iin, Sex};
    let today = chrono::Utc::now().date_naive();
    let birth = today - chrono::Duration::days(3 * 365);
    let iin = Iin::synthesize(birth, Sex::Female, 17).expect("an IIN");
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let client = reqwest::Client::new();
        let district = client
            .post(format!("{address}/api/v1/districts"))
            .bearer_auth(admin)
            .json(&serde_json::json!({
                "code": "ESL", "names": { "kk": "Есіл", "ru": "Есиль" }, "languages": ["kk"]
            }))
            .send()
            .await
            .unwrap();
        assert!(
            district.status().is_success(),
            "{:?}",
            district.text().await
        );
        let registered = client
            .post(format!("{address}/api/v1/applications"))
            .json(&serde_json::json!({
                "district": "ESL",
                "child_iin": iin.as_string(),
                "child_full_name": "Әлия Сәрсенова",
                "child_birth_date": birth.to_string(),
                "applicant_iin": "791028302728",
                "applicant_full_name": "Айгүл Сәрсенова",
                "applicant_phone": "+7 701 000 00 00",
                "applicant_email": "aigul@example.kz",
                "applicant_address": "Астана, Мәңгілік Ел 8",
                "applicant_relation": "mother",
                "desired_start": (today + chrono::Duration::days(30)).to_string(),
                "kindergartens": [],
                "language": "any",
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(registered.status(), 201, "{:?}", registered.text().await);
    });
}

/// On every interface, a service cannot know the address people reach it by: without
/// `--public-url` it refuses to start, before it opens (or creates) the database.
#[test]
fn serve_on_every_interface_needs_a_public_url() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kezek.db");
    let output = kezek(&db, &["serve", "--addr", "0.0.0.0:0"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--public-url"), "{stderr}");
    assert!(!db.exists(), "nothing was created");
}

/// Issue 14 at the command line: a production deployment without an identity provider
/// stops at start (naming the setting that allows it) and writes nothing; `staff bind`
/// binds a live account to the provider's subject and refuses an unknown one.
#[test]
fn production_needs_a_provider_and_staff_bind_binds_a_live_account() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.db");
    let refused = kezek(
        &db,
        &[
            "serve",
            "--deployment",
            "production",
            "--addr",
            "127.0.0.1:0",
        ],
    );
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("allow_production_without_provider"), "{said}");
    assert!(!db.exists(), "nothing written");

    add_staff(&db, &["--role", "admin", "--name", "boss"]);
    let bound = kezek(&db, &["staff", "bind", "boss", "--subject", "sub-17"]);
    assert!(
        bound.status.success(),
        "{}",
        String::from_utf8_lossy(&bound.stderr)
    );
    let conn = rusqlite::Connection::open(&db).unwrap();
    let account = kezek::store::identity::staff_by_subject(&conn, "sub-17").unwrap();
    assert_eq!(account.map(|a| a.name).as_deref(), Some("boss"));
    let unknown = kezek(&db, &["staff", "bind", "nobody", "--subject", "sub-18"]);
    assert!(!unknown.status.success());
}

/// A staff provider's section that does not hold (no issuer; a redirect to another path)
/// stops the start, naming the setting, before anything is written.
#[test]
fn a_staff_provider_section_without_an_issuer_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.db");
    for (section, named) in [
        ("[oidc.staff]\nclient_id = \"kezek-staff\"\n", "oidc.staff.issuer"),
        (
            "[oidc.staff]\nissuer = \"https://sso.example.kz\"\nredirect_url = \"https://kezek.example.kz/elsewhere\"\n",
            "oidc.staff.redirect_url",
        ),
    ] {
        let file = dir.path().join("kezek.toml");
        std::fs::write(&file, section).unwrap();
        let refused = kezek(
            &db,
            &[
                "serve",
                "--config",
                file.to_str().unwrap(),
                "--addr",
                "127.0.0.1:0",
            ],
        );
        assert!(!refused.status.success());
        let said = String::from_utf8_lossy(&refused.stderr);
        assert!(said.contains(named), "{said}");
        assert!(!db.exists(), "nothing written");
    }
}
