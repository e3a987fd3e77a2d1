//! A public service under pressure, through the real router: readiness says when no write
//! can commit; the wrong-code lockout and the registration quotas key on the real client
//! (behind a trusted proxy, the forwarded address) and the application, so that one
//! client's flood or guessing never stops another's request.

mod common;
#[path = "common/http.rs"]
mod http;

use http::{Go, Server};
use std::time::Duration;

#[tokio::test]
async fn readiness_fails_while_another_writer_holds_the_database() {
    let server = Server::start().await;
    let ready = server.get("/api/v1/ready").go().await;
    assert_eq!(ready.status, 200, "{}", ready.text);
    assert_eq!(ready.json()["status"], "ready");

    // Another process's writer: it holds SQLite's write lock, so no batch can begin.
    let other = rusqlite::Connection::open(&server.app.path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let blocked = server.get("/api/v1/ready").go().await;
    let body = blocked.assert_error(503, "not_ready");
    assert_eq!(body["detail"], "writer");
    let health = server.get("/api/v1/health").go().await;
    assert_eq!(health.status, 200, "health stays: the process is alive");

    other.execute_batch("ROLLBACK").unwrap();
    // The writer's own probe may still be waiting on the lock; the next answer is fresh.
    let mut status = 0;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        status = server.get("/api/v1/ready").go().await.status;
        if status == 200 {
            break;
        }
    }
    assert_eq!(status, 200, "ready again once the lock is released");
}
