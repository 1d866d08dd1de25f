//! A run to draw the dashboard from: the sink-proxy binary with its EMF
//! metrics every second, the labelled corpus sent steadily, alerts to a
//! local receiver, and a Firehose outage in the middle (delivery lag and
//! the spool rise, then drain). Writes the EMF lines for
//! `bench/dashboard.py`; `bench/dashboard.sh` runs both.
//!
//!   cargo run --release -p firelens-e2e --bin dashboard-run -- --out emf.jsonl

use anyhow::Result;
use clap::Parser;
use local_aws::fake::FakeAws;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use test_support::driver::drive;
use test_support::fluent_bit::corpus_chunks;
use test_support::process::{Extra, ProxyProcess};
use test_support::receiver::{Answer, Receiver};

#[derive(Parser)]
struct Args {
    /// Where the EMF lines go.
    #[arg(long)]
    out: PathBuf,
    /// Seconds of steady sending; the outage is its middle third.
    #[arg(long, default_value_t = 90)]
    secs: u64,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let dir = std::env::temp_dir().join(format!("dashboard-run-{}", std::process::id()));
    let corpus = wasm_host::corpus::generate(20_000, 9, &dir).map_err(anyhow::Error::msg)?;
    std::fs::remove_dir_all(&dir)?;
    let chunks = corpus_chunks(&corpus.records, &corpus.labels, 100, 0)?;
    let fake = FakeAws::start().await;
    let receiver = Receiver::start(Answer::Ok).await?;
    let _ = std::fs::remove_file(&args.out);
    let mut proxy = ProxyProcess::start_extra(
        &fake.endpoint,
        &[
            "--log-group",
            "/ecs/shop-web/errors",
            "--delivery-stream",
            "shop-web-logs",
        ],
        Extra {
            env: vec![
                ("SINK_PROXY_EMF_INTERVAL_SECS".into(), "1".into()),
                ("SINK_PROXY_EMF_NAMESPACE".into(), "FireLens/shop-web".into()),
                ("SINK_PROXY_ALERT_WEBHOOK_URL".into(), receiver.url("/hook")),
                ("SINK_PROXY_ALERT_WINDOW_SECS".into(), "20".into()),
            ],
            stdout: Some(args.out.clone()),
            ..Extra::default()
        },
    )
    .await?;
    // Spread the chunks over the run: two senders, one chunk each per pace.
    let pace = Duration::from_secs_f64(args.secs as f64 * 2.0 / chunks.len() as f64);
    let started = Instant::now();
    let sending = tokio::spawn(drive(
        proxy.addr,
        Arc::new(chunks),
        2,
        Duration::from_millis(200),
        1_000,
        started + Duration::from_secs(args.secs * 3),
        Default::default(),
        pace,
    ));
    let third = Duration::from_secs(args.secs / 3);
    tokio::time::sleep_until((started + third).into()).await;
    fake.with(|st| st.firehose_down = true);
    eprintln!("dashboard-run: Firehose down at {:?}", started.elapsed());
    tokio::time::sleep_until((started + 2 * third).into()).await;
    fake.with(|st| st.firehose_down = false);
    eprintln!("dashboard-run: Firehose back at {:?}", started.elapsed());
    let driven = sending.await??;
    // Until the spool has drained, then a few quiet seconds.
    let deadline = Instant::now() + Duration::from_secs(120);
    while spool_pending(&proxy).await? && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    proxy.terminate(Duration::from_secs(30))?;
    eprintln!(
        "dashboard-run: {} chunks posted ({} retried) in {:?}; EMF lines in {}",
        driven.posts,
        driven.retried,
        started.elapsed(),
        args.out.display()
    );
    Ok(())
}

/// Anything not yet delivered (the lag gauge of either destination above 0)?
async fn spool_pending(p: &ProxyProcess) -> Result<bool> {
    let m = p.metrics().await?;
    Ok(m.lines()
        .filter(|l| l.starts_with("sink_proxy_delivery_lag_seconds{"))
        .any(|l| {
            l.rsplit(' ')
                .next()
                .and_then(|v| v.parse::<f64>().ok())
                .is_some_and(|v| v > 0.0)
        }))
}
