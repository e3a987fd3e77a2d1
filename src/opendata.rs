//! Open data (issue 17): a snapshot of the anonymised queue and of the protocol of places
//! and referrals, as CSV and JSON, described by a Frictionless Data Package
//! (`datapackage.json`, Table Schema for each table) and a data dictionary in Kazakh,
//! Russian and English, cut at one journal sequence number and signed with the
//! deployment's key.
//!
//! Why Frictionless rather than CSVW: its descriptor is plain JSON that the same tools read
//! for CSV and JSON alike, its validator (`frictionless`, PyPI) checks every row against the
//! schema, and it is what open-data portals (CKAN among them) take in; CSVW needs a
//! JSON-LD-aware toolchain for the same checks.
//!
//! A snapshot is consistent: everything is read in one read transaction, so the rows, the
//! positions (the state rebuilt from those same rows) and the chain head it names belong to
//! one moment of the journal. What it holds is what the public pages already show (number,
//! birth year, tier, registration time, choices, position, status): never a name, an IIN,
//! a birth date, an address or a reason an officer wrote.
//!
//! The signature covers `datapackage.json`, which carries every file's SHA-256 and size, so
//! it covers every file; `check` proves a directory is a snapshot as it was signed.

use crate::documents::signing::DocumentSigner;
use crate::domain::application::{ApplicationId, ApplicationStatus};
use crate::domain::numbers as ids;
use crate::domain::referral::{FreePlace, Referral};
use crate::domain::state::QueueState;
use crate::domain::waiting_list::Waiting;
use crate::store::{self, StoreError};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, Utc};
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use rusqlite::Connection;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::path::Path;

/// What a snapshot's signature is over: this label, then the descriptor's bytes. The label
/// keeps a snapshot's signature from ever passing for a document's, and back.
const SIGNED_LABEL: &[u8] = b"kezek open data v1\0";

/// The descriptor and the signature beside it.
pub const DESCRIPTOR: &str = "datapackage.json";
pub const SIGNATURE: &str = "datapackage.json.sig";

/// One column: its name, its Table Schema type and constraints, and what it means in each
/// language (the dictionary and the descriptor are written from this one list).
struct Column {
    name: &'static str,
    kind: &'static str,
    required: bool,
    en: &'static str,
    ru: &'static str,
    kk: &'static str,
}

const fn column(
    name: &'static str,
    kind: &'static str,
    required: bool,
    [en, ru, kk]: [&'static str; 3],
) -> Column {
    Column {
        name,
        kind,
        required,
        en,
        ru,
        kk,
    }
}

/// One table of the snapshot.
struct Table {
    name: &'static str,
    title: [&'static str; 3],
    key: &'static [&'static str],
    columns: &'static [Column],
}

const QUEUE: Table = Table {
    name: "queue",
    title: [
        "Applications in the queue (waiting or holding a referral)",
        "Заявления в очереди (ожидают или получили направление)",
        "Кезектегі өтініштер (күтуде немесе жолдама алған)",
    ],
    key: &["number"],
    columns: &[
        column("number", "string", true, [
            "The application's number: district code and number in the district's journal",
            "Номер заявления: код района и номер в журнале района",
            "Өтініш нөмірі: аудан коды және аудан журналындағы нөмір",
        ]),
        column("district", "string", true, ["District code", "Код района", "Аудан коды"]),
        column("birth_year", "integer", true, [
            "The child's year of birth (its cohort)",
            "Год рождения ребёнка (его когорта)",
            "Баланың туған жылы (оның когортасы)",
        ]),
        column("tier", "string", true, [
            "Priority tier: out_of_turn, first or general",
            "Очерёдность: out_of_turn (вне очереди), first (в первую очередь), general (общая)",
            "Кезектілік: out_of_turn (кезектен тыс), first (бірінші кезекте), general (жалпы)",
        ]),
        column("registered_at", "datetime", true, [
            "Registration time (UTC), which orders the queue within a tier",
            "Время регистрации (UTC), порядок очереди внутри очерёдности",
            "Тіркелген уақыты (UTC), кезектілік ішіндегі реті",
        ]),
        column("kindergartens", "string", false, [
            "Chosen kindergartens' ids, most wanted first, separated by spaces; empty: any",
            "Выбранные детские сады (id) по предпочтению через пробел; пусто: любой",
            "Таңдалған балабақшалар (id) қалау ретімен, бос орынмен; бос: кез келген",
        ]),
        column("language", "string", false, [
            "Group language (kk, ru); empty: any",
            "Язык группы (kk, ru); пусто: любой",
            "Топ тілі (kk, ru); бос: кез келген",
        ]),
        column("desired_start", "date", true, [
            "The date from which a place is wanted",
            "Желаемая дата начала посещения",
            "Баланың баруы қалаған күн",
        ]),
        column("cohort_position", "integer", false, [
            "Position in the district's birth-year cohort (1: next); empty while holding a referral",
            "Позиция в когорте года рождения района (1: следующий); пусто, если есть направление",
            "Ауданның туған жыл когортасындағы орны (1: келесі); жолдама болса бос",
        ]),
        column("status", "string", true, [
            "queued, on_stop_list or referred",
            "queued (в очереди), on_stop_list (стоп-лист) или referred (направление)",
            "queued (кезекте), on_stop_list (стоп-парақ) немесе referred (жолдама)",
        ]),
    ],
};

const PLACES: Table = Table {
    name: "places",
    title: [
        "Free places reported by kindergartens",
        "Свободные места, о которых сообщили детские сады",
        "Балабақшалар хабарлаған бос орындар",
    ],
    key: &["place"],
    columns: &[
        column(
            "place",
            "integer",
            true,
            ["Place id", "Номер места", "Орын нөмірі"],
        ),
        column(
            "district",
            "string",
            true,
            ["District code", "Код района", "Аудан коды"],
        ),
        column(
            "kindergarten",
            "integer",
            true,
            ["Kindergarten id", "Детский сад (id)", "Балабақша (id)"],
        ),
        column(
            "group",
            "integer",
            false,
            ["Group id", "Группа (id)", "Топ (id)"],
        ),
        column(
            "born_from",
            "date",
            true,
            [
                "Children born on or after this day fit",
                "Подходят дети, родившиеся с этого дня",
                "Осы күннен бастап туған балалар сәйкес",
            ],
        ),
        column(
            "born_to",
            "date",
            true,
            [
                "Children born on or before this day fit",
                "Подходят дети, родившиеся по этот день",
                "Осы күнге дейін туған балалар сәйкес",
            ],
        ),
        column(
            "language",
            "string",
            true,
            ["Group language", "Язык группы", "Топ тілі"],
        ),
        column(
            "available_from",
            "date",
            true,
            ["Free from", "Свободно с", "Бос болған күні"],
        ),
        column(
            "reported_at",
            "datetime",
            true,
            [
                "Reported at (UTC)",
                "Сообщено (UTC)",
                "Хабарланған уақыты (UTC)",
            ],
        ),
        column(
            "filled",
            "boolean",
            true,
            [
                "A referral for it was handed in",
                "Направление на него сдано",
                "Оған жолдама тапсырылды",
            ],
        ),
    ],
};

const REFERRALS: Table = Table {
    name: "referrals",
    title: [
        "Referrals issued for the places",
        "Направления, выданные на места",
        "Орындарға берілген жолдамалар",
    ],
    key: &["number"],
    columns: &[
        column("number", "string", true, ["Referral number", "Номер направления", "Жолдама нөмірі"]),
        column("application", "string", true, [
            "The application it went to (see the queue's numbers)",
            "Заявление, которому выдано (номер как в очереди)",
            "Берілген өтініш (кезектегі нөмір)",
        ]),
        column("place", "integer", true, ["Place id", "Номер места", "Орын нөмірі"]),
        column("kindergarten", "integer", true, ["Kindergarten id", "Детский сад (id)", "Балабақша (id)"]),
        column("issued_at", "datetime", true, ["Issued at (UTC)", "Выдано (UTC)", "Берілген уақыты (UTC)"]),
        column("valid_until", "datetime", true, [
            "Lapses at this instant (UTC) unless handed in",
            "Истекает в этот момент (UTC), если не сдано",
            "Тапсырылмаса, осы сәтте күшін жояды (UTC)",
        ]),
        column("status", "string", true, [
            "issued, handed_in, declined, expired or revoked",
            "issued (выдано), handed_in (сдано), declined (отказ), expired (истекло), revoked (отозвано)",
            "issued (берілді), handed_in (тапсырылды), declined (бас тарту), expired (мерзімі өтті), revoked (кері қайтарылды)",
        ]),
        column("transfer", "boolean", true, [
            "For an enrolled child's transfer",
            "Для перевода уже зачисленного ребёнка",
            "Қабылданған баланы ауыстыру үшін",
        ]),
    ],
};

/// The tables, in the order the descriptor lists them.
const TABLES: [&Table; 3] = [&QUEUE, &PLACES, &REFERRALS];

/// A snapshot written into its folder: where it was cut, and each file with its size and
/// SHA-256 (the descriptor and its signature among them).
#[derive(Debug)]
pub struct Snapshot {
    pub seq: u64,
    pub head: String,
    pub files: Vec<WrittenFile>,
}

/// One file of a snapshot as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrittenFile {
    pub name: String,
    pub bytes: u64,
    /// Hex.
    pub sha256: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("the journal is empty: nothing to cut a snapshot at")]
    EmptyJournal,
}

/// Cuts a snapshot from `conn` (a reader; the read transaction is opened here) at the
/// journal's current head, and writes it into `dir` (created if absent): each file streamed
/// through its hash to a temporary name, synced and renamed, the signature last, so a folder
/// with a signature holds a whole snapshot. Nothing of a million rows is held as text: the
/// queue's rows go to both files as they are made.
pub fn cut_into(
    conn: &mut Connection,
    signer: &DocumentSigner,
    now: DateTime<Utc>,
    dir: &Path,
) -> Result<Snapshot, SnapshotError> {
    std::fs::create_dir_all(dir)?;
    let tx = conn.transaction()?;
    let (seq, head) = store::journal_head_of(&tx)?.ok_or(SnapshotError::EmptyJournal)?;
    let (state, active) = store::load_positions(&tx)?;
    let mut files = Vec::new();
    let mut queue = TableFiles::create(dir, &QUEUE)?;
    for (id, waiting, status) in &active {
        queue.row(&queue_row(&state, *id, waiting, *status))?;
    }
    drop(active);
    files.extend(queue.finish()?);
    let filled: std::collections::HashSet<_> = store::place_rows(&tx, "WHERE filled = 1")?
        .into_iter()
        .map(|place| place.id)
        .collect();
    let mut places = TableFiles::create(dir, &PLACES)?;
    for place in store::place_rows(&tx, "")? {
        places.row(&place_row(&state, &place, filled.contains(&place.id)))?;
    }
    files.extend(places.finish()?);
    let mut referrals = Vec::new();
    store::for_each_referral(&tx, "", |referral| {
        referrals.push(referral_row(&state, &referral));
        Ok(())
    })?;
    drop(tx);
    let mut table = TableFiles::create(dir, &REFERRALS)?;
    for row in &referrals {
        table.row(row)?;
    }
    files.extend(table.finish()?);
    files.push(write_file(dir, "README.md", dictionary().as_bytes())?);
    let head = hex::encode(head);
    let descriptor = descriptor(seq, &head, now, signer, &files);
    let signature = json!({
        "algorithm": "Ed25519",
        "key_id": signer.public_key().id,
        "signature": signer.sign_bytes(&signed_bytes(&descriptor)),
    });
    files.push(write_file(dir, DESCRIPTOR, &descriptor)?);
    files.push(write_file(dir, SIGNATURE, &pretty(&signature))?);
    std::fs::File::open(dir)?.sync_all()?;
    Ok(Snapshot { seq, head, files })
}

/// A snapshot file being written: through a buffer to a temporary name, hashed and counted
/// on the way.
struct HashedFile {
    name: String,
    temporary: std::path::PathBuf,
    out: std::io::BufWriter<std::fs::File>,
    hasher: Sha256,
    bytes: u64,
}

impl HashedFile {
    fn create(dir: &Path, name: &str) -> std::io::Result<HashedFile> {
        let temporary = dir.join(format!(".{name}.partial"));
        Ok(HashedFile {
            name: name.to_string(),
            out: std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&temporary)?),
            temporary,
            hasher: Sha256::new(),
            bytes: 0,
        })
    }

    fn put(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        use std::io::Write;
        self.hasher.update(bytes);
        self.bytes += bytes.len() as u64;
        self.out.write_all(bytes)
    }

    /// Synced, then renamed to its name.
    fn finish(self) -> std::io::Result<WrittenFile> {
        let file = self.out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        let path = self.temporary.with_file_name(&self.name);
        std::fs::rename(&self.temporary, path)?;
        Ok(WrittenFile {
            name: self.name,
            bytes: self.bytes,
            sha256: hex::encode(self.hasher.finalize()),
        })
    }
}

fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<WrittenFile> {
    let mut file = HashedFile::create(dir, name)?;
    file.put(bytes)?;
    file.finish()
}

/// One table's CSV and JSON copy, written a row at a time.
struct TableFiles<'a> {
    table: &'a Table,
    csv: HashedFile,
    json: HashedFile,
    rows: u64,
    /// The row being formatted, reused.
    line: String,
}

impl<'a> TableFiles<'a> {
    fn create(dir: &Path, table: &'a Table) -> std::io::Result<TableFiles<'a>> {
        let mut csv = HashedFile::create(dir, &format!("{}.csv", table.name))?;
        let header: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
        csv.put(header.join(",").as_bytes())?;
        csv.put(b"\r\n")?;
        let mut json = HashedFile::create(dir, &format!("{}.json", table.name))?;
        json.put(b"[")?;
        Ok(TableFiles {
            table,
            csv,
            json,
            rows: 0,
            line: String::new(),
        })
    }

    fn row<S: AsRef<str>>(&mut self, fields: &[S]) -> std::io::Result<()> {
        self.line.clear();
        for (i, field) in fields.iter().enumerate() {
            if i > 0 {
                self.line.push(',');
            }
            csv_field(&mut self.line, field.as_ref());
        }
        self.line.push_str("\r\n");
        self.csv.put(self.line.as_bytes())?;
        self.line.clear();
        json_row(&mut self.line, self.table, fields, self.rows == 0);
        self.json.put(self.line.as_bytes())?;
        self.rows += 1;
        Ok(())
    }

    fn finish(mut self) -> std::io::Result<[WrittenFile; 2]> {
        self.json.put(b"\n]\n")?;
        Ok([self.csv.finish()?, self.json.finish()?])
    }
}

fn signed_bytes(descriptor: &[u8]) -> Vec<u8> {
    [SIGNED_LABEL, descriptor].concat()
}

fn time(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn queue_row(
    state: &QueueState,
    id: ApplicationId,
    waiting: &Waiting,
    status: ApplicationStatus,
) -> [String; 10] {
    let (status, position) = match (status, waiting.held) {
        (ApplicationStatus::Queued, true) => ("on_stop_list", state.cohort_position(id)),
        (ApplicationStatus::Queued, false) => ("queued", state.cohort_position(id)),
        _ => ("referred", None),
    };
    let registered_at = DateTime::from_timestamp_micros(waiting.key.registered_at_micros)
        .expect("a stored registration time is a valid instant");
    [
        ids::application_number(&state.catalog, id),
        ids::district_code(&state.catalog, id.district),
        waiting.birth_date.year().to_string(),
        code(&waiting.key.tier),
        time(registered_at),
        waiting
            .choices
            .listed()
            .iter()
            .map(|k| k.0.to_string())
            .collect::<Vec<_>>()
            .join(" "),
        waiting
            .language
            .map_or(String::new(), |l| l.code().to_string()),
        waiting.desired_start.to_string(),
        position.map_or(String::new(), |p| p.to_string()),
        status.into(),
    ]
}

fn place_row(state: &QueueState, place: &FreePlace, filled: bool) -> [String; 10] {
    [
        place.id.0.to_string(),
        ids::district_code(&state.catalog, place.district),
        place.kindergarten.0.to_string(),
        place.group.map_or(String::new(), |g| g.0.to_string()),
        place.age_band.born_from.to_string(),
        place.age_band.born_to.to_string(),
        place.language.code().to_string(),
        place.available_from.to_string(),
        time(place.reported_at),
        filled.to_string(),
    ]
}

fn referral_row(state: &QueueState, referral: &Referral) -> [String; 8] {
    [
        ids::referral_number(&state.catalog, referral.id),
        ids::application_number(&state.catalog, referral.application),
        referral.place.0.to_string(),
        referral.kindergarten.0.to_string(),
        time(referral.issued_at),
        time(referral.valid_until),
        code(&referral.status),
        referral.transfer.to_string(),
    ]
}

/// A unit enum's code, as the journal and the API spell it (its serde name).
fn code<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(text)) => text,
        other => unreachable!("a unit enum serializes to a string, got {other:?}"),
    }
}

/// RFC 4180: a field with a comma, a quote or a line break is quoted, quotes doubled.
fn csv_field(out: &mut String, field: &str) {
    if field.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&field.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(field);
    }
}

/// One row as a JSON object, each value typed as its column says (an empty optional field
/// is `null`), after `[` or `,` and a line break. Written by hand, not through a
/// `serde_json::Map`: that sorts the keys, and a table's columns are in the schema's order
/// (the validator reads the first object's keys as the header).
fn json_row<S: AsRef<str>>(out: &mut String, table: &Table, fields: &[S], first: bool) {
    let typed = |column: &Column, field: &str| -> Value {
        if field.is_empty() && !column.required {
            return Value::Null;
        }
        match column.kind {
            "integer" => field.parse::<i64>().map_or(Value::Null, Value::from),
            "boolean" => Value::Bool(field == "true"),
            _ => Value::String(field.into()),
        }
    };
    out.push_str(if first { "\n{" } else { ",\n{" });
    for (j, (column, field)) in table.columns.iter().zip(fields).enumerate() {
        if j > 0 {
            out.push(',');
        }
        let value = typed(column, field.as_ref());
        let _ = write!(out, "{}:{}", Value::from(column.name), value);
    }
    out.push('}');
}

fn pretty(value: &Value) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(value).expect("JSON values serialise");
    bytes.push(b'\n');
    bytes
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The Data Package: each CSV a tabular resource with its Table Schema, each JSON copy a
/// resource of its own, every file with its size and SHA-256; and where it was cut.
fn descriptor(
    seq: u64,
    head: &str,
    now: DateTime<Utc>,
    signer: &DocumentSigner,
    files: &[WrittenFile],
) -> Vec<u8> {
    let file = |name: &str| {
        files
            .iter()
            .find(|file| file.name == name)
            .expect("every table's files are made before the descriptor")
    };
    let mut resources = Vec::new();
    for table in TABLES {
        let schema = json!({
            "fields": table.columns.iter().map(|c| {
                let mut field = json!({
                    "name": c.name,
                    "type": c.kind,
                    "description": c.en,
                    "constraints": { "required": c.required },
                });
                if c.kind == "datetime" {
                    field["format"] = json!("%Y-%m-%dT%H:%M:%S.%fZ");
                }
                field
            }).collect::<Vec<_>>(),
            "primaryKey": table.key,
        });
        let csv_name = format!("{}.csv", table.name);
        let csv = file(&csv_name);
        resources.push(json!({
            "name": table.name,
            "type": "table",
            "title": table.title[0],
            "path": csv_name,
            "format": "csv",
            "mediatype": "text/csv",
            "encoding": "utf-8",
            "bytes": csv.bytes,
            "hash": format!("sha256:{}", csv.sha256),
            "dialect": { "delimiter": ",", "lineTerminator": "\r\n", "header": true },
            "schema": schema,
        }));
        let json_name = format!("{}.json", table.name);
        let json_bytes = file(&json_name);
        resources.push(json!({
            "name": format!("{}-json", table.name),
            // The same rows, typed as the CSV's schema says. Not declared a table: the
            // validator's JSON reader takes no hash or size and no empty array, and these
            // checks matter more here than a second pass over the same rows.
            "description": format!("The rows of {}.csv as JSON objects, keys in the columns' order, values typed by its schema", table.name),
            "title": table.title[0],
            "path": json_name,
            "format": "json",
            "mediatype": "application/json",
            "encoding": "utf-8",
            "bytes": json_bytes.bytes,
            "hash": format!("sha256:{}", json_bytes.sha256),
        }));
    }
    let readme = file("README.md");
    resources.push(json!({
        "name": "data-dictionary",
        "title": "Data dictionary (kk, ru, en)",
        "path": "README.md",
        "format": "md",
        "mediatype": "text/markdown",
        "encoding": "utf-8",
        "bytes": readme.bytes,
        "hash": format!("sha256:{}", readme.sha256),
    }));
    let package = json!({
        "name": "kezek-queue",
        "title": "Kezek: the kindergarten queue, anonymised",
        "description": "The municipality's kindergarten queue and its protocol of places and referrals, without personal data. Cut at one sequence number of the service's hash-chained journal and signed with the deployment's Ed25519 key (datapackage.json.sig).",
        "created": time(now),
        "licenses": [{ "name": "CC-BY-4.0", "path": "https://creativecommons.org/licenses/by/4.0/", "title": "Creative Commons Attribution 4.0" }],
        "resources": resources,
        "kezek": {
            "journal_seq": seq,
            "chain_head": head,
            "key_id": signer.public_key().id,
        },
    });
    pretty(&package)
}

/// The human-readable data dictionary, in Kazakh, Russian and English.
fn dictionary() -> String {
    let mut out = String::from(
        "# Kezek open data: data dictionary / Деректер сөздігі / Словарь данных\n\n\
         Files: `queue.csv`, `places.csv`, `referrals.csv` and the same rows as JSON; \
         `datapackage.json` (Frictionless Data Package) describes them; \
         `datapackage.json.sig` is its Ed25519 signature. Check: `kezek check-export DIR --url https://<the service>`.\n",
    );
    for (heading, pick) in [("Қазақша", 2usize), ("Русский", 1), ("English", 0)] {
        let _ = write!(out, "\n## {heading}\n");
        for table in TABLES {
            let _ = write!(
                out,
                "\n### `{}.csv`: {}\n\n| column | type | |\n| --- | --- | --- |\n",
                table.name,
                table.title[pick.min(2)]
            );
            for c in table.columns {
                let text = [c.en, c.ru, c.kk][pick];
                let _ = writeln!(out, "| `{}` | {} | {} |", c.name, c.kind, text);
            }
        }
    }
    out
}

/// What `check` found in a snapshot directory that holds.
#[derive(Debug, PartialEq, Eq)]
pub struct Checked {
    pub seq: u64,
    pub chain_head: String,
    pub key_id: String,
    pub files: usize,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CheckError {
    #[error("cannot read {0}")]
    Unreadable(String),
    #[error("{DESCRIPTOR} is not a Kezek data package: {0}")]
    Descriptor(String),
    #[error("the signature does not verify with key {0}")]
    Signature(String),
    #[error("{0} differs from the signed descriptor (size or SHA-256)")]
    FileChanged(String),
}

/// Checks a snapshot directory: the descriptor's signature with `key`, then each file it
/// lists against its size and SHA-256.
pub fn check(dir: &Path, key: &VerifyingKey) -> Result<Checked, CheckError> {
    let read = |name: &str| {
        std::fs::read(dir.join(name)).map_err(|_| CheckError::Unreadable(name.to_string()))
    };
    let descriptor = read(DESCRIPTOR)?;
    let signature: Value = serde_json::from_slice(&read(SIGNATURE)?)
        .map_err(|_| CheckError::Unreadable(SIGNATURE.into()))?;
    let key_id = crate::documents::signing::key_id(key);
    let signature_ok = signature["signature"]
        .as_str()
        .and_then(|s| URL_SAFE_NO_PAD.decode(s).ok())
        .and_then(|bytes| <[u8; 64]>::try_from(bytes.as_slice()).ok())
        .is_some_and(|bytes| {
            key.verify(&signed_bytes(&descriptor), &Signature::from_bytes(&bytes))
                .is_ok()
        });
    if !signature_ok {
        return Err(CheckError::Signature(key_id));
    }
    let package: Value =
        serde_json::from_slice(&descriptor).map_err(|e| CheckError::Descriptor(e.to_string()))?;
    let bad = |why: &str| CheckError::Descriptor(why.to_string());
    let resources = package["resources"]
        .as_array()
        .ok_or_else(|| bad("no resources"))?;
    for resource in resources {
        let path = resource["path"]
            .as_str()
            .ok_or_else(|| bad("a resource without a path"))?;
        // Only plain names in the snapshot's own directory.
        if path.contains(['/', '\\']) || path.starts_with('.') {
            return Err(bad("a resource outside the snapshot"));
        }
        let bytes = read(path)?;
        let hash = format!("sha256:{}", sha256_hex(&bytes));
        if resource["hash"].as_str() != Some(hash.as_str())
            || resource["bytes"].as_u64() != Some(bytes.len() as u64)
        {
            return Err(CheckError::FileChanged(path.to_string()));
        }
    }
    Ok(Checked {
        seq: package["kezek"]["journal_seq"]
            .as_u64()
            .ok_or_else(|| bad("no journal_seq"))?,
        chain_head: package["kezek"]["chain_head"]
            .as_str()
            .ok_or_else(|| bad("no chain_head"))?
            .to_string(),
        key_id,
        files: resources.len(),
    })
}

/// A public key as `GET /api/v1/keys` publishes it (32 bytes, base64url without padding).
pub fn verifying_key(text: &str) -> Option<VerifyingKey> {
    let bytes = URL_SAFE_NO_PAD.decode(text.trim()).ok()?;
    VerifyingKey::from_bytes(&<[u8; 32]>::try_from(bytes.as_slice()).ok()?).ok()
}

/// The folder of daily snapshots beside the database when none is configured.
pub fn default_dir(db: &Path) -> std::path::PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push(".open-data");
    db.with_file_name(name)
}

/// The days with a whole snapshot in `dir` (a folder named by its local date, holding a
/// signature), newest first.
pub fn kept(dir: &Path) -> Vec<NaiveDate> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut days: Vec<NaiveDate> = entries
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let day = NaiveDate::parse_from_str(entry.file_name().to_str()?, "%Y-%m-%d").ok()?;
            entry.path().join(SIGNATURE).is_file().then_some(day)
        })
        .collect();
    days.sort_unstable_by(|a, b| b.cmp(a));
    days
}

/// The service's daily round: today's snapshot (local date) if there is none yet, then the
/// snapshots older than `keep_days` removed. A snapshot is written into a hidden folder and
/// renamed whole, so a crash leaves no half day. Answers whether one was made.
pub fn daily(
    db: &Path,
    dir: &Path,
    signer: &DocumentSigner,
    now: DateTime<Utc>,
    keep_days: u32,
) -> Result<bool, SnapshotError> {
    let today = crate::domain::local_date(now);
    let day_dir = dir.join(today.format("%Y-%m-%d").to_string());
    let made = if keep_days > 0 && !day_dir.join(SIGNATURE).is_file() {
        let mut conn = store::Store::open_reader(db)?;
        let partial = dir.join(format!(".{}.partial", today.format("%Y-%m-%d")));
        if partial.exists() {
            std::fs::remove_dir_all(&partial)?;
        }
        cut_into(&mut conn, signer, now, &partial)?;
        if day_dir.exists() {
            std::fs::remove_dir_all(&day_dir)?;
        }
        std::fs::rename(&partial, &day_dir)?;
        std::fs::File::open(dir)?.sync_all()?;
        true
    } else {
        false
    };
    for day in kept(dir) {
        if (today - day).num_days() >= i64::from(keep_days) {
            std::fs::remove_dir_all(dir.join(day.format("%Y-%m-%d").to_string()))?;
        }
    }
    Ok(made)
}

/// Runs `daily` once a minute on a thread of its own, for as long as the process lives: the
/// first round at start, then each day's at the first minute after local midnight. A
/// failure is logged and tried again the next minute; it never stops the service.
pub fn spawn_daily(
    db: std::path::PathBuf,
    dir: std::path::PathBuf,
    signer: std::sync::Arc<DocumentSigner>,
    clock: std::sync::Arc<dyn crate::clock::Clock>,
    keep_days: u32,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("open-data".into())
        .spawn(move || loop {
            match daily(&db, &dir, &signer, clock.now(), keep_days) {
                Ok(true) => tracing::info!("open-data snapshot made"),
                Ok(false) => {}
                Err(error) => tracing::error!(%error, "open-data snapshot failed"),
            }
            std::thread::sleep(std::time::Duration::from_secs(60));
        })
}
