//! The plain-SQL baseline of `scripts/bench-compare`: a parent's position look-up done the
//! way a plain CRUD service does it, against PostgreSQL, to measure what kezek's in-memory
//! index buys (docs/PERFORMANCE.md, "Position look-up against plain SQL").
//!
//! `GET /api/v1/applications/{number}/position` with the parent's `X-Access-Code`, as kezek
//! serves it: one indexed read of the application's row (its order key, cohort, status and
//! access-code hash), the code checked against the stored hash, then one
//! `SELECT COUNT(*)` of the waiting applications of the same district and birth-year cohort
//! that come before it in the queue order `(tier, registered_at, registration_number)`.
//! The answer has kezek's shape, `{"number", "waiting", "position": {"cohort", "in_cohort"}}`,
//! so the two can be cross-checked number by number. It leaves out what kezek's answer also
//! carries (the cohort's size, how many ahead take any kindergarten, how many ahead chose each
//! listed one): each would be another count, so the baseline does less than kezek does.
//!
//! The schema and the index are made by `scripts/bench-compare`; this only reads.
//!
//! Usage: `crud_baseline --addr 127.0.0.1:0 --database "host=... port=... user=... dbname=..."
//! [--connections 8]`. Prints `listening on http://ADDR` once it accepts connections.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use kezek::domain::access;
use kezek::domain::application::{ApplicationId, RegistrationNumber};
use kezek::domain::catalog::DistrictId;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio_postgres::{Client, NoTls, Statement};

/// The application's row: found through the unique `(district_id, registration_number)`
/// index, the district by its code as the number shows it.
const APPLICATION_SQL: &str = "\
    SELECT a.district_id, a.registration_number, a.tier, a.registered_at, a.birth_year, \
           a.status, a.access_code_hash \
    FROM applications a JOIN districts d ON d.id = a.district_id \
    WHERE d.code = $1 AND a.registration_number = $2";

/// How many of the cohort's waiting applications come first. Answered by an index-only
/// range scan of `applications_queue_order` (see scripts/bench-compare): the equality columns
/// and then the row comparison, in the index's own order.
const AHEAD_SQL: &str = "\
    SELECT count(*) FROM applications \
    WHERE district_id = $1 AND birth_year = $2 AND status = 'queued' \
      AND (tier, registered_at, registration_number) < ($3, $4, $5)";

/// Connection limits: PostgreSQL runs one process per connection, and this machine has two
/// cores, so a few connections are all the server can use; more only add switching.
const CONNECTIONS_MAX: usize = 64;

/// A small fixed pool. tokio-postgres pipelines the queries of concurrent callers on one
/// connection (its `Client` takes `&self`), so sharing a handful of connections round-robin
/// keeps every backend busy without a pool crate's check-out and check-in.
struct Pool {
    connections: Vec<Connection>,
    next: AtomicUsize,
}

struct Connection {
    client: Client,
    application: Statement,
    ahead: Statement,
}

impl Pool {
    async fn open(config: &str, size: usize) -> Result<Pool, tokio_postgres::Error> {
        let mut connections = Vec::with_capacity(size);
        for _ in 0..size {
            let (client, connection) = tokio_postgres::connect(config, NoTls).await?;
            // The connection's IO runs as its own task; it ends when the client is dropped,
            // and an error there surfaces as errors of the queries.
            tokio::spawn(async move {
                if let Err(error) = connection.await {
                    eprintln!("postgres connection ended: {error}");
                }
            });
            let application = client.prepare(APPLICATION_SQL).await?;
            let ahead = client.prepare(AHEAD_SQL).await?;
            connections.push(Connection {
                client,
                application,
                ahead,
            });
        }
        Ok(Pool {
            connections,
            next: AtomicUsize::new(0),
        })
    }

    fn get(&self) -> &Connection {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.connections.len();
        &self.connections[i]
    }
}

/// The same answer, word for word, for an unknown number and a wrong code: as in kezek, the
/// endpoint is no oracle of which numbers exist.
fn not_found() -> Response {
    let body =
        json!({"code": "not_found", "message": "No such application, or a wrong access code"});
    (StatusCode::NOT_FOUND, Json(body)).into_response()
}

/// A database failure is a 500 and is logged; its text is not shown to the caller.
fn internal(error: tokio_postgres::Error) -> Response {
    eprintln!("database error: {error}");
    let body = json!({"code": "internal", "message": "Internal error"});
    (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response()
}

async fn position(
    State(pool): State<Arc<Pool>>,
    Path(number): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some((code, registration_number)) = number.rsplit_once('-') else {
        return not_found();
    };
    let Ok(registration_number) = registration_number.parse::<i32>() else {
        return not_found();
    };
    let Some(typed) = headers.get("x-access-code").and_then(|v| v.to_str().ok()) else {
        return not_found();
    };
    let connection = pool.get();
    let code = code.to_ascii_uppercase();
    let row = match connection
        .client
        .query_opt(&connection.application, &[&code, &registration_number])
        .await
    {
        Ok(Some(row)) => row,
        Ok(None) => return not_found(),
        Err(error) => return internal(error),
    };
    let district_id: i32 = row.get(0);
    let tier: i16 = row.get(2);
    let registered_at: std::time::SystemTime = row.get(3);
    let cohort: i32 = row.get(4);
    let status: &str = row.get(5);
    let stored: Option<&str> = row.get(6);
    // The full stored hash, as a CRUD service keeps and compares it (kezek compares the
    // first 64 bits it holds in memory; the hash function is the same).
    let id = ApplicationId {
        district: DistrictId(district_id as u32),
        number: RegistrationNumber(registration_number as u32),
    };
    if stored.is_none() || access::hash(id, typed).as_deref() != stored {
        return not_found();
    }
    let position = if status == "queued" {
        let ahead: i64 = match connection
            .client
            .query_one(
                &connection.ahead,
                &[
                    &district_id,
                    &cohort,
                    &tier,
                    &registered_at,
                    &registration_number,
                ],
            )
            .await
        {
            Ok(row) => row.get(0),
            Err(error) => return internal(error),
        };
        json!({"cohort": cohort, "in_cohort": ahead + 1})
    } else {
        serde_json::Value::Null
    };
    let body = json!({
        "number": format!("{code}-{registration_number}"),
        "waiting": !position.is_null(),
        "position": position,
    });
    // As kezek answers personal data: not to be cached on the way.
    ([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

struct Args {
    addr: String,
    database: String,
    connections: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut addr = "127.0.0.1:0".to_string();
    let mut database = None;
    let mut connections = 8;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--addr" => addr = value()?,
            "--database" => database = Some(value()?),
            "--connections" => {
                connections = value()?
                    .parse()
                    .ok()
                    .filter(|n| (1..=CONNECTIONS_MAX).contains(n))
                    .ok_or_else(|| format!("--connections is 1 to {CONNECTIONS_MAX}"))?;
            }
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    let database =
        database.ok_or("--database \"host=... port=... user=... dbname=...\" is required")?;
    Ok(Args {
        addr,
        database,
        connections,
    })
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("crud_baseline: {message}");
            return std::process::ExitCode::from(2);
        }
    };
    let pool = match Pool::open(&args.database, args.connections).await {
        Ok(pool) => Arc::new(pool),
        Err(error) => {
            eprintln!("crud_baseline: cannot connect to PostgreSQL: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let app = Router::new()
        .route("/api/v1/applications/{number}/position", get(position))
        .with_state(pool);
    let listener = match tokio::net::TcpListener::bind(&args.addr).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("crud_baseline: cannot listen on {}: {error}", args.addr);
            return std::process::ExitCode::FAILURE;
        }
    };
    match listener.local_addr() {
        Ok(addr) => println!("listening on http://{addr}"),
        Err(error) => {
            eprintln!("crud_baseline: {error}");
            return std::process::ExitCode::FAILURE;
        }
    }
    // A background process of a script starts with SIGINT ignored; the handler that
    // tokio installs undoes that, so the script's `kill -INT` stops the baseline as it
    // stops kezek.
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    if let Err(error) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        eprintln!("crud_baseline: {error}");
        return std::process::ExitCode::FAILURE;
    }
    std::process::ExitCode::SUCCESS
}
