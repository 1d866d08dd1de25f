//! sink-proxy throughput and cost, measured: the real binary as its own
//! process, a fast local stand-in for AWS (count only) over TLS, and the
//! corpus replayed as Fluent Bit's http output sends it with the include of
//! `--include`: `lean` (firelens-lean.conf: msgpack, every record, the
//! proxy classifies) or `shipped` (firelens.conf: json_lines, health checks
//! already dropped by the module, errors marked), the tag in a header; with
//! the durable spool off and on, and with alerts to a stuck receiver. The
//! proxy's CPU time and peak RSS come from /proc. It covers the whole
//! delivery path of a deployment: TLS, SigV4 signing, JSON and base64, both
//! destinations. What it leaves out: AWS's own latency (the stand-in answers
//! at once) and Fluent Bit (bench/fluent-bit-pipeline.sh has both).
//!
//!   cargo build --release -p sink-proxy && cargo run --release -p firelens-e2e --bin proxy-bench -- --mib 512
//!
//! The binary is `$SINK_PROXY_BIN` (the image's: scripts/image_check.py
//! writes it to target/image/sink-proxy) or this machine's build.
//! `--baseline-bin OTHER/sink-proxy` (repeatable) adds other builds of the
//! binary, spool on, to the same rounds: musl builds beside the image's glibc
//! one (README: "The shipped binary"), or a regression check side by side.

use anyhow::{Result, bail};
use clap::Parser;
use firelens_e2e::units_one_record_per_line;
use local_aws::fake::FakeAws;
use sink_proxy::metrics::sample;
use std::sync::Arc;
use std::time::{Duration, Instant};
use test_support::driver::drive;
use test_support::fluent_bit::{Chunk, corpus_chunks, lean_chunks};
use test_support::process::{Extra, ProxyProcess};
use test_support::receiver::{Answer, Receiver};

#[derive(Parser)]
struct Args {
    /// Uncompressed log data to send, in MiB.
    #[arg(long, default_value_t = 512)]
    mib: usize,
    /// Requests in flight at once (Fluent Bit's http output: 2 workers).
    #[arg(long, default_value_t = 2)]
    concurrency: usize,
    /// Records of the labelled corpus to replay.
    #[arg(long, default_value_t = 20_000)]
    records: usize,
    /// Runs of each mode (spool off, spool on), alternating; medians.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// What Fluent Bit sends: `lean` (firelens-lean.conf) or `shipped`
    /// (firelens.conf).
    #[arg(long, default_value = "lean", value_parser = ["lean", "shipped"])]
    include: String,
    /// Other sink-proxy binaries (e.g. from the previous commit, or a musl
    /// build), each run spool on in the same rounds.
    #[arg(long)]
    baseline_bin: Vec<std::path::PathBuf>,
}

/// One run of the proxy over the plan.
struct Measure {
    cpu: f64,
    wall: f64,
    rss: f64,
    metrics: String,
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    SpoolOff,
    SpoolOn,
    /// Spool on with AWS down: the CPU of taking chunks in alone.
    IngestOnly,
    /// Spool on, with Slack and webhook alerts to a receiver that never
    /// answers: what alerting costs the data path at its worst.
    AlertsStuck,
    /// Spool on, the n-th `--baseline-bin` binary.
    Baseline(usize),
}

/// Sends the plan through a fresh proxy and waits until the stand-in has
/// every line and event, so that CPU covers delivery too (but for
/// `IngestOnly`, which stops once every chunk is acknowledged).
async fn run(
    plan: &Arc<Vec<Chunk>>,
    concurrency: usize,
    mode: Mode,
    lines: u64,
    errors: u64,
    baselines: &[std::path::PathBuf],
) -> Result<Measure> {
    let spool = mode != Mode::SpoolOff;
    let fake = FakeAws::start_tls().await;
    fake.with(|st| {
        st.count_only = true;
        st.firehose_down = mode == Mode::IngestOnly;
        st.logs_down = mode == Mode::IngestOnly;
    });
    let mut args = vec!["--log-group", "/bench/errors", "--delivery-stream", "bench"];
    if !spool {
        args.extend(["--spool-dir", "off"]);
    }
    let receiver = Receiver::start(Answer::Hang).await?;
    let mut extra = Extra {
        env: vec![("SSL_CERT_FILE".into(), fake.ca_file().unwrap().display().to_string())],
        ..Extra::default()
    };
    if let Mode::Baseline(i) = mode {
        extra.binary = baselines.get(i).cloned();
    }
    if mode == Mode::AlertsStuck {
        extra.env.extend([
            ("SINK_PROXY_SLACK_WEBHOOK_URL".into(), receiver.url("/slack")),
            ("SINK_PROXY_ALERT_WEBHOOK_URL".into(), receiver.url("/hook")),
        ]);
    }
    let proxy = ProxyProcess::start_extra(&fake.endpoint, &args, extra).await?;
    let cpu0 = proxy.cpu_seconds()?;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(600);
    drive(
        proxy.addr,
        plan.clone(),
        concurrency,
        Duration::from_millis(100),
        50,
        deadline,
        Default::default(),
        Duration::ZERO,
    )
    .await?;
    // Until the stand-in has every byte and event (AWS down: nothing comes).
    while mode != Mode::IngestOnly && !arrived(&fake, lines, errors) {
        if Instant::now() > deadline {
            bail!("not everything arrived within 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let wall = started.elapsed().as_secs_f64();
    let cpu = proxy.cpu_seconds()? - cpu0;
    Ok(Measure {
        cpu,
        wall,
        rss: proxy.peak_rss_mib()?,
        metrics: proxy.metrics().await?,
    })
}

fn arrived(fake: &FakeAws, lines: u64, errors: u64) -> bool {
    fake.with(|st| st.record_lines >= lines && st.event_count >= errors)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let dir = std::env::temp_dir().join(format!("proxy-bench-{}", std::process::id()));
    let corpus = wasm_host::corpus::generate(args.records, 5, &dir).map_err(anyhow::Error::msg)?;
    std::fs::remove_dir_all(&dir)?;
    // About 1 MB per chunk, as Fluent Bit's chunks under load.
    let chunks: Vec<Chunk> = if args.include == "lean" {
        lean_chunks(&corpus.records, &corpus.labels, 3_300)?
    } else {
        corpus_chunks(&corpus.records, &corpus.labels, 2_600, 0)?
            .into_iter()
            .map(Chunk::plain)
            .collect()
    };
    let line_lens: Vec<usize> = chunks.iter().flat_map(|c| c.lines.iter().map(String::len)).collect();

    // Round robin over the chunks until the volume is reached.
    let target = args.mib << 20;
    let mut plan = Vec::new();
    let (mut bytes, mut lines, mut errors) = (0, 0, 0);
    while bytes < target {
        let i = plan.len() % chunks.len();
        let c = &chunks[i];
        bytes += c.bytes();
        lines += c.lines.len();
        errors += c.errors;
        plan.push(Chunk {
            tag: c.tag.clone(),
            body: c.body.clone(),
            lines: Vec::new(),
            errors: c.errors,
            encoding: c.encoding,
        });
    }
    let requests = plan.len();
    let plan = Arc::new(plan);
    // Spool off and on, alternating, in one run: the machine's noise hits both.
    let mut off = Vec::new();
    let mut on = Vec::new();
    let mut ingest = Vec::new();
    let mut alerts = Vec::new();
    let mut baseline: Vec<Vec<Measure>> = args.baseline_bin.iter().map(|_| Vec::new()).collect();
    let base = args.baseline_bin.as_slice();
    let (b, e) = (lines as u64, errors as u64);
    for _ in 0..args.rounds {
        alerts.push(run(&plan, args.concurrency, Mode::AlertsStuck, b, e, base).await?);
        off.push(run(&plan, args.concurrency, Mode::SpoolOff, b, e, base).await?);
        on.push(run(&plan, args.concurrency, Mode::SpoolOn, b, e, base).await?);
        ingest.push(run(&plan, args.concurrency, Mode::IngestOnly, b, e, base).await?);
        for (i, runs) in baseline.iter_mut().enumerate() {
            runs.push(run(&plan, args.concurrency, Mode::Baseline(i), b, e, base).await?);
        }
    }
    let metrics = on.last().map(|m| m.metrics.clone()).unwrap_or_default();

    let mib = bytes as f64 / (1 << 20) as f64;
    let gib = bytes as f64 / (1u64 << 30) as f64;
    let units = sample(&metrics, "sink_proxy_firehose_billed_units_total");
    let fh_records = sample(&metrics, "sink_proxy_firehose_records_total");
    let cw_calls = sample(&metrics, r#"sink_proxy_batches_total{destination="cloudwatch_logs"}"#);
    // One record per line, for the same lines (the corpus replayed).
    let per_round: u64 = units_one_record_per_line(line_lens.iter().copied());
    let rounds = lines as f64 / line_lens.len() as f64;
    let classic_units = per_round as f64 * rounds;

    println!("binary: {}", test_support::process::sink_proxy_bin()?.display());
    println!(
        "sink-proxy, {mib:.0} MiB of FireLens logs ({lines} records, {errors} errors) in {requests} requests, {} in flight; \
         spool off and on alternating, median of {} each; CPU counted until AWS has everything",
        args.concurrency, args.rounds
    );
    println!();
    let cpu = |ms: &[Measure]| median(ms.iter().map(|m| m.cpu).collect());
    let wall = |ms: &[Measure]| median(ms.iter().map(|m| m.wall).collect());
    let rss = |ms: &[Measure]| ms.iter().map(|m| m.rss).fold(0.0, f64::max);
    let (c_off, c_on) = (cpu(&off), cpu(&on));
    println!("| measure | spool off | spool on | on / off |");
    println!("|---|---:|---:|---:|");
    println!("| proxy CPU time | {c_off:.2} s | {c_on:.2} s | {:.2}x |", c_on / c_off);
    println!(
        "| throughput per core (uncompressed MiB / proxy CPU s) | {:.0} MiB/s | {:.0} MiB/s | |",
        mib / c_off,
        mib / c_on
    );
    println!(
        "| records per core-second | {:.0} | {:.0} | |",
        lines as f64 / c_off,
        lines as f64 / c_on
    );
    println!(
        "| CPU seconds per GiB | {:.2} | {:.2} | {:.2}x |",
        c_off / gib,
        c_on / gib,
        c_on / c_off
    );
    println!(
        "| wall-clock throughput (2 cores shared with driver and stand-in) | {:.0} MiB/s | {:.0} MiB/s | |",
        mib / wall(&off),
        mib / wall(&on)
    );
    println!("| peak RSS | {:.1} MiB | {:.1} MiB | |", rss(&off), rss(&on));
    // A variant of spool on: its CPU time and wall-clock throughput beside it.
    let beside = |label: &str, ms: &[Measure], ratio: &dyn Fn(f64, f64) -> String| {
        let (c, w) = (cpu(ms), wall(ms));
        println!("| {label}: CPU time | | {c:.2} s | {} |", ratio(c, c_on));
        println!(
            "| same: wall-clock throughput | | {:.0} MiB/s | {} |",
            mib / w,
            ratio(wall(&on), w)
        );
    };
    beside(
        "spool on + Slack and webhook alerts to a receiver that never answers",
        &alerts,
        &|x, on| format!("{:.2}x of spool on", x / on),
    );
    for (path, runs) in args.baseline_bin.iter().zip(&baseline) {
        beside(
            &format!("spool on, --baseline-bin {}", path.display()),
            runs,
            &|x, on| format!("this build {:.2}x of the baseline", on / x),
        );
        println!("| same: peak RSS | | {:.1} MiB | |", rss(runs));
    }
    let c_in = cpu(&ingest);
    println!();
    println!(
        "Ingest alone (spool on, AWS down: chunks acknowledged once on disk, nothing delivered): \
         {:.0} MiB/s per core, {:.2} CPU s per GiB.",
        mib / c_in,
        c_in / gib
    );
    println!();
    println!("| cost (spool on) | value |");
    println!("|---|---:|");
    println!("| Firehose records sent | {fh_records} |");
    println!(
        "| Firehose 5 KiB units per GiB, sink-proxy | {:.0} |",
        units as f64 / gib
    );
    println!(
        "| Firehose 5 KiB units per GiB, one record per line | {:.0} |",
        classic_units / gib
    );
    println!(
        "| billed units, one record per line / sink-proxy | {:.1}x |",
        classic_units / units as f64
    );
    println!(
        "| PutLogEvents calls per 10,000 error events | {:.1} |",
        cw_calls as f64 * 10_000.0 / errors as f64
    );
    Ok(())
}
