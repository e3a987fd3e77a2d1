//! The service as a network peer sees it, through the real `kezek serve` process: slow and
//! silent connections are closed after the header-read timeout while others are served,
//! and SIGTERM answers the request in flight before the process exits 0.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// `kezek serve` with `extra` flags: the child and its `host:port`.
fn spawn_server(db: &std::path::Path, extra: &[&str]) -> (Child, String) {
    let (child, address) = common::spawn_server(db, extra);
    let address = address
        .strip_prefix("http://")
        .expect("an http address")
        .to_string();
    (child, address)
}

/// Reads until the server closes the connection or `limit` passes; answers what was read
/// and whether the server closed it.
fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, bool) {
    let deadline = Instant::now() + limit;
    let mut text = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return (String::from_utf8_lossy(&text).into(), false);
        }
        stream.set_read_timeout(Some(left)).unwrap();
        match stream.read(&mut buffer) {
            Ok(0) => return (String::from_utf8_lossy(&text).into(), true),
            Ok(n) => text.extend_from_slice(&buffer[..n]),
            // A reset is a close too.
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => {
                return (String::from_utf8_lossy(&text).into(), true)
            }
            Err(_) => return (String::from_utf8_lossy(&text).into(), false),
        }
    }
}

/// One GET on a connection of its own, `Connection: close`; answers the status line.
fn get(address: &str, path: &str, limit: Duration) -> String {
    let mut stream = TcpStream::connect(address).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let (text, _) = read_until_closed(&mut stream, limit);
    text.lines().next().unwrap_or("").to_string()
}

#[test]
fn slow_and_silent_connections_are_closed_while_others_are_served() {
    let dir = tempfile::tempdir().unwrap();
    // Four connections at once, so the silent ones fill every place: a normal request is
    // served only because they are closed at the timeout.
    let (mut child, address) = spawn_server(
        &dir.path().join("slow.db"),
        &["--header-read-timeout-secs", "1", "--max-connections", "4"],
    );
    let opened = Instant::now();
    let mut silent: Vec<TcpStream> = (0..4)
        .map(|_| TcpStream::connect(&address).unwrap())
        .collect();
    // One that sends half a request head and a header line every 300 ms, never finishing:
    // trickling bytes must not keep it open.
    let mut trickling = TcpStream::connect(&address).unwrap();
    trickling
        .write_all(b"GET /api/v1/health HTTP/1.1\r\n")
        .unwrap();
    let trickler = std::thread::spawn(move || {
        for n in 0..20 {
            std::thread::sleep(Duration::from_millis(300));
            if write!(trickling, "X-Slow-{n}: a\r\n").is_err() {
                return true;
            }
        }
        false
    });

    let status = get(&address, "/api/v1/health", Duration::from_secs(8));
    let waited = opened.elapsed();
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(waited < Duration::from_secs(5), "served after {waited:?}");

    for (n, stream) in silent.iter_mut().enumerate() {
        let (_, closed) = read_until_closed(stream, Duration::from_secs(4));
        assert!(closed, "silent connection {n} is still open");
    }
    assert!(
        trickler.join().unwrap(),
        "the trickling connection was never closed"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn sigterm_answers_the_request_in_flight_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("term.db");
    let (mut child, address) = spawn_server(&db, &["--demo", "20"]);
    assert_eq!(
        get(&address, "/api/v1/health", Duration::from_secs(5)),
        "HTTP/1.1 200 OK"
    );

    // A registration whose body is half sent when SIGTERM arrives.
    let mut form = common::valid_form(9_001);
    form.kindergartens = kindergartens_of(&db, "ESL");
    let body = serde_json::to_vec(&form).unwrap();
    let (first, rest) = body.split_at(body.len() / 2);
    let mut stream = TcpStream::connect(&address).unwrap();
    write!(
        stream,
        "POST /api/v1/applications HTTP/1.1\r\nHost: {address}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    stream.write_all(first).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // The shell's own `kill`: a fresh image may lack procps's.
    let terminated = Command::new("sh")
        .args(["-c", "kill -TERM \"$0\"", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(terminated.success());
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the process waits for the request in flight"
    );
    stream.write_all(rest).unwrap();
    let (answer, _) = read_until_closed(&mut stream, Duration::from_secs(10));
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");

    let exit = wait_for_exit(&mut child, Duration::from_secs(15));
    assert_eq!(exit.code(), Some(0));
    // A new connection after the shutdown is refused: the listener is closed.
    assert!(TcpStream::connect(&address).is_err());
    // The acknowledged registration is in the database.
    let conn = rusqlite::Connection::open(&db).unwrap();
    let stored: i64 = conn
        .query_row(
            "SELECT count(*) FROM applications WHERE child_iin = ?1",
            [&form.child_iin],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(stored, 1, "the registration answered 201 is stored");
}

/// Two kindergartens of the district with `code`, from the database.
fn kindergartens_of(db: &std::path::Path, code: &str) -> Vec<u32> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut statement = conn
        .prepare(
            "SELECT k.id FROM kindergartens k JOIN districts d ON d.id = k.district_id \
             WHERE d.code = ?1 ORDER BY k.id LIMIT 2",
        )
        .unwrap();
    let ids = statement
        .query_map([code], |row| row.get(0))
        .unwrap()
        .collect::<Result<Vec<u32>, _>>()
        .unwrap();
    assert_eq!(ids.len(), 2);
    ids
}

fn wait_for_exit(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the process did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_configuration_file_and_environment_reach_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("kezek.toml");
    std::fs::write(
        &file,
        "addr = \"127.0.0.1:0\"\n[http]\nheader_read_timeout_secs = 60\n",
    )
    .unwrap();
    let mut command = common::kezek_serve(&dir.path().join("configured.db"));
    command
        .arg("--config")
        .arg(&file)
        // The environment beats the file: one second, not sixty.
        .env("KEZEK_HTTP__HEADER_READ_TIMEOUT_SECS", "1");
    let (mut child, address) = common::spawn_listening(command);
    let address = address.strip_prefix("http://").unwrap().to_string();
    let mut silent = TcpStream::connect(&address).unwrap();
    let (_, closed) = read_until_closed(&mut silent, Duration::from_secs(5));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(closed, "the environment's 1 s header-read timeout applies");
}
