//! The HTTP side: Fluent Bit's `http` output posts chunks here.
//!
//! Status codes follow what Fluent Bit does with them (out_http): 2xx, the
//! chunk is done; 408, 429 and 5xx, it is sent again later; any other 4xx, it
//! is dropped for good. So 4xx is used only for requests that are not log
//! deliveries or can never succeed (wrong path or method, bad token, over
//! the size limit); everything transient is 503 (429 when the proxy itself
//! is full).

use crate::config::CLASSIFY_HEADER;
use crate::gzip::TooLarge;
use crate::ingest::Body;
use crate::metrics::Metrics;
use crate::proxy::{Proxy, Refused};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Body as _;
use hyper::body::Incoming;
use hyper::header::{CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// A chunk's working set, as counted against `delivery.max_in_flight_bytes`:
/// the body as received plus this many times its decoded size. Measured: the
/// decoded lines, the packed Firehose records, their copy in the request and
/// its base64 JSON come to about four times the decoded bytes.
pub const WORKING_SET_FACTOR: usize = 4;

/// Bytes a request with a body of `body` bytes decoding to `decoded` bytes
/// holds against the in-flight budget.
pub fn working_set(body: usize, decoded: usize) -> usize {
    body.saturating_add(decoded.saturating_mul(WORKING_SET_FACTOR))
}

struct Server {
    proxy: Arc<Proxy>,
    /// Admission: requests being handled, and the body bytes they hold.
    requests: Semaphore,
    bytes: Semaphore,
}

/// Serves until `shutdown` completes, then stops accepting and gives the
/// requests being handled `delivery.shutdown_grace` to finish.
pub async fn serve(listener: TcpListener, proxy: Arc<Proxy>, shutdown: impl Future<Output = ()>) {
    let d = &proxy.config.delivery;
    let grace = d.shutdown_grace;
    let server = Arc::new(Server {
        requests: Semaphore::new(d.max_in_flight_requests),
        bytes: Semaphore::new(d.max_in_flight_bytes.min(Semaphore::MAX_PERMITS)),
        proxy,
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(server.proxy.config.ingest.header_timeout);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of file descriptors, say: pause instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let server = server.clone();
                let service = service_fn(move |req| {
                    let server = server.clone();
                    async move { Ok::<_, Infallible>(server.handle(req).await) }
                });
                let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tracing::info!(
        grace_secs = grace.as_secs(),
        "shutting down: no new connections, finishing requests in flight"
    );
    if tokio::time::timeout(grace, graceful.shutdown()).await.is_err() {
        tracing::warn!("shutdown grace passed with requests still in flight; Fluent Bit will send them again");
    }
}

type Answer = Response<Full<Bytes>>;

impl Server {
    async fn handle(&self, req: Request<Incoming>) -> Answer {
        let ingest_path = self.proxy.config.ingest.path.as_str();
        let answer = match (req.method(), req.uri().path()) {
            (&Method::POST, p) if p == ingest_path => self.ingest(req).await,
            (_, p) if p == ingest_path => text(StatusCode::METHOD_NOT_ALLOWED, "POST log chunks here\n"),
            (&Method::GET, "/healthz") => {
                let (ready, report) = self.proxy.health.report();
                let status = if ready {
                    StatusCode::OK
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                };
                let mut r = text(status, &format!("{report}\n"));
                r.headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                r
            }
            (&Method::GET, "/metrics") => {
                let mut r = text(StatusCode::OK, &self.proxy.metrics.render());
                r.headers_mut().insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
                );
                r
            }
            _ => text(StatusCode::NOT_FOUND, "not found\n"),
        };
        count(&self.proxy.metrics, answer.status());
        answer
    }

    async fn ingest(&self, req: Request<Incoming>) -> Answer {
        let cfg = &self.proxy.config.ingest;
        if let Some(token) = &cfg.token
            && req.headers().get(&token.header).map(HeaderValue::as_bytes) != Some(token.value.expose().as_bytes())
        {
            return text(StatusCode::UNAUTHORIZED, "missing or wrong token header\n");
        }
        let declared = req
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
        let body_timeout = cfg.body_timeout;
        if let Some(n) = declared.filter(|&n| n > cfg.max_body_bytes) {
            // Read it (bounded) before answering: a sender cut off mid-body
            // sees a connection error instead of the 413, and Fluent Bit
            // would send the chunk again for ever.
            if n <= cfg.max_body_bytes.saturating_mul(DRAIN_FACTOR) {
                let _ = read_body(req.into_body(), 0, cfg.max_body_bytes, body_timeout).await;
            }
            return too_large(cfg.max_body_bytes);
        }
        let Ok(_request) = self.requests.try_acquire() else {
            return text(StatusCode::TOO_MANY_REQUESTS, "busy, retry later\n");
        };
        let header = |name| {
            req.headers()
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
                .map(str::to_owned)
        };
        let tag = header(cfg.tag_header.as_str()).unwrap_or_default();
        let content_type = header(CONTENT_TYPE.as_str());
        let encoding = header(CONTENT_ENCODING.as_str());
        let classify = header(CLASSIFY_HEADER).is_some_and(|v| v.trim().eq_ignore_ascii_case("on"));
        let raw = match read_body(req.into_body(), cfg.max_body_bytes, cfg.max_body_bytes, body_timeout).await {
            Ok(b) => b,
            Err(ReadError::Timeout) => return text(StatusCode::REQUEST_TIMEOUT, "body too slow\n"),
            Err(ReadError::TooLarge) => return too_large(cfg.max_body_bytes),
            // The client went away mid-body: it will not read an answer.
            Err(ReadError::Broken(e)) => return text(StatusCode::BAD_REQUEST, &format!("reading the body: {e}\n")),
        };
        let m = &self.proxy.metrics;
        m.bytes_in.inc_by(raw.len() as u64);
        let Ok(_body_bytes) = self.bytes.try_acquire_many(permits(raw.len())) else {
            return text(StatusCode::TOO_MANY_REQUESTS, "busy, retry later\n");
        };
        let body = match Body::read(
            &raw,
            encoding.as_deref(),
            content_type.as_deref(),
            cfg.max_decoded_bytes,
        ) {
            Ok(body) => body,
            Err(TooLarge { limit }) => return too_large(limit),
        };
        // The decoded bytes count against the same budget (a small gzip body
        // can hold a lot), times what planning and delivery make of them.
        let held = working_set(raw.len(), body.bytes().len());
        let Ok(_working_set) = self.bytes.try_acquire_many(permits(held - raw.len())) else {
            return text(StatusCode::TOO_MANY_REQUESTS, "busy, retry later\n");
        };
        let result = {
            // Released even if the client goes away and the future is dropped.
            let _in_flight = InFlight::new(m, held);
            self.proxy.chunk(&tag, &body, classify).await
        };
        match result {
            Ok(a) => {
                let summary = format!(
                    "{{\"records\":{},\"errors\":{},\"dead_letters\":{}}}\n",
                    a.records, a.marked, a.dead_letters
                );
                let mut r = text(StatusCode::OK, &summary);
                r.headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                r
            }
            Err(Refused::Unavailable(why)) => {
                tracing::warn!(%tag, error = %why, "chunk not taken; answering 503 so Fluent Bit retries it");
                text(StatusCode::SERVICE_UNAVAILABLE, &format!("{why}\n"))
            }
            Err(Refused::Full(why)) => {
                tracing::warn!(%tag, error = %why, "spool full; answering 429 so Fluent Bit keeps the chunk");
                text(StatusCode::TOO_MANY_REQUESTS, &format!("{why}\n"))
            }
        }
    }
}

fn text(status: StatusCode, body: &str) -> Answer {
    let mut r = Response::new(Full::new(Bytes::from(body.to_owned())));
    *r.status_mut() = status;
    r
}

/// Counts a request in the in-flight gauges while it lives.
struct InFlight<'a> {
    metrics: &'a Metrics,
    bytes: i64,
}

impl<'a> InFlight<'a> {
    fn new(metrics: &'a Metrics, bytes: usize) -> Self {
        let bytes = bytes as i64;
        metrics.in_flight_requests.inc();
        metrics.in_flight_bytes.inc_by(bytes);
        Self { metrics, bytes }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.metrics.in_flight_requests.dec();
        self.metrics.in_flight_bytes.dec_by(self.bytes);
    }
}

/// A body over the limit is still read (and discarded) up to this many times
/// the limit, so that its sender gets the 413; beyond, the connection is cut.
const DRAIN_FACTOR: usize = 4;

enum ReadError {
    TooLarge,
    Timeout,
    Broken(String),
}

/// Reads a body of at most `keep` bytes within `timeout`. Past `limit` it is
/// `TooLarge`, but still read and discarded up to `DRAIN_FACTOR` x `limit`.
async fn read_body(mut body: Incoming, keep: usize, limit: usize, timeout: Duration) -> Result<Bytes, ReadError> {
    // Sized once from Content-Length (Fluent Bit sends it), not grown by
    // copying: a chunk is megabytes.
    let expected = usize::try_from(body.size_hint().exact().unwrap_or(0)).unwrap_or(0);
    let read = async {
        let mut buf = bytes::BytesMut::with_capacity(expected.min(keep));
        let mut total = 0usize;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| ReadError::Broken(e.to_string()))?;
            if let Ok(data) = frame.into_data() {
                total = total.saturating_add(data.len());
                if total <= keep {
                    buf.extend_from_slice(&data);
                } else if total > limit.saturating_mul(DRAIN_FACTOR) {
                    return Err(ReadError::TooLarge);
                }
            }
        }
        if total > keep {
            Err(ReadError::TooLarge)
        } else {
            Ok(buf.freeze())
        }
    };
    tokio::time::timeout(timeout, read)
        .await
        .unwrap_or(Err(ReadError::Timeout))
}

/// Semaphore permits for `n` bytes (the budget is at most `u32::MAX`).
fn permits(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn too_large(limit: usize) -> Answer {
    text(StatusCode::PAYLOAD_TOO_LARGE, &format!("body over {limit} bytes\n"))
}

fn count(m: &Metrics, status: StatusCode) {
    m.requests.get_or_create(&[("code", status.as_u16().to_string())]).inc();
}
