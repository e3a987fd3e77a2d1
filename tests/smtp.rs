//! The SMTP channel against a real SMTP server: Python's aiosmtpd (installed into
//! `.venv-test` by `scripts/install-test-deps`), started on a loopback port of its own by
//! `tests/smtp/capture.py`, which keeps each message and what Python's standard e-mail
//! parser reads from it. The message must be one a mail program reads as meant: MIME 1.0
//! (RFC 2045; issue 13 found it missing), a sender with the service's name, the parent as
//! the only recipient, and a Kazakh and Russian subject and body that decode as sent.

mod common;

use common::start_time;
use kezek::notify::channels::{Channel, Delivered, SmtpChannel};
use kezek::notify::texts::SENDER_NAME;
use kezek::store::OutboxMessage;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The capture server; killed when dropped.
struct SmtpServer {
    child: Child,
    port: u16,
    folder: tempfile::TempDir,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn python() -> PathBuf {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-test/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/install-test-deps",
        python.display()
    );
    python
}

impl SmtpServer {
    fn start() -> SmtpServer {
        let folder = tempfile::tempdir().unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp/capture.py");
        let mut child = Command::new(python())
            .arg(script)
            .arg(folder.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python runs");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("the capture server printed no port: {line:?}")
        });
        SmtpServer {
            child,
            port,
            folder,
        }
    }

    /// The first message as the server received it.
    fn first_raw(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(self.folder.path().join("1.eml")).unwrap())
            .into_owned()
    }

    /// The first message the server took, as Python parsed it.
    fn first_message(&self) -> Value {
        let path = self.folder.path().join("1.json");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !path.exists() {
            assert!(Instant::now() < deadline, "no message reached the server");
            std::thread::sleep(Duration::from_millis(20));
        }
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }
}

#[test]
fn a_message_sent_over_smtp_is_mime_with_the_services_name_and_decodes_as_sent() {
    let server = SmtpServer::start();
    let url = format!(
        "smtp://127.0.0.1:{}?from=no-reply%40kezek.example.kz",
        server.port
    );
    let mut channel = SmtpChannel::from_url(&url).unwrap();
    let subject = "Өтініш № ESL-7 тіркелді / Заявление № ESL-7 зарегистрировано";
    let body = "Сіздің өтінішіңіз кезекке қойылды: ESL-7.\n\
                Ваше заявление поставлено в очередь: ESL-7.\n";
    let message = OutboxMessage {
        id: 7,
        kind: "registered".into(),
        recipient: "mailto:ata.ana@example.kz".into(),
        subject: subject.into(),
        body: body.into(),
        created_at: start_time(),
        attempts: 0,
    };
    assert_eq!(channel.deliver(&message), Ok(Delivered::Sent));

    let parsed = server.first_message();
    let raw = server.first_raw();
    let headers = &parsed["headers"];
    assert_eq!(headers["MIME-Version"], "1.0", "{parsed}");
    assert_eq!(parsed["from_display_name"], SENDER_NAME, "{raw}");
    assert_eq!(parsed["from_address"], "no-reply@kezek.example.kz");
    assert_eq!(parsed["mail_from"], "no-reply@kezek.example.kz");
    assert_eq!(parsed["to"], serde_json::json!(["ata.ana@example.kz"]));
    assert_eq!(
        parsed["rcpt_tos"],
        serde_json::json!(["ata.ana@example.kz"])
    );
    assert_eq!(headers["Subject"], subject);
    assert_eq!(parsed["content_type"], "text/plain");
    assert_eq!(parsed["charset"], "utf-8");
    assert_eq!(
        parsed["body"].as_str().map(|b| b.replace("\r\n", "\n")),
        Some(body.to_string())
    );
    assert!(
        headers["Message-ID"]
            .as_str()
            .is_some_and(|id| id.ends_with("@kezek.example.kz>")),
        "{parsed}"
    );
}
