//! The command line as a user runs it: `demo` fills a database, `verify` passes on it and
//! fails, naming the event, once one byte of the journal is changed; `serve` answers health.

use std::io::{BufRead, BufReader};
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

fn spawn_server(db: &std::path::Path, extra: &[&str]) -> (std::process::Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kezek"))
        .arg("--db")
        .arg(db)
        .args(["serve", "--addr", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let address = lines
        .find_map(|line| line.ok()?.strip_prefix("listening on ").map(str::to_string))
        .expect("serve prints its address");
    (child, address)
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
