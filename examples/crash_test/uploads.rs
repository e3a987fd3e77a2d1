//! The upload round (issue 19, "Must show"): concurrent parents attach documents of various
//! sizes to their applications while the service is killed with SIGKILL at a random
//! moment; then a restart and the checks:
//!
//! - every acknowledged upload (201) is there after the restart: its row holds the bytes
//!   sent (SHA-256 of the stored bytes = the one acknowledged = the one journaled), and a
//!   download through the restarted service returns them;
//! - an upload cut off by the kill is wholly there or wholly absent;
//! - no orphan: every `attachments` row has its `attachment_added` event and every such
//!   event its row, with the same fingerprint;
//! - `kezek verify` passes (it re-hashes every stored file against the journal).

use crate::driver::{registration_body, Round, Server, DISTRICTS, REQUEST_TIMEOUT};
use crate::model::Form;
use chrono::{Duration, TimeZone, Utc};
use kezek::domain::iin::{Iin, Sex};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// A real PDF, made unique and larger by comment lines before its trailer.
const PDF: &[u8] = include_bytes!("../../tests/fixtures/attachments/certificate.pdf");
/// Applications registered before the load; each holds at most 10 files (the default).
const APPLICATIONS: u32 = 30;
const CLIENTS_MIN: usize = 2;
const CLIENTS_MAX: usize = 8;
const LOAD_MS_MIN: u64 = 100;
const LOAD_MS_MAX: u64 = 1500;
/// Comment lines of padding: from a few hundred bytes to about 600 KB, so some uploads
/// span many WAL pages and overflow pages when the kill comes.
const PADDING_LINES_MAX: usize = 20_000;

/// (district, number) of an application.
type Id = (u32, u32);

struct Upload {
    application: Id,
    sha256: String,
    answer: Answer,
}

enum Answer {
    /// 201 with the record: its ordinal and SHA-256.
    Acknowledged { ordinal: u32, sha256: String },
    /// The kill cut it off, or a 5xx.
    Unanswered,
    /// 409 `attachment_too_many` (the application is full); anything else is a problem.
    Refused(u16, String),
}

struct Shared {
    client: reqwest::Client,
    base: String,
    applications: Vec<(Id, String)>,
    stop: AtomicBool,
    next: AtomicUsize,
    uploads: Mutex<Vec<Upload>>,
}

fn unique_pdf(serial: usize, padding: usize) -> Vec<u8> {
    let trailer = PDF
        .windows(7)
        .position(|w| w == b"trailer")
        .expect("the fixture has a trailer");
    let mut bytes = PDF[..trailer].to_vec();
    bytes.extend_from_slice(format!("% upload {serial}\n").as_bytes());
    for line in 0..padding {
        bytes.extend_from_slice(format!("% page {line} of a scanned document\n").as_bytes());
    }
    bytes.extend_from_slice(&PDF[trailer..]);
    bytes
}

async fn one_upload(shared: &Shared, rng: &mut SmallRng) {
    let serial = shared.next.fetch_add(1, Ordering::SeqCst);
    let (application, code) = &shared.applications[rng.random_range(0..shared.applications.len())];
    let bytes = unique_pdf(serial, rng.random_range(0..=PADDING_LINES_MAX));
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let path = format!(
        "{}/api/v1/applications/{}-{}/attachments?kind=other",
        shared.base,
        DISTRICTS[application.0 as usize - 1],
        application.1
    );
    let sent = shared
        .client
        .post(path)
        .header("X-Access-Code", code)
        .header("Idempotency-Key", format!("upload-{serial}"))
        .body(bytes)
        .send()
        .await;
    let answer = match sent {
        Err(_) => Answer::Unanswered,
        Ok(response) => {
            let status = response.status().as_u16();
            match (status, response.text().await) {
                (_, Err(_)) => Answer::Unanswered,
                (201, Ok(text)) => match serde_json::from_str::<Value>(&text) {
                    Ok(body) => Answer::Acknowledged {
                        ordinal: body["ordinal"].as_u64().unwrap_or(0) as u32,
                        sha256: body["sha256"].as_str().unwrap_or("").to_string(),
                    },
                    Err(_) => Answer::Refused(status, text),
                },
                (500..=599, Ok(_)) => Answer::Unanswered,
                (_, Ok(text)) => Answer::Refused(status, text),
            }
        }
    };
    shared.uploads.lock().expect("uploads").push(Upload {
        application: *application,
        sha256,
        answer,
    });
}

/// What the restarted database holds: each row's fingerprint as stored and as hashed now,
/// and each `attachment_added` event's.
struct Stored {
    rows: BTreeMap<(Id, u32), (String, String)>,
    events: BTreeMap<(Id, u32), String>,
}

fn read_stored(db: &std::path::Path) -> Result<Stored, String> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| format!("opening the database: {e}"))?;
    let sql = |e: rusqlite::Error| format!("reading the database: {e}");
    let mut rows = BTreeMap::new();
    let mut statement = conn
        .prepare("SELECT district_id, registration_number, ordinal, sha256, bytes FROM attachments")
        .map_err(sql)?;
    let mut cursor = statement.query([]).map_err(sql)?;
    while let Some(row) = cursor.next().map_err(sql)? {
        let key = (
            (row.get(0).map_err(sql)?, row.get(1).map_err(sql)?),
            row.get(2).map_err(sql)?,
        );
        let journaled: Vec<u8> = row.get(3).map_err(sql)?;
        let bytes: Vec<u8> = row.get(4).map_err(sql)?;
        rows.insert(
            key,
            (hex::encode(journaled), hex::encode(Sha256::digest(&bytes))),
        );
    }
    let mut events = BTreeMap::new();
    let mut statement = conn
        .prepare("SELECT payload FROM events WHERE kind = 'attachment_added'")
        .map_err(sql)?;
    let mut cursor = statement.query([]).map_err(sql)?;
    while let Some(row) = cursor.next().map_err(sql)? {
        let payload: String = row.get(0).map_err(sql)?;
        let event: Value = serde_json::from_str(&payload).map_err(|e| e.to_string())?;
        let data = &event["data"];
        let id = (
            data["id"]["district"].as_u64().unwrap_or(0) as u32,
            data["id"]["number"].as_u64().unwrap_or(0) as u32,
        );
        let ordinal = data["attachment"]["ordinal"].as_u64().unwrap_or(0) as u32;
        let sha256 = data["attachment"]["sha256"]
            .as_str()
            .unwrap_or("")
            .to_string();
        events.insert((id, ordinal), sha256);
    }
    Ok(Stored { rows, events })
}

impl Round {
    pub(crate) async fn run_uploads(&mut self, seed: u64) -> Result<(), String> {
        let mut rng = SmallRng::seed_from_u64(seed);
        let admin = self.staff_add(&["--role", "admin"])?;
        let mut server = self.start_server("server-1.log")?;
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| e.to_string())?;
        let applications = register(&client, &server, &admin).await?;
        let shared = Arc::new(Shared {
            client: client.clone(),
            base: server.base.clone(),
            applications,
            stop: AtomicBool::new(false),
            next: AtomicUsize::new(1),
            uploads: Mutex::new(Vec::new()),
        });
        let clients = rng.random_range(CLIENTS_MIN..=CLIENTS_MAX);
        self.counts.clients = clients;
        let tasks: Vec<_> = (0..clients)
            .map(|_| {
                let shared = Arc::clone(&shared);
                let mut rng = SmallRng::seed_from_u64(rng.random());
                tokio::spawn(async move {
                    while !shared.stop.load(Ordering::SeqCst) {
                        one_upload(&shared, &mut rng).await;
                    }
                })
            })
            .collect();
        let load_ms = rng.random_range(LOAD_MS_MIN..=LOAD_MS_MAX);
        self.counts.load_ms = load_ms;
        tokio::time::sleep(std::time::Duration::from_millis(load_ms)).await;
        server.kill();
        shared.stop.store(true, Ordering::SeqCst);
        for task in tasks {
            task.await
                .map_err(|e| format!("a client task panicked: {e}"))?;
        }
        let uploads = std::mem::take(&mut *shared.uploads.lock().expect("uploads"));
        let restarted = self.start_server("server-2.log")?;
        let stored = read_stored(&self.db)?;
        self.check_uploads(&uploads, &stored);
        self.check_download(&client, &restarted, &shared, &uploads)
            .await;
        drop(restarted);
        self.verify();
        Ok(())
    }

    fn check_uploads(&mut self, uploads: &[Upload], stored: &Stored) {
        self.counts.sent = uploads.len();
        self.counts.events = stored.events.len();
        let mut present_by_sha: BTreeMap<&str, (Id, u32)> = BTreeMap::new();
        for (key, (journaled, _)) in &stored.rows {
            present_by_sha.insert(journaled, *key);
        }
        for upload in uploads {
            match &upload.answer {
                Answer::Acknowledged { ordinal, sha256 } => {
                    self.counts.acknowledged += 1;
                    if *sha256 != upload.sha256 {
                        self.problem(format!(
                            "upload to {:?} acknowledged with SHA-256 {sha256}, sent {}",
                            upload.application, upload.sha256
                        ));
                    }
                    match stored.rows.get(&(upload.application, *ordinal)) {
                        Some((journaled, actual))
                            if *journaled == upload.sha256 && *actual == upload.sha256 => {}
                        Some(_) => self.problem(format!(
                            "acknowledged file {:?}/{ordinal} holds other bytes",
                            upload.application
                        )),
                        None => self.problem(format!(
                            "acknowledged file {:?}/{ordinal} is lost",
                            upload.application
                        )),
                    }
                }
                Answer::Unanswered => {
                    self.counts.unanswered += 1;
                    if present_by_sha.contains_key(upload.sha256.as_str()) {
                        self.counts.unanswered_present += 1;
                    }
                }
                Answer::Refused(409, text) if text.contains("attachment_too_many") => {}
                Answer::Refused(status, text) => {
                    self.problem(format!("an upload was refused {status}: {text}"))
                }
            }
        }
        // No orphans either way, and one fingerprint on both sides.
        for (key, (journaled, actual)) in &stored.rows {
            match stored.events.get(key) {
                None => self.problem(format!("file {key:?} has no attachment_added event")),
                Some(event) if event != journaled || journaled != actual => {
                    self.problem(format!("file {key:?} differs from its event"))
                }
                Some(_) => {}
            }
        }
        for key in stored.events.keys() {
            if !stored.rows.contains_key(key) {
                self.problem(format!("event for file {key:?} has no row"));
            }
        }
    }

    /// The last acknowledged file comes back byte for byte from the restarted service.
    async fn check_download(
        &mut self,
        client: &reqwest::Client,
        server: &Server,
        shared: &Shared,
        uploads: &[Upload],
    ) {
        let last = uploads.iter().rev().find_map(|u| match &u.answer {
            Answer::Acknowledged { ordinal, .. } => Some((u, *ordinal)),
            _ => None,
        });
        let Some((upload, ordinal)) = last else {
            return;
        };
        let code = shared
            .applications
            .iter()
            .find(|(id, _)| *id == upload.application)
            .map(|(_, code)| code.clone())
            .unwrap_or_default();
        let (district, number) = upload.application;
        let url = format!(
            "{}/api/v1/applications/{}-{number}/attachments/{ordinal}",
            server.base,
            DISTRICTS[district as usize - 1]
        );
        let fetched = client.get(url).header("X-Access-Code", code).send().await;
        let bytes = match fetched {
            Ok(response) if response.status().is_success() => response.bytes().await.ok(),
            _ => None,
        };
        match bytes {
            Some(bytes) if hex::encode(Sha256::digest(&bytes)) == upload.sha256 => {}
            _ => self.problem(format!(
                "acknowledged file {:?}/{ordinal} does not download as sent",
                upload.application
            )),
        }
    }
}

/// One district and kindergarten, and the applications the load attaches to, with their
/// access codes.
async fn register(
    client: &reqwest::Client,
    server: &Server,
    admin: &str,
) -> Result<Vec<(Id, String)>, String> {
    let local_today = (Utc::now() + Duration::hours(5)).date_naive();
    let today = local_today + Duration::days(1);
    let start = Utc.from_utc_datetime(&today.and_hms_opt(7, 0, 0).expect("07:00"));
    let post = |path: &str, body: Value, token: Option<&str>| {
        let builder = client.post(format!("{}{path}", server.base)).json(&body);
        let builder = match token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        };
        builder.send()
    };
    let answer = |what: &str, response: reqwest::Result<reqwest::Response>| {
        let what = what.to_string();
        async move {
            match response {
                Ok(r) if r.status().is_success() => {
                    r.json::<Value>().await.map_err(|e| e.to_string())
                }
                Ok(r) => Err(format!("setup: {what} answered {}", r.status())),
                Err(e) => Err(format!("setup: {what}: {e}")),
            }
        }
    };
    let code = DISTRICTS[0];
    let names = json!({ "kk": code, "ru": code });
    answer(
        "setting the clock",
        post("/api/v1/admin/clock", json!({ "now": start }), Some(admin)).await,
    )
    .await?;
    let district = json!({ "code": code, "names": names, "languages": ["kk", "ru"] });
    answer(
        "creating a district",
        post("/api/v1/districts", district, Some(admin)).await,
    )
    .await?;
    let kindergarten =
        json!({ "district": code, "number": "1", "names": names, "address": "Астана, 1" });
    answer(
        "creating a kindergarten",
        post("/api/v1/kindergartens", kindergarten, Some(admin)).await,
    )
    .await?;
    let birth = today - Duration::days(3 * 365);
    let mut applications = Vec::new();
    for serial in 1..=APPLICATIONS {
        let iin = Iin::synthesize(birth, Sex::Female, serial as u16)
            .or_else(|| Iin::synthesize(birth, Sex::Male, serial as u16 + 5000))
            .ok_or("no IIN for the serial")?
            .as_string();
        let form = Form {
            district: 1,
            birth,
            language: None,
            choices: Vec::new(),
            desired_start: today,
            claim: None,
        };
        let body = answer(
            "registering",
            post("/api/v1/applications", registration_body(&form, &iin), None).await,
        )
        .await?;
        let number = body["number"].as_str().unwrap_or("");
        let number = number
            .rsplit('-')
            .next()
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| format!("setup: a registration answered {body}"))?;
        let access = body["access_code"].as_str().unwrap_or("").to_string();
        applications.push(((1, number), access));
    }
    Ok(applications)
}
