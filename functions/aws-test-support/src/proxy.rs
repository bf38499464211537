//! The HTTP server the test proxies share (the fault proxies and the CBOR gateway): it
//! listens on 127.0.0.1, hands each request (head and whole body) to the proxy's
//! handler, and stops when dropped.

use std::convert::Infallible;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr, TcpListener as StdTcpListener, ToSocketAddrs as _};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};

use bytes::Bytes;
use http::request::Parts;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::sync::oneshot;

use crate::gateway::text_response;

/// `message` of every failure a fault proxy makes up.
pub const INJECTED_MESSAGE: &str = "failure injected by a trailwatch test proxy";

/// The answer to one request.
pub(crate) type Answer = Pin<Box<dyn Future<Output = Response<Full<Bytes>>> + Send>>;

/// What a proxy does with a request: moto's address (to forward to), the request's head
/// and its whole body.
pub(crate) type Handler = Arc<dyn Fn(SocketAddr, Parts, Bytes) -> Answer + Send + Sync>;

/// A proxy server on a thread of its own with its own Tokio runtime, so tests that each
/// have their own runtime can share it; dropping it stops the server and joins the thread.
#[derive(Debug)]
pub(crate) struct Proxy {
    endpoint: String,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Starts `name` on a free port of 127.0.0.1 in front of `upstream`
    /// (`http://127.0.0.1:PORT`). The port is listening when this returns.
    ///
    /// # Panics
    ///
    /// If `upstream` is not `http://` to a loopback address, or no port can be bound.
    pub(crate) fn start(name: &str, upstream: &str, handler: Handler) -> Proxy {
        let authority = upstream
            .strip_prefix("http://")
            .map(|rest| rest.trim_end_matches('/'))
            .unwrap_or_else(|| panic!("{name} upstream must be http://HOST:PORT, got {upstream:?}"));
        let upstream_addr = authority
            .to_socket_addrs()
            .ok()
            .and_then(|mut addrs| addrs.next())
            .unwrap_or_else(|| panic!("{name} upstream {upstream:?} does not resolve"));
        assert!(
            upstream_addr.ip().is_loopback(),
            "{name} only talks to loopback addresses, got {upstream_addr}"
        );
        let listener = StdTcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .unwrap_or_else(|e| panic!("{name} cannot bind: {e}"));
        listener
            .set_nonblocking(true)
            .unwrap_or_else(|e| panic!("{name} cannot make its listener non-blocking: {e}"));
        let port = listener.local_addr().expect("listener has an address").port();
        let (shutdown, stop) = oneshot::channel();
        let thread = thread::Builder::new()
            .name(format!("{name}-{port}"))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a proxy's Tokio runtime builds");
                runtime.block_on(serve(listener, upstream_addr, handler, stop));
            })
            .unwrap_or_else(|e| panic!("{name} cannot spawn its thread: {e}"));
        Proxy {
            endpoint: format!("http://127.0.0.1:{port}"),
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`, for a client's `endpoint_url`.
    pub(crate) fn endpoint(&self) -> &str {
        &self.endpoint
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(
    listener: StdTcpListener,
    upstream: SocketAddr,
    handler: Handler,
    mut stop: oneshot::Receiver<()>,
) {
    let listener = tokio::net::TcpListener::from_std(listener).expect("a proxy's listener registers");
    loop {
        tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let handler = Arc::clone(&handler);
                tokio::spawn(async move {
                    let service = service_fn(move |request| answer(upstream, Arc::clone(&handler), request));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        }
    }
}

async fn answer(
    upstream: SocketAddr,
    handler: Handler,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    match body.collect().await {
        Ok(collected) => Ok(handler(upstream, parts, collected.to_bytes()).await),
        Err(e) => Ok(text_response(
            StatusCode::BAD_REQUEST,
            format!("reading the request: {e}"),
        )),
    }
}

/// A proxy's state, also after a panic elsewhere left its lock poisoned.
pub(crate) fn lock<T>(state: &Mutex<T>) -> MutexGuard<'_, T> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}
