//! Serving connections: hyper's HTTP/1 connection with a timer, instead of `axum::serve`,
//! which gives hyper no timer and so lets a client that sends its headers slowly, or
//! nothing at all, hold a connection (and a file descriptor) for ever (issue 13).
//!
//! - A header-read timeout: a connection whose request head has not fully arrived within it,
//!   counted from when the connection opened or fell idle after its last answer, is closed.
//!   hyper runs the one timer for both, so it is also the idle keep-alive timeout.
//! - A cap on connections served at once. Past it the loop stops accepting: new connections
//!   wait in the kernel's backlog, and are served as soon as one closes. Waiting, not
//!   shedding: a legitimate client at a busy moment is served late rather than refused, and
//!   the header-read timeout bounds how long a silent connection keeps a place.
//! - Shutdown: when `shutdown` resolves the listener closes, every connection finishes the
//!   request it is serving (idle ones close at once) and the call returns when all are done,
//!   or after the grace period with a warning.

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// How connections are served (from the configuration's `[http]`).
#[derive(Clone, Copy, Debug)]
pub struct ServerSettings {
    pub header_read_timeout: Duration,
    pub max_connections: usize,
    pub shutdown_grace: Duration,
}

impl ServerSettings {
    pub fn from_config(config: &crate::config::Config) -> ServerSettings {
        ServerSettings {
            header_read_timeout: config.header_read_timeout(),
            max_connections: config.http.max_connections.max(1),
            shutdown_grace: config.shutdown_grace(),
        }
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then drains (see the module).
/// Each request carries its peer address as `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    settings: ServerSettings,
    shutdown: impl Future<Output = ()>,
) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(settings.header_read_timeout)
        .keep_alive(true);
    let slots = Arc::new(Semaphore::new(settings.max_connections));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => slot.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, or a connection reset before it was taken:
                    // wait a moment instead of spinning on the same error.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = PeerService {
            router: router.clone(),
            peer,
        };
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            // A client that goes away or times out is no error of ours.
            if let Err(error) = connection.await {
                tracing::debug!(%error, "a connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    tracing::info!(
        connections = graceful.count(),
        "shutting down: draining requests in flight"
    );
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("every connection closed"),
        () = tokio::time::sleep(settings.shutdown_grace) => {
            tracing::warn!(grace = ?settings.shutdown_grace, "requests still in flight after the grace period are dropped");
        }
    }
}

/// Resolves at the first SIGTERM (what service managers send) or SIGINT (Ctrl-C).
///
/// The handlers are installed when this is called, not when the future is first polled: the
/// caller calls it before it announces the port, so that a signal sent by whoever read the
/// announcement is never lost (the restore drill sent SIGINT at once, and a server whose
/// handler came a moment later kept running).
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let (interrupt, terminate) = {
        use tokio::signal::unix::{signal, SignalKind};
        let install = |kind: SignalKind, name: &str| match signal(kind) {
            Ok(stream) => Some(stream),
            Err(error) => {
                tracing::warn!(%error, signal = name, "a shutdown signal cannot be caught");
                None
            }
        };
        (
            install(SignalKind::interrupt(), "SIGINT"),
            install(SignalKind::terminate(), "SIGTERM"),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let wait = |stream: Option<tokio::signal::unix::Signal>| async move {
                match stream {
                    Some(mut stream) => {
                        stream.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = wait(interrupt) => tracing::info!("SIGINT received"),
                () = wait(terminate) => tracing::info!("SIGTERM received"),
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("Ctrl-C received");
        }
    }
}

/// The router, with the connection's peer address put into every request.
#[derive(Clone)]
struct PeerService {
    router: Router,
    peer: SocketAddr,
}

impl hyper::service::Service<hyper::Request<Incoming>> for PeerService {
    type Response = axum::response::Response;
    type Error = std::convert::Infallible;
    type Future = axum::routing::future::RouteFuture<std::convert::Infallible>;

    fn call(&self, mut request: hyper::Request<Incoming>) -> Self::Future {
        request.extensions_mut().insert(ConnectInfo(self.peer));
        // A Router is always ready: `call` without `poll_ready` is what axum::serve does too.
        tower_service::Service::call(&mut self.router.clone(), request)
    }
}
