//! The proxy served from the test's own process, on an ephemeral loopback
//! port: its `Proxy` is at hand for metrics and the spool. Stopped, and its
//! spool directory removed, when dropped.

use anyhow::{Context, Result, bail};
use clap::Parser;
use sink_proxy::config::{Cli, Config, SpoolChoice};
use sink_proxy::proxy::Proxy;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct RunningProxy {
    pub addr: SocketAddr,
    pub proxy: Arc<Proxy>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    drains: Option<sink_proxy::spooled::Drains>,
    alerts: Option<sink_proxy::alerts::Senders>,
    spool_dir: Option<PathBuf>,
}

impl RunningProxy {
    /// `args` as on the command line, `file` as the TOML config file, `env`
    /// as the environment. `spooled`: with a spool in a fresh directory
    /// (removed on drop) and its drains running; else none, and a chunk is
    /// answered 2xx once AWS has it. Alert senders run if alerts are set.
    pub async fn start(
        args: &[&str],
        file: &str,
        env: impl Fn(&str) -> Option<String>,
        sdk: &aws_config::SdkConfig,
        spooled: bool,
    ) -> Result<Self> {
        static STARTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let mut args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        let spool_dir = spooled.then(|| {
            let n = STARTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            std::env::temp_dir().join(format!("sink-proxy-test-spool-{}-{n}", std::process::id()))
        });
        match &spool_dir {
            Some(dir) => {
                let _ = std::fs::remove_dir_all(dir);
                args.extend(["--spool-dir".to_owned(), dir.to_str().context("temp dir")?.to_owned()]);
            }
            None => args.extend(["--spool-dir".to_owned(), "off".to_owned()]),
        }
        let cli = Cli::try_parse_from(std::iter::once("sink-proxy".to_owned()).chain(args))?;
        let config = Config::new(cli, Some(file), env).map_err(anyhow::Error::msg)?;
        let mut proxy = Proxy::new(config, sdk);
        if spool_dir.is_some() {
            let SpoolChoice::Required(settings) = proxy.config.spool.choice.clone() else {
                bail!("the spool directory was given")
            };
            proxy = proxy.open_spool(&settings)?.0;
        }
        let proxy = Arc::new(proxy);
        let drains = spool_dir.as_ref().map(|_| proxy.start_drains());
        let alerts = proxy.start_alerts();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(sink_proxy::server::serve(listener, proxy.clone(), async {
            let _ = stopped.await;
        }));
        Ok(Self {
            addr,
            proxy,
            stop: Some(stop),
            task: Some(task),
            drains,
            alerts,
            spool_dir,
        })
    }

    /// With a spool: until every queue is delivered (at most `limit`).
    pub async fn drained(&self, limit: Duration) -> Result<()> {
        let deadline = Instant::now() + limit;
        while self.proxy.spool().is_some_and(|s| s.pending()) {
            if Instant::now() > deadline {
                bail!("the spool did not drain within {limit:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    /// Sends what the alert destinations still hold (the digests), as a
    /// shutdown does; at most `limit`.
    pub async fn finish_alerts(&mut self, limit: Duration) {
        if let Some(a) = self.alerts.take() {
            a.finish(Instant::now() + limit).await;
        }
    }

    /// Stops accepting and waits for requests in flight (the SIGTERM path).
    pub async fn shutdown(mut self) -> Result<()> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await?;
        }
        Ok(())
    }

    /// Readiness instead of a sleep: until a request is being handled (at most `limit`).
    pub async fn in_flight(&self, limit: Duration) -> Result<()> {
        let deadline = Instant::now() + limit;
        while self.metric("sink_proxy_in_flight_requests") == 0 {
            if Instant::now() > deadline {
                bail!("no request in flight within {limit:?}");
            }
            tokio::task::yield_now().await;
        }
        Ok(())
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
