//! sink-proxy throughput and cost, measured: the real binary as its own
//! process, a fast local stand-in for AWS (count only), and the shared
//! corpus replayed as Fluent Bit's http output sends it (json_lines + gzip
//! chunks, the tag in a header, health checks already dropped by the
//! filter, errors marked). The proxy's CPU time and peak RSS come from /proc.
//!
//!   cargo build --release -p sink-proxy && cargo run --release -p firelens-e2e --bin proxy-bench -- --mib 512

use anyhow::{Context, Result, bail};
use clap::Parser;
use firelens_e2e::units_one_record_per_line;
use local_aws::fake::FakeAws;
use serde_json::Value;
use sink_proxy::metrics::sample;
use std::io::Write;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Parser)]
struct Args {
    /// Uncompressed log data to send, in MiB.
    #[arg(long, default_value_t = 512)]
    mib: usize,
    /// Requests in flight at once (Fluent Bit's http output: 2 workers).
    #[arg(long, default_value_t = 2)]
    concurrency: usize,
    /// Records of the shared corpus to replay.
    #[arg(long, default_value_t = 20_000)]
    records: usize,
}

/// A prepared request: tag, gzip body, uncompressed bytes, lines, errors.
struct Chunk {
    tag: String,
    body: Vec<u8>,
    bytes: usize,
    lines: usize,
    errors: usize,
}

fn chunks(records: usize) -> Result<(Vec<Chunk>, Vec<usize>)> {
    let dir = std::env::temp_dir().join(format!("proxy-bench-{}", std::process::id()));
    let corpus = wasm_host::corpus::generate(records, 5, &dir).map_err(anyhow::Error::msg)?;
    std::fs::remove_dir_all(&dir)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs_f64();
    // What leaves the filter: no health checks, errors marked; then what the
    // http output writes: `date` first.
    let mut by_tag: std::collections::BTreeMap<String, Vec<(String, bool)>> = Default::default();
    let mut line_lens = Vec::new();
    for (i, (r, label)) in corpus.records.iter().zip(&corpus.labels).enumerate() {
        if label == "health" {
            continue;
        }
        let mut m = serde_json::Map::new();
        m.insert("date".into(), Value::from(now - 60.0 + i as f64 / 1000.0));
        m.extend(r.as_object().cloned().unwrap_or_default());
        if label == "error" {
            m.insert("log_class".into(), Value::from("error"));
        }
        let line = Value::Object(m).to_string();
        line_lens.push(line.len());
        by_tag
            .entry(firelens_e2e::firelens_tag(r))
            .or_default()
            .push((line, label == "error"));
    }
    // Chunks of about 1 MB per tag, as Fluent Bit flushes them.
    let mut out = Vec::new();
    for (tag, lines) in by_tag {
        let mut start = 0;
        while start < lines.len() {
            let mut end = start;
            let mut bytes = 0;
            while end < lines.len() && bytes < 1_000_000 {
                bytes += lines[end].0.len() + 1;
                end += 1;
            }
            let mut text = String::with_capacity(bytes);
            for (l, _) in &lines[start..end] {
                text.push_str(l);
                text.push('\n');
            }
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            gz.write_all(text.as_bytes())?;
            out.push(Chunk {
                tag: tag.clone(),
                body: gz.finish()?,
                bytes,
                lines: end - start,
                errors: lines[start..end].iter().filter(|(_, e)| *e).count(),
            });
            start = end;
        }
    }
    Ok((out, line_lens))
}

/// utime + stime of a process, in seconds.
fn cpu_seconds(pid: u32, ticks: f64) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after = stat.rsplit_once(')').context("stat")?.1;
    let f: Vec<&str> = after.split_whitespace().collect();
    Ok((f[11].parse::<f64>()? + f[12].parse::<f64>()?) / ticks)
}

fn peak_rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).context("VmHWM")?;
    Ok(line.split_whitespace().nth(1).context("VmHWM")?.parse()?)
}

async fn post(addr: SocketAddr, c: &Chunk) -> Result<u16> {
    use http_body_util::{BodyExt, Full};
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
    let req = hyper::Request::post(format!("http://{addr}/"))
        .header("Content-Type", "application/x-ndjson")
        .header("Content-Encoding", "gzip")
        .header("X-Fluent-Tag", &c.tag)
        .body(Full::new(bytes::Bytes::from(c.body.clone())))?;
    let resp = client.request(req).await?;
    let status = resp.status().as_u16();
    let _ = resp.into_body().collect().await?;
    Ok(status)
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let (chunks, line_lens) = chunks(args.records)?;
    let fake = FakeAws::start().await;
    fake.with(|st| st.count_only = true);
    let bin = std::env::current_exe()?.with_file_name("sink-proxy");
    if !bin.exists() {
        bail!("{} not found: cargo build --release -p sink-proxy", bin.display());
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    let mut child = Command::new(&bin)
        .args([
            "--listen",
            &addr.to_string(),
            "--log-group",
            "/bench/errors",
            "--delivery-stream",
            "bench",
        ])
        .envs([
            ("AWS_ENDPOINT_URL", fake.endpoint.as_str()),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "bench"),
            ("AWS_SECRET_ACCESS_KEY", "bench"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("SINK_PROXY_LOG", "warn"),
        ])
        .stderr(Stdio::inherit())
        .spawn()?;
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::process::Command::new(&bin)
        .args(["--check-health", "--listen", &addr.to_string()])
        .stderr(Stdio::null())
        .status()?
        .success()
    {
        if Instant::now() > deadline {
            bail!("sink-proxy did not come up");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ticks: f64 = String::from_utf8(Command::new("getconf").arg("CLK_TCK").output()?.stdout)?
        .trim()
        .parse()?;

    // Which chunks to send: round robin until the volume is reached.
    let target = args.mib << 20;
    let mut plan = Vec::new();
    let (mut bytes, mut lines, mut errors) = (0, 0, 0);
    while bytes < target {
        let c = &chunks[plan.len() % chunks.len()];
        plan.push(plan.len() % chunks.len());
        bytes += c.bytes;
        lines += c.lines;
        errors += c.errors;
    }
    let cpu0 = cpu_seconds(pid, ticks)?;
    let started = Instant::now();
    let chunks = std::sync::Arc::new(chunks);
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let plan = std::sync::Arc::new(plan);
    let mut workers = Vec::new();
    for _ in 0..args.concurrency {
        let (chunks, next, plan) = (chunks.clone(), next.clone(), plan.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(&c) = plan.get(i) else {
                    return Ok::<_, anyhow::Error>(());
                };
                // Like Fluent Bit: again until accepted (bounded).
                let mut tries = 0;
                while post(addr, &chunks[c]).await? != 200 {
                    tries += 1;
                    if tries > 50 {
                        bail!("chunk {c} never accepted");
                    }
                }
            }
        }));
    }
    for w in workers {
        w.await??;
    }
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds(pid, ticks)? - cpu0;
    let rss = peak_rss_kib(pid)?;
    let metrics = proxy_metrics(addr).await?;
    let _ = child.kill();
    let _ = child.wait();

    let (fh_lines, events) = fake.with(|st| (st.record_bytes, st.event_count));
    let mib = bytes as f64 / (1 << 20) as f64;
    let gib = bytes as f64 / (1u64 << 30) as f64;
    let units = sample(&metrics, "sink_proxy_firehose_billed_units_total");
    let fh_records = sample(&metrics, "sink_proxy_firehose_records_total");
    let cw_calls = sample(&metrics, r#"sink_proxy_batches_total{destination="cloudwatch_logs"}"#);
    // One record per line, for the same lines (the corpus replayed).
    let per_round: u64 = units_one_record_per_line(line_lens.iter().copied());
    let rounds = lines as f64 / line_lens.len() as f64;
    let classic_units = per_round as f64 * rounds;
    if fh_lines < bytes as u64 || events < errors as u64 {
        bail!("not everything arrived: {fh_lines} of {bytes} bytes, {events} of {errors} events");
    }

    println!(
        "sink-proxy, {mib:.0} MiB of FireLens logs ({lines} records, {errors} errors) in {} requests, {} in flight",
        plan.len(),
        args.concurrency
    );
    println!();
    println!("| measure | value |");
    println!("|---|---:|");
    println!("| proxy CPU time | {cpu:.2} s |");
    println!(
        "| throughput per core (uncompressed MiB / proxy CPU s) | {:.0} MiB/s |",
        mib / cpu
    );
    println!("| records per core-second | {:.0} |", lines as f64 / cpu);
    println!("| CPU seconds per GiB | {:.2} |", cpu / gib);
    println!(
        "| wall-clock throughput (2 cores shared with driver and stand-in) | {:.0} MiB/s |",
        mib / wall
    );
    println!("| peak RSS | {:.1} MiB |", rss as f64 / 1024.0);
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

async fn proxy_metrics(addr: SocketAddr) -> Result<String> {
    use http_body_util::{BodyExt, Empty};
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
    let resp = client
        .request(hyper::Request::get(format!("http://{addr}/metrics")).body(Empty::<bytes::Bytes>::new())?)
        .await?;
    Ok(String::from_utf8(
        resp.into_body().collect().await?.to_bytes().to_vec(),
    )?)
}
