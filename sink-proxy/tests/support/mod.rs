//! Test support: the proxy in-process, a moto server, a fault-injecting fake
//! AWS endpoint, and a client that posts like Fluent Bit's `http` output.
//! Everything listens on 127.0.0.1 only.
#![allow(dead_code)] // each test file uses a part

use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use sink_proxy::config::{Cli, Config};
use sink_proxy::proxy::Proxy;
use std::net::SocketAddr;
use std::sync::Arc;

#[allow(unused_imports)] // not every test file talks to AWS
pub use local_aws::sdk_config;

/// A proxy serving on an ephemeral loopback port; stopped when dropped.
pub struct RunningProxy {
    pub addr: SocketAddr,
    pub proxy: Arc<Proxy>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    drains: Option<sink_proxy::spooled::Drains>,
    spool_dir: Option<std::path::PathBuf>,
}

impl RunningProxy {
    /// `args` as on the command line, `file` as the TOML config file; no
    /// spool: 2xx once AWS has a chunk.
    pub async fn start(args: &[&str], file: &str, sdk: &aws_config::SdkConfig) -> Self {
        Self::start_with(args, file, sdk, None).await
    }

    /// With a spool in a fresh directory named `name` (removed on drop),
    /// and its drains running.
    pub async fn start_spooled(args: &[&str], file: &str, sdk: &aws_config::SdkConfig, name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("sink-proxy-test-spool-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Self::start_with(args, file, sdk, Some(dir)).await
    }

    async fn start_with(
        args: &[&str],
        file: &str,
        sdk: &aws_config::SdkConfig,
        spool_dir: Option<std::path::PathBuf>,
    ) -> Self {
        let cli = Cli::try_parse_from(std::iter::once("sink-proxy").chain(args.iter().copied())).unwrap();
        let config = Config::new(cli, Some(file), |k| (k == "TEST_TOKEN").then(|| "s3cret".to_owned())).unwrap();
        let mut proxy = Proxy::new(config, sdk);
        if let Some(dir) = &spool_dir {
            let settings = sink_proxy::spool::Settings {
                dir: dir.clone(),
                max_bytes: 1 << 30,
                segment_bytes: 1 << 20,
            };
            proxy = proxy.open_spool(&settings).unwrap().0;
        }
        let proxy = Arc::new(proxy);
        let drains = spool_dir.as_ref().map(|_| proxy.start_drains());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(sink_proxy::server::serve(listener, proxy.clone(), async {
            let _ = stopped.await;
        }));
        Self {
            addr,
            proxy,
            stop: Some(stop),
            task: Some(task),
            drains,
            spool_dir,
        }
    }

    /// With a spool: until every queue is delivered (at most 60 s).
    pub async fn wait_drained(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while self.proxy.spool().is_some_and(|s| s.pending()) {
            assert!(std::time::Instant::now() < deadline, "the spool did not drain");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Stops accepting and waits for requests in flight (the SIGTERM path).
    pub async fn shutdown(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap();
        }
    }

    /// Readiness instead of a sleep: until a request is being handled (5 s).
    pub async fn wait_in_flight(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while self.metric("sink_proxy_in_flight_requests") == 0 {
            assert!(std::time::Instant::now() < deadline, "no request in flight");
            tokio::task::yield_now().await;
        }
    }

    pub fn metric(&self, name: &str) -> u64 {
        sink_proxy::metrics::sample(&self.proxy.metrics.render(), name)
    }
}

impl Drop for RunningProxy {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
        if let Some(d) = self.drains.take() {
            d.abort();
        }
        if let Some(dir) = &self.spool_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

pub struct Answer {
    pub status: u16,
    pub body: String,
}

/// Posts a body the way Fluent Bit's `http` output does.
pub async fn post(addr: SocketAddr, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Answer {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut req = hyper::Request::post(format!("http://{addr}{path}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = client
        .request(req.body(Full::new(Bytes::from(body))).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

pub async fn get(addr: SocketAddr, path: &str) -> Answer {
    try_get(addr, path).await.unwrap()
}

/// A GET that reports connection errors instead of panicking (readiness).
pub async fn try_get(addr: SocketAddr, path: &str) -> Result<Answer, String> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let uri = format!("http://{addr}{path}").parse().map_err(|e| format!("{e}"))?;
    let resp = client.get(uri).await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok(Answer {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// Posts a json_lines chunk, gzip-compressed, with its tag, as the shipped
/// Fluent Bit settings do.
pub async fn post_chunk(addr: SocketAddr, tag: &str, lines: &[String]) -> Answer {
    let mut body = lines.join("\n");
    body.push('\n');
    post(
        addr,
        "/",
        &[
            ("Content-Type", "application/x-ndjson"),
            ("Content-Encoding", "gzip"),
            ("X-Fluent-Tag", tag),
        ],
        gzip(body.as_bytes()),
    )
    .await
}

pub use sink_proxy::gzip::compress as gzip;

/// Seconds since the epoch, as Fluent Bit's `json_date_key` sends them.
pub fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}
