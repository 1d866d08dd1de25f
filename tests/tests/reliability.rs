//! Proven reliability: the sink-proxy binary, a fault-injecting AWS
//! stand-in, and a driver that replays the shared corpus as Fluent Bit
//! would (chunks per tag, sent again until accepted). Delivered records are
//! compared with sent records: none lost, duplicates only from a kill
//! window, no crash, memory bounded. Loopback only; every loop is bounded.
//!
//! The outages last `RELIABILITY_OUTAGE_SECS` (default 60) each.

use firelens_e2e::harness::{Chunk, ProxyProcess, corpus_chunks, drive};
use local_aws::fake::FakeAws;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const STREAM: &str = "logs";
const GROUP: &str = "/ecs/errors";
/// Peak RSS the proxy must stay under in every scenario (MiB).
const RSS_BOUND_MIB: f64 = 128.0;

/// The binary with both destinations and the default limits.
async fn start(fake: &FakeAws) -> ProxyProcess {
    ProxyProcess::start(&fake.endpoint, &["--log-group", GROUP, "--delivery-stream", STREAM])
        .await
        .unwrap()
}

fn corpus(rounds: usize, lines_per_chunk: usize) -> Vec<Chunk> {
    let dir = std::env::temp_dir().join(format!("reliability-{}-{rounds}", std::process::id()));
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
    fake.with(|st| {
        assert!(st.violations.is_empty(), "AWS limits broken: {:?}", st.violations);
        let mut got: HashMap<&str, usize> = HashMap::new();
        for l in st.records.iter().filter(|(s, _)| s == STREAM).flat_map(|(_, d)| {
            assert!(d.ends_with(b"\n"));
            std::str::from_utf8(d).unwrap().lines()
        }) {
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
    let deadline = started + outage * 2 + Duration::from_secs(180);
    let acked = Arc::new(AtomicUsize::new(0));
    let driver = tokio::spawn(drive(
        proxy.addr,
        chunks.clone(),
        2,
        Duration::from_millis(200),
        1_000,
        deadline,
        acked.clone(),
    ));
    let n = chunks.len();
    // Throttling bursts, 5xx, failed records and slow answers throughout;
    // Firehose down for a while, then CloudWatch.
    wait_for(&acked, n / 10, deadline).await;
    fake.with(|st| st.firehose_down = true);
    tokio::time::sleep(outage).await;
    fake.with(|st| st.firehose_down = false);
    wait_for(&acked, acked.load(Ordering::Relaxed) + n / 10, deadline).await;
    fake.with(|st| st.logs_down = true);
    tokio::time::sleep(outage).await;
    fake.with(|st| st.logs_down = false);
    let driven = driver.await.unwrap().unwrap();
    assert!(proxy.alive(), "the proxy crashed");
    assert!(driven.retried > 0, "the faults were felt");
    let t = tally(&fake, &chunks);
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
    let chunks = Arc::new(corpus(15, 50));
    let fake = FakeAws::start().await;
    fake.with(|st| {
        st.random_faults(0.05, 9);
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
    let t = tally(&fake, &chunks);
    let rss = report(
        "SIGKILL twice mid-stream, restarted",
        &t,
        &proxy,
        started.elapsed().as_secs_f64(),
    )
    .max(peak);
    assert_eq!((t.lost, t.errors_lost), (0, 0), "records lost");
    // Only chunks in flight at a kill can be sent twice: 2 kills x 2 workers.
    assert!(t.duplicates <= 2 * 2 * 50, "{} duplicates", t.duplicates);
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
    ));
    // Hostile bodies, several times each, while the real traffic flows.
    let gz = |data: &[u8]| {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    };
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
    let t = tally(&fake, &chunks);
    let rss = report(
        "hostile input beside real traffic",
        &t,
        &proxy,
        started.elapsed().as_secs_f64(),
    );
    assert_eq!((t.lost, t.errors_lost, t.duplicates), (0, 0, 0));
    let big_delivered = fake.with(|st| {
        st.records
            .iter()
            .flat_map(|(_, d)| {
                std::str::from_utf8(d)
                    .unwrap()
                    .lines()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .filter(|l| l.contains("big body line"))
            .count()
    });
    assert_eq!(big_delivered, 3 * 16_000, "the 6 MiB bodies' records, each time");
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
    let chunks = Arc::new(corpus(12, 2_600));
    let fake = FakeAws::start().await;
    fake.with(|st| st.delay_all = Some(Duration::from_secs(1)));
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
    )
    .await
    .unwrap();
    assert!(proxy.alive());
    let t = tally(&fake, &chunks);
    let rss = report(
        "sustained overload: 32 senders of ~1 MB chunks, default limits (8 admitted), AWS answering in 1 s",
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
