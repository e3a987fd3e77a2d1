//! Malware scanning against a real ClamAV daemon (issue 19 §6): the test starts its own
//! clamd (Debian's `clamav-daemon`, installed by `scripts/install-test-deps`) in the
//! foreground, with a signature database it writes itself (the EICAR test file's bytes as
//! an `.ndb` body signature: these machines cannot download signature updates) and a Unix
//! socket in a temporary directory, and kills it at the end. Skipped, saying so, only where
//! clamd is not installed and the test is not running in CI.

mod common;
#[path = "common/http.rs"]
mod http;

use http::{Go, Server};
use kezek::http::HttpConfig;
use kezek::scan::Clamd;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CLAMD: &str = "/usr/sbin/clamd";
/// The EICAR anti-malware test file: harmless, and matched by every scanner's test
/// signature.
const EICAR: &[u8] = br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
const PDF: &[u8] = include_bytes!("fixtures/attachments/certificate.pdf");

/// A clamd of the test's own, killed when dropped.
struct Daemon {
    child: Child,
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Daemon {
    /// None (with the reason printed) when clamd is not installed outside CI.
    fn start() -> Option<Daemon> {
        if !Path::new(CLAMD).exists() {
            assert!(
                std::env::var_os("CI").is_none(),
                "clamd is not installed: run scripts/install-test-deps"
            );
            eprintln!("SKIPPED: {CLAMD} is not installed (scripts/install-test-deps installs it)");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db");
        std::fs::create_dir(&db).unwrap();
        std::fs::write(
            db.join("kezek-test.ndb"),
            format!("Kezek.Test.EICAR:0:*:{}\n", hex::encode(EICAR)),
        )
        .unwrap();
        let socket = dir.path().join("clamd.sock");
        let config = dir.path().join("clamd.conf");
        std::fs::write(
            &config,
            format!(
                "LocalSocket {}\nDatabaseDirectory {}\nForeground yes\nLogFile {}\n\
                 TemporaryDirectory {}\n",
                socket.display(),
                db.display(),
                dir.path().join("clamd.log").display(),
                dir.path().display()
            ),
        )
        .unwrap();
        let child = Command::new(CLAMD)
            .arg("-c")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("clamd starts");
        let started = Instant::now();
        while !socket.exists() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "clamd did not open its socket"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(Daemon {
            child,
            socket,
            _dir: dir,
        })
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn scanned_by(socket: &Path) -> Server {
    let config = HttpConfig {
        clamd: Some(Clamd::Unix(socket.to_path_buf())),
        ..HttpConfig::default()
    };
    Server::with(config, true).await
}

async fn registered(server: &Server) -> (String, String) {
    let form = serde_json::to_value(common::valid_form(1)).unwrap();
    let registered = server.register(form).await;
    (
        registered["number"].as_str().unwrap().into(),
        registered["access_code"].as_str().unwrap().into(),
    )
}

async fn upload(server: &Server, (number, code): &(String, String), bytes: &[u8]) -> http::Answer {
    server
        .post(&format!(
            "/api/v1/applications/{number}/attachments?kind=other"
        ))
        .header("X-Access-Code", code)
        .body(bytes.to_vec())
        .go()
        .await
}

fn stored_files(path: &Path) -> i64 {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row("SELECT count(*) FROM attachments", [], |r| r.get(0))
        .unwrap()
}

fn infected_events(path: &Path) -> Vec<(String, Value)> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut statement = conn
        .prepare("SELECT actor, payload FROM events WHERE kind = 'attachment_infected'")
        .unwrap();
    statement
        .query_map([], |r| {
            let payload: String = r.get(1)?;
            Ok((r.get(0)?, serde_json::from_str(&payload).unwrap()))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[tokio::test]
async fn clamd_refuses_and_journals_malware_and_a_daemon_down_refuses_everything() {
    let Some(mut daemon) = Daemon::start() else {
        return;
    };
    let mut server = scanned_by(&daemon.socket).await;
    let parent = registered(&server).await;

    // A clean document passes the scanner and is stored.
    let clean = upload(&server, &parent, PDF).await;
    assert_eq!(clean.status, 201, "{}", clean.text);

    // The EICAR file: refused with its own code, before recognition (which would refuse
    // it as an unsupported type), and journaled, never stored.
    upload(&server, &parent, EICAR)
        .await
        .assert_error(422, "attachment_infected");
    // Inside a PDF's comment it is found too: the bytes are scanned as they came.
    let mut carrier = PDF.to_vec();
    let at = carrier.iter().position(|b| *b == b'\n').unwrap() + 1;
    carrier.splice(at..at, [b"%".as_slice(), EICAR, b"\n"].concat());
    upload(&server, &parent, &carrier)
        .await
        .assert_error(422, "attachment_infected");
    assert_eq!(stored_files(&server.app.path), 1);
    let events = infected_events(&server.app.path);
    assert_eq!(events.len(), 2, "{events:?}");
    let (actor, first) = &events[0];
    assert_eq!(actor, "portal");
    assert_eq!(first["type"], "attachment_infected");
    assert_eq!(first["data"]["id"]["number"], 1);
    assert_eq!(first["data"]["sha256"], hex::encode(Sha256::digest(EICAR)));
    assert_eq!(first["data"]["size"], EICAR.len());
    let signature = first["data"]["signature"].as_str().unwrap();
    assert!(signature.starts_with("Kezek.Test.EICAR"), "{signature}");

    // The daemon stops: nothing is accepted unscanned.
    daemon.stop();
    upload(&server, &parent, PDF)
        .await
        .assert_error(503, "attachment_scanner_unavailable");
    assert_eq!(stored_files(&server.app.path), 1);

    let path = server.app.path.clone();
    tokio::task::spawn_blocking(move || {
        server.app.stop();
        kezek::verify::verify(&path).expect("the journal with its refusals verifies");
    })
    .await
    .unwrap();
}

/// Without any clamd on the machine: a configured scanner that is not there refuses
/// uploads; it does not wave them through.
#[tokio::test]
async fn a_configured_scanner_that_is_absent_refuses_uploads() {
    let dir = tempfile::tempdir().unwrap();
    let server = scanned_by(&dir.path().join("no-clamd.sock")).await;
    let parent = registered(&server).await;
    upload(&server, &parent, PDF)
        .await
        .assert_error(503, "attachment_scanner_unavailable");
    assert_eq!(stored_files(&server.app.path), 0);
    assert!(infected_events(&server.app.path).is_empty());
}
