//! Proven reliability: the sink-proxy binary (with its durable spool, as
//! shipped), a fault-injecting AWS stand-in, and a driver that replays the
//! corpus as Fluent Bit would (chunks per tag, sent again until accepted).
//! Delivered records are compared with sent records: none lost, duplicates
//! only from a kill window, no crash, memory bounded. Loopback only; every
//! loop is bounded.
//!
//! The outages last `RELIABILITY_OUTAGE_SECS` (default 60) each.

use local_aws::fake::FakeAws;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use test_support::driver::drive;
use test_support::fluent_bit::{Chunk, corpus_chunks};
use test_support::process::{ConfigFile, ProxyProcess};

const STREAM: &str = "logs";
const GROUP: &str = "/ecs/errors";
/// Peak RSS the proxy must stay under in every scenario (MiB).
const RSS_BOUND_MIB: f64 = 128.0;
/// Lines a kill can send twice in the kill scenarios (50-line chunks): the
/// two requests in flight (spooled, not yet answered) and the one Firehose
/// entry being delivered.
const KILL_WINDOW_LINES: usize = (2 + 1) * 50;

/// The binary with both destinations and the default limits.
async fn start(fake: &FakeAws) -> ProxyProcess {
    start_with(fake, &[]).await
}

async fn start_with(fake: &FakeAws, extra: &[&str]) -> ProxyProcess {
    let mut args = vec!["--log-group", GROUP, "--delivery-stream", STREAM];
    args.extend_from_slice(extra);
    ProxyProcess::start(&fake.endpoint, &args).await.unwrap()
}

fn corpus(rounds: usize, lines_per_chunk: usize) -> Vec<Chunk> {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("reliability-{}-{call}", std::process::id()));
    let c = wasm_host::corpus::generate(20_000, 3, &dir).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    (0..rounds)
        .flat_map(|r| corpus_chunks(&c.records, &c.labels, lines_per_chunk, r).unwrap())
        .collect()
}

/// Lost and duplicated lines, in Firehose and in CloudWatch.
struct Tally {
    sent: usize,
    lost: usize,
    duplicates: usize,
    errors_sent: usize,
    errors_lost: usize,
    error_duplicates: usize,
}

fn tally(fake: &FakeAws, chunks: &[Chunk]) -> Tally {
    tally_in(fake, chunks, &[STREAM])
}

/// [`tally`] over the lines of several Firehose streams together.
fn tally_in(fake: &FakeAws, chunks: &[Chunk], streams: &[&str]) -> Tally {
    fake.with(|st| {
        assert!(st.violations.is_empty(), "AWS limits broken: {:?}", st.violations);
        let mut got: HashMap<&str, usize> = HashMap::new();
        for l in st
            .records
            .iter()
            .filter(|(s, _)| streams.contains(&s.as_str()))
            .flat_map(|(_, d)| {
                assert!(d.ends_with(b"\n"));
                std::str::from_utf8(d).unwrap().lines()
            })
        {
            *got.entry(l).or_default() += 1;
        }
        // Rounds of the corpus repeat messages; the timestamp tells them apart.
        let mut events: HashMap<(i64, &str), usize> = HashMap::new();
        for (_, _, ts, m) in &st.events {
            *events.entry((*ts, m.as_str())).or_default() += 1;
        }
        let mut t = Tally {
            sent: 0,
            lost: 0,
            duplicates: 0,
            errors_sent: 0,
            errors_lost: 0,
            error_duplicates: 0,
        };
        for line in chunks.iter().flat_map(|c| &c.lines) {
            t.sent += 1;
            match got.get(line.as_str()) {
                None => t.lost += 1,
                Some(n) => t.duplicates += n - 1,
            }
            let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
            if v["log_class"] == "error" {
                t.errors_sent += 1;
                let ts = (v["date"].as_f64().unwrap() * 1000.0).round() as i64;
                // The message: the record without the time and the ECS keys.
                v.as_object_mut().unwrap().retain(|k, _| {
                    !["date", "ecs_cluster", "ecs_task_arn", "ecs_task_definition"].contains(&k.as_str())
                });
                match events.get(&(ts, v.to_string().as_str())) {
                    None => t.errors_lost += 1,
                    Some(n) => t.error_duplicates += n - 1,
                }
            }
        }
        t
    })
}

fn report(name: &str, t: &Tally, proxy: &ProxyProcess, secs: f64) -> f64 {
    let rss = proxy.peak_rss_mib().unwrap();
    // One row of the README's results table (cargo test -- --nocapture).
    println!(
        "| {name} | {} | {} | {} | {} | {} | {} | {rss:.0} MiB | {secs:.0} s |",
        t.sent, t.lost, t.duplicates, t.errors_sent, t.errors_lost, t.error_duplicates
    );
    rss
}

/// Polls until every line and error arrived (the drains are asynchronous).
async fn wait_delivered(fake: &FakeAws, chunks: &[Chunk], streams: &[&str], deadline: Instant) -> Tally {
    loop {
        let t = tally_in(fake, chunks, streams);
        if (t.lost, t.errors_lost) == (0, 0) || Instant::now() > deadline {
            return t;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn wait_for(acked: &AtomicUsize, n: usize, deadline: Instant) {
    while acked.load(Ordering::Relaxed) < n {
        assert!(Instant::now() < deadline, "the driver stalled");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn outage_secs() -> u64 {
    std::env::var("RELIABILITY_OUTAGE_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_and_an_outage_of_each_destination_lose_nothing() {
    let chunks = Arc::new(corpus(3, 100));
    let fake = FakeAws::start().await;
    fake.with(|st| {
        st.random_faults(0.2, 42);
    });
    let mut proxy = start(&fake).await;
    let started = Instant::now();
    let outage = Duration::from_secs(outage_secs());
    let deadline = started + outage * 2 + Duration::from_secs(240);
    let acked = Arc::new(AtomicUsize::new(0));
    let n = chunks.len();
    // Input at a steady rate across both outages, as an application logs.
    let span = outage * 2 + Duration::from_secs(20);
    let driver = tokio::spawn(drive(
        proxy.addr,
        chunks.clone(),
        2,
        Duration::from_millis(200),
        1_000,
        deadline,
        acked.clone(),
        span / (n as u32 / 2),
    ));
    // Throttling bursts, 5xx, failed records and slow answers throughout;
    // Firehose down for a while, then CloudWatch.
    wait_for(&acked, n / 20, deadline).await;
    fake.with(|st| st.firehose_down = true);
    tokio::time::sleep(outage).await;
    fake.with(|st| st.firehose_down = false);
    wait_for(&acked, (acked.load(Ordering::Relaxed) + n / 20).min(n), deadline).await;
    fake.with(|st| st.logs_down = true);
    tokio::time::sleep(outage).await;
    fake.with(|st| st.logs_down = false);
    let driven = driver.await.unwrap().unwrap();
    assert!(proxy.alive(), "the proxy crashed");
    let metrics = proxy.metrics().await.unwrap();
    let retries = sink_proxy::metrics::sample(&metrics, r#"sink_proxy_retries_total{destination="firehose"}"#);
    assert!(
        retries > 0 && driven.retried == 0,
        "the faults were felt by the proxy, not by Fluent Bit"
    );
    let t = wait_delivered(&fake, &chunks, &[STREAM], deadline).await;
    let rss = report(
        &format!("faults + {} s outage of each", outage.as_secs()),
        &t,
        &proxy,
        started.elapsed().as_secs_f64(),
    );
    assert_eq!((t.lost, t.errors_lost), (0, 0), "records lost");
    assert_eq!((t.duplicates, t.error_duplicates), (0, 0), "no kill, no duplicates");
    assert!(rss < RSS_BOUND_MIB, "peak RSS {rss} MiB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_stream_and_restart_lose_nothing() {
    let chunks = Arc::new(corpus(22, 50));
    let fake = FakeAws::start().await;
    fake.with(|st| {
        st.random_faults(0.01, 9);
    });
    let mut proxy = start(&fake).await;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(300);
    let acked = Arc::new(AtomicUsize::new(0));
    let driver = tokio::spawn(drive(
        proxy.addr,
        chunks.clone(),
        2,
        Duration::from_millis(100),
        1_000,
        deadline,
        acked.clone(),
        Duration::ZERO,
    ));
    let n = chunks.len();
    let mut peak: f64 = 0.0;
    for at in [n / 3, 2 * n / 3] {
        wait_for(&acked, at, deadline).await;
        peak = peak.max(proxy.peak_rss_mib().unwrap());
        proxy.kill().unwrap();
        // Down for a moment: the driver meets refused connections.
        tokio::time::sleep(Duration::from_millis(500)).await;
        proxy.restart().await.unwrap();
    }
    let driven = driver.await.unwrap().unwrap();
    assert!(driven.connection_errors > 0, "the kills were felt");
    assert!(proxy.alive());
    let t = wait_delivered(&fake, &chunks, &[STREAM], deadline).await;
    let rss = report(
        "SIGKILL twice mid-stream, restarted",
        &t,
        &proxy,
        started.elapsed().as_secs_f64(),
    )
    .max(peak);
    assert_eq!((t.lost, t.errors_lost), (0, 0), "records lost");
    // Only what was in flight at a kill can be sent twice: per kill, the 2
    // requests (spooled, not yet answered) and the one Firehose entry being
    // delivered, of 50 lines each.
    assert!(t.duplicates <= 2 * KILL_WINDOW_LINES, "{} duplicates", t.duplicates);
    assert!(
        t.duplicates * 1000 <= t.sent,
        "{} duplicates of {}: over 0.1 %",
        t.duplicates,
        t.sent
    );
    assert!(rss < RSS_BOUND_MIB, "peak RSS {rss} MiB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_beside_real_traffic_crashes_nothing_and_loses_nothing() {
    use tokio::io::AsyncWriteExt;
    let chunks = Arc::new(corpus(1, 100));
    let fake = FakeAws::start().await;
    let mut proxy = start(&fake).await;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(240);
    let addr = proxy.addr;
    // Slow-loris: connections that never finish their request head.
    let mut lorises = Vec::new();
    for _ in 0..100 {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Le").await.unwrap();
        lorises.push(s);
    }
    let driver = tokio::spawn(drive(
        addr,
        chunks.clone(),
        2,
        Duration::from_millis(100),
        200,
        deadline,
        Default::default(),
        Duration::ZERO,
    ));
    // Hostile bodies, several times each, while the real traffic flows.
    let gz = sink_proxy::gzip::compress;
    // A body over max_body_bytes (8 MiB), and a large one under it.
    let lines = |n: usize, word: &str| -> String {
        (0..n)
            .map(|i| format!("{{\"log\":\"{word} body line {i} {}\"}}\n", "b".repeat(380)))
            .collect()
    };
    let huge = lines(26_000, "huge");
    assert!(huge.len() > 10 << 20);
    let big_lines = lines(16_000, "big");
    assert!(big_lines.len() > 6 << 20 && big_lines.len() < 8 << 20);
    let hostile: Vec<(&str, Option<&str>, Vec<u8>)> = vec![
        ("application/x-ndjson", None, b"{\"log\":\"trunc".to_vec()),
        ("application/x-ndjson", None, b"\xff\xfe\xfd{\"log\":1}\n".to_vec()),
        (
            "application/json",
            None,
            format!("{}{}", "[".repeat(200_000), "]".repeat(200_000)).into_bytes(),
        ),
        ("text/plain", None, b"<xml>not json</xml>".to_vec()),
        ("application/xml", Some("gzip"), gz(b"<a/>")),
        ("application/x-ndjson", Some("gzip"), gz(&vec![b'{'; 200 << 20])),
        ("application/x-ndjson", Some("gzip"), b"\x1f\x8b\x08\x00broken".to_vec()),
        ("application/x-ndjson", None, big_lines.clone().into_bytes()),
        ("application/x-ndjson", None, huge.clone().into_bytes()),
    ];
    let mut answers = Vec::new();
    for _ in 0..3 {
        for (ct, enc, body) in &hostile {
            let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
            let mut req = hyper::Request::post(format!("http://{addr}/"))
                .header("Content-Type", *ct)
                .header("X-Fluent-Tag", "hostile");
            if let Some(e) = enc {
                req = req.header("Content-Encoding", *e);
            }
            let resp = client
                .request(
                    req.body(http_body_util::Full::new(bytes::Bytes::from(body.clone())))
                        .unwrap(),
                )
                .await
                .unwrap();
            answers.push(resp.status().as_u16());
        }
    }
    driver.await.unwrap().unwrap();
    drop(lorises);
    assert!(proxy.alive(), "the proxy crashed");
    // The bomb and the 10 MiB body are refused (413: over the limits); every
    // other body is answered 200, its good records delivered, the rest
    // dead-lettered.
    for (i, s) in answers.iter().enumerate() {
        let want = if [5, 8].contains(&(i % hostile.len())) {
            413
        } else {
            200
        };
        assert_eq!(*s, want, "hostile body {}", i % hostile.len());
    }
    let t = wait_delivered(&fake, &chunks, &[STREAM], deadline).await;
    let rss = report(
        "hostile input beside real traffic",
        &t,
        &proxy,
        started.elapsed().as_secs_f64(),
    );
    assert_eq!((t.lost, t.errors_lost, t.duplicates), (0, 0, 0));
    let big_delivered = || {
        fake.with(|st| {
            st.records
                .iter()
                .flat_map(|(_, d)| std::str::from_utf8(d).unwrap().lines())
                .filter(|l| l.contains("big body line"))
                .count()
        })
    };
    while big_delivered() < 3 * 16_000 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(big_delivered(), 3 * 16_000, "the 6 MiB bodies' records, each time");
    let dead = sink_proxy::metrics::sample(
        &proxy.metrics().await.unwrap(),
        "sink_proxy_dead_letter_records_total{reason=\"unparseable\"}",
    );
    assert!(dead >= 3 * 4, "{dead} dead letters");
    assert!(rss < RSS_BOUND_MIB, "peak RSS {rss} MiB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sustained_overload_is_pushed_back_with_429_and_memory_stays_bounded() {
    // ~1 MB chunks, far more at once than the proxy admits, against a slow AWS.
    let chunks = Arc::new(corpus(6, 2_600));
    let fake = FakeAws::start().await;
    fake.with(|st| st.delay_all = Some(Duration::from_millis(250)));
    // The default limits: 8 requests, 64 MiB of working set.
    let mut proxy = start(&fake).await;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(240);
    let driven = drive(
        proxy.addr,
        chunks.clone(),
        32,
        Duration::from_millis(50),
        1_000,
        deadline,
        Default::default(),
        Duration::ZERO,
    )
    .await
    .unwrap();
    assert!(proxy.alive());
    let t = wait_delivered(&fake, &chunks, &[STREAM], deadline).await;
    let rss = report(
        "sustained overload: 32 senders of ~1 MB chunks, default limits (8 admitted), AWS answering in 0.25 s",
        &t,
        &proxy,
        started.elapsed().as_secs_f64(),
    );
    let metrics = proxy.metrics().await.unwrap();
    let refused = sink_proxy::metrics::sample(&metrics, r#"sink_proxy_requests_total{code="429"}"#);
    assert!(refused > 0 && driven.retried > 0, "the proxy pushed back");
    assert_eq!((t.lost, t.errors_lost, t.duplicates, t.error_duplicates), (0, 0, 0, 0));
    assert!(rss < RSS_BOUND_MIB, "peak RSS {rss} MiB");
}

/// Lines per second the sustained-input scenarios send (≈ 200 KB/s).
const SUSTAINED_LINES_PER_SEC: u64 = 500;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_outage_of_both_destinations_is_absorbed_by_the_spool() {
    let outage = Duration::from_secs(outage_secs());
    // The corpus is ~14,000 lines a round: enough rounds for the outage.
    let rounds = (outage.as_secs() * SUSTAINED_LINES_PER_SEC).div_ceil(14_000).max(1) as usize;
    let chunks = Arc::new(corpus(rounds, 50));
    let fake = FakeAws::start().await;
    fake.with(|st| {
        st.firehose_down = true;
        st.logs_down = true;
    });
    let mut proxy = start(&fake).await;
    let started = Instant::now();
    let deadline = started + outage + Duration::from_secs(300);
    // Two workers, each a 50-line chunk per pace: the whole corpus over
    // the outage, at a steady rate.
    let pace = outage / (chunks.len() as u32 / 2).max(1);
    let driven = drive(
        proxy.addr,
        chunks.clone(),
        2,
        Duration::from_millis(200),
        1_000,
        deadline,
        Default::default(),
        pace,
    )
    .await
    .unwrap();
    assert_eq!(driven.retried, 0, "every chunk answered 2xx during the outage");
    let during = proxy.metrics().await.unwrap();
    let spooled = sink_proxy::metrics::sample(&during, "sink_proxy_spool_bytes");
    let lag = sink_proxy::metrics::sample(&during, r#"sink_proxy_delivery_lag_seconds{destination="firehose"}"#);
    assert!(fake.with(|st| st.records.is_empty()), "AWS was down");
    assert!(spooled > 1 << 20, "{spooled} bytes spooled");
    assert!(lag >= outage.as_secs() / 2, "lag {lag} s");
    let peak_during = proxy.peak_rss_mib().unwrap();
    fake.with(|st| {
        st.firehose_down = false;
        st.logs_down = false;
    });
    let t = wait_delivered(&fake, &chunks, &[STREAM], deadline).await;
    let rss = report(
        &format!(
            "outage of both destinations for {} s, {} lines/s in (answered 2xx throughout), then recovery",
            outage.as_secs(),
            SUSTAINED_LINES_PER_SEC
        ),
        &t,
        &proxy,
        started.elapsed().as_secs_f64(),
    );
    assert!(proxy.alive());
    assert_eq!((t.lost, t.errors_lost), (0, 0), "records lost");
    assert_eq!((t.duplicates, t.error_duplicates), (0, 0), "no kill, no duplicates");
    assert!(rss.max(peak_during) < RSS_BOUND_MIB, "peak RSS {rss} MiB");
    // Delivered: nothing pending any more.
    let after = proxy.metrics().await.unwrap();
    assert_eq!(
        sink_proxy::metrics::sample(&after, r#"sink_proxy_delivery_lag_seconds{destination="firehose"}"#),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_twenty_times_while_spooling_and_draining_loses_nothing() {
    let chunks = Arc::new(corpus(6, 50));
    let fake = FakeAws::start().await;
    fake.with(|st| st.random_faults(0.01, 11));
    let mut proxy = start(&fake).await;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(400);
    let acked = Arc::new(AtomicUsize::new(0));
    let driver = tokio::spawn(drive(
        proxy.addr,
        chunks.clone(),
        2,
        Duration::from_millis(50),
        10_000,
        deadline,
        acked.clone(),
        Duration::ZERO,
    ));
    let kills = 20;
    let mut rng = fastrand::Rng::with_seed(20);
    let mut peak: f64 = 0.0;
    for k in 0..kills {
        // Even kills while AWS is down (entries only pile up in the spool),
        // odd ones while it is up (the drains are delivering).
        let down = k % 2 == 0;
        fake.with(|st| {
            st.firehose_down = down;
            st.logs_down = down;
        });
        tokio::time::sleep(Duration::from_millis(rng.u64(100..600))).await;
        peak = peak.max(proxy.peak_rss_mib().unwrap());
        proxy.kill().unwrap();
        proxy.restart().await.unwrap();
    }
    fake.with(|st| {
        st.firehose_down = false;
        st.logs_down = false;
    });
    let driven = driver.await.unwrap().unwrap();
    assert!(driven.connection_errors > 0, "the kills were felt");
    let t = wait_delivered(&fake, &chunks, &[STREAM], deadline).await;
    let rss = report(
        &format!("SIGKILL {kills} times at random moments, half while AWS was down, restarted"),
        &t,
        &proxy,
        started.elapsed().as_secs_f64(),
    )
    .max(peak);
    assert!(proxy.alive());
    assert_eq!((t.lost, t.errors_lost), (0, 0), "records lost");
    assert!(t.duplicates <= kills * KILL_WINDOW_LINES, "{} duplicates", t.duplicates);
    assert!(rss < RSS_BOUND_MIB, "peak RSS {rss} MiB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_spool_answers_429_and_loses_nothing_once_space_returns() {
    // A small spool: 8 MiB, 1 MiB segments, 1 MiB bodies; ~12 MB of chunks.
    let cfg = ConfigFile::new(
        "full",
        "[ingest]\nmax_body_bytes = 1048576\nmax_decoded_bytes = 1048576\n\
         [spool]\nsegment_bytes = 1048576\nmax_bytes = 8388608\n",
    );
    let chunks = Arc::new(corpus(2, 100));
    let fake = FakeAws::start().await;
    fake.with(|st| {
        st.firehose_down = true;
        st.logs_down = true;
    });
    let proxy = start_with(&fake, &["--config", cfg.path()]).await;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(240);
    let driver = tokio::spawn(drive(
        proxy.addr,
        chunks.clone(),
        2,
        Duration::from_millis(100),
        10_000,
        deadline,
        Default::default(),
        Duration::ZERO,
    ));
    // Until the spool has refused chunks for a while: Fluent Bit keeps them.
    let full = loop {
        let m = proxy.metrics().await.unwrap();
        let full = sink_proxy::metrics::sample(&m, "sink_proxy_spool_full_total");
        if full >= 20 || Instant::now() > deadline {
            break full;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(full >= 20, "the spool filled up");
    let used = sink_proxy::metrics::sample(&proxy.metrics().await.unwrap(), "sink_proxy_spool_bytes");
    assert!(used <= 8 << 20, "{used} bytes: over the limit");
    fake.with(|st| {
        st.firehose_down = false;
        st.logs_down = false;
    });
    let driven = driver.await.unwrap().unwrap();
    assert!(driven.retried >= 20, "429s were sent again, as Fluent Bit does");
    let t = wait_delivered(&fake, &chunks, &[STREAM], deadline).await;
    report(
        "spool full (8 MiB) during an outage: 429s, then space returns",
        &t,
        &proxy,
        started.elapsed().as_secs_f64(),
    );
    let m = proxy.metrics().await.unwrap();
    assert!(sink_proxy::metrics::sample(&m, r#"sink_proxy_requests_total{code="429"}"#) >= 20);
    assert_eq!((t.lost, t.errors_lost, t.duplicates, t.error_duplicates), (0, 0, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_spool_still_starts_and_delivers_every_intact_acknowledged_chunk() {
    use sink_proxy::spool::frame;
    let cfg = ConfigFile::new("reliability-damage", "[spool]\nsegment_bytes = 65536\n");
    let chunks = Arc::new(corpus(1, 100));
    let fake = FakeAws::start().await;
    fake.with(|st| {
        st.firehose_down = true;
        st.logs_down = true;
    });
    let mut proxy = start_with(&fake, &["--config", cfg.path()]).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    // One sender, every chunk accepted at once: Firehose entry k is chunk k.
    let driven = drive(
        proxy.addr,
        chunks.clone(),
        1,
        Duration::from_millis(100),
        1,
        deadline,
        Default::default(),
        Duration::ZERO,
    )
    .await
    .unwrap();
    assert_eq!(driven.posts, chunks.len());
    proxy.kill().unwrap();

    // The Firehose queue's entries, in order: (segment file, offset, length).
    let dir = proxy.spool_dir.clone().unwrap().join("firehose");
    let mut segments: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    segments.sort();
    let mut entries = Vec::new();
    for seg in &segments {
        let bytes = std::fs::read(seg).unwrap();
        let mut at = 0;
        while let Some(h) = frame::intact(&bytes[at..]) {
            entries.push((seg.clone(), at, h.frame_len()));
            at += h.frame_len();
        }
        assert_eq!(at, bytes.len());
    }
    assert_eq!(entries.len(), chunks.len());
    // Flipped bytes in entry 5; segment of entry 20 cut in its middle (the
    // rest of that segment is gone); half an entry torn at the very end.
    let mut lost: Vec<usize> = vec![5];
    let (seg5, at5, _) = &entries[5];
    let mut b = std::fs::read(seg5).unwrap();
    b[at5 + frame::HEADER + 10] ^= 0x20;
    std::fs::write(seg5, b).unwrap();
    let (seg20, at20, len20) = entries[20].clone();
    assert_ne!(&seg20, seg5);
    let f = std::fs::OpenOptions::new().write(true).open(&seg20).unwrap();
    f.set_len((at20 + len20 / 2) as u64).unwrap();
    lost.extend((20..entries.len()).filter(|&k| entries[k].0 == seg20));
    let last = segments.last().unwrap();
    assert_ne!(last, &seg20);
    let mut tail = std::fs::OpenOptions::new().append(true).open(last).unwrap();
    std::io::Write::write_all(&mut tail, &std::fs::read(seg5).unwrap()[..40]).unwrap();

    fake.with(|st| {
        st.firehose_down = false;
        st.logs_down = false;
    });
    proxy.restart().await.unwrap();
    let intact: Vec<Chunk> = chunks
        .iter()
        .enumerate()
        .filter(|(k, _)| !lost.contains(k))
        .map(|(_, c)| Chunk {
            tag: c.tag.clone(),
            body: Vec::new(),
            lines: c.lines.clone(),
            errors: c.errors,
            encoding: c.encoding,
        })
        .collect();
    let t = wait_delivered(&fake, &intact, &[STREAM], deadline).await;
    assert!(proxy.alive(), "the proxy runs on a damaged spool");
    assert_eq!((t.lost, t.duplicates), (0, 0), "every intact acknowledged chunk, once");
    // The damaged entries' lines are the only ones missing from Firehose
    // (their errors still reach CloudWatch: that queue was intact).
    let delivered = fake.with(|st| st.firehose_lines(STREAM).len());
    let expected: usize = intact.iter().map(|c| c.lines.len()).sum();
    assert_eq!(delivered, expected, "{} damaged entries lost", lost.len());
    let all_errors = tally(&fake, &chunks);
    assert_eq!(all_errors.errors_lost, 0);
    let m = proxy.metrics().await.unwrap();
    assert!(sink_proxy::metrics::sample(&m, r#"sink_proxy_spool_damaged_bytes_total{destination="firehose"}"#) > 0);
    assert_eq!(sink_proxy::metrics::sample(&m, "sink_proxy_spool_torn_bytes_total"), 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_firehose_stream_does_not_stop_the_other() {
    let chunks = Arc::new(corpus(1, 100));
    let fake = FakeAws::start().await;
    fake.with(|st| {
        st.throttled_streams.insert("logs-a".into());
    });
    let mut proxy = ProxyProcess::start(
        &fake.endpoint,
        &["--log-group", GROUP, "--delivery-stream", "logs-a,logs-b"],
    )
    .await
    .unwrap();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(120);
    drive(
        proxy.addr,
        chunks.clone(),
        2,
        Duration::from_millis(100),
        1_000,
        deadline,
        Default::default(),
        Duration::ZERO,
    )
    .await
    .unwrap();
    let t = wait_delivered(&fake, &chunks, &["logs-a", "logs-b"], deadline).await;
    report(
        "Firehose stream logs-a throttled throughout, logs-b not",
        &t,
        &proxy,
        started.elapsed().as_secs_f64(),
    );
    assert!(proxy.alive());
    assert_eq!((t.lost, t.duplicates, t.errors_lost), (0, 0, 0));
    assert!(fake.with(|st| st.records.iter().all(|(s, _)| s == "logs-b")));
    let m = proxy.metrics().await.unwrap();
    assert!(sink_proxy::metrics::sample(&m, r#"sink_proxy_firehose_stream_throttles_total{stream="logs-a"}"#) > 0);
    assert_eq!(
        sink_proxy::metrics::sample(&m, r#"sink_proxy_firehose_stream_throttles_total{stream="logs-b"}"#),
        0
    );
}

/// The suite runs the binary the image ships: in CI, scripts/test.sh sets
/// SINK_PROXY_BIN to what scripts/image_check.py built from the image's
/// build context (target/image/sink-proxy).
#[test]
fn the_suite_runs_the_shipped_binary() {
    let bin = test_support::process::sink_proxy_bin().unwrap();
    println!("reliability suite: {}", bin.display());
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        assert!(
            std::env::var_os(test_support::process::BIN_ENV).is_some() && bin.ends_with("image/sink-proxy"),
            "CI runs the image's sink-proxy, not {}",
            bin.display()
        );
    }
    let out = std::process::Command::new(&bin).arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("sink-proxy "));
}
