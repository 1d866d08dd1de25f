//! Delivery under faults, against a fake AWS endpoint that injects them and
//! checks every request limit: records in = records out, no duplicates
//! after a chunk retry, retries bounded.

use crate::support;

use local_aws::fake::{FakeAws, Fault};
use serde_json::{Value, json};
use sink_proxy::cloudwatch::batch::{continues_suffix, rejoin};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use support::{RunningProxy, now_secs, post_chunk, sdk_config};

const GROUP: &str = "/ecs/errors";
const STREAM: &str = "logs";
/// Small records (many per chunk) and a short retry budget, so every path
/// is exercised quickly.
const SETTINGS: &str = "
[delivery]
max_attempts = 4
max_retry_secs = 3
attempt_timeout_secs = 1
";

async fn start(fake: &FakeAws, extra: &str) -> RunningProxy {
    start_with(fake, "max_record_bytes = 2048", extra).await
}

/// `firehose` holds the keys of the `[firehose]` table.
async fn start_with(fake: &FakeAws, firehose: &str, extra: &str) -> RunningProxy {
    let sdk = sdk_config(&fake.endpoint).await;
    support::start(
        &[
            "--log-group",
            GROUP,
            "--log-stream",
            "{container_name}",
            "--delivery-stream",
            STREAM,
        ],
        &format!("[firehose]\n{firehose}\n{SETTINGS}{extra}"),
        &sdk,
    )
    .await
}

/// `n` records, every third one marked as an error; the marked ones cycle
/// through `containers`.
fn chunk(n: usize, seed: usize, containers: &[&str]) -> Vec<String> {
    let t = now_secs();
    (0..n)
        .map(|i| {
            let mut r = json!({
                "date": t + i as f64 / 1000.0,
                "container_name": containers[(i / 3) % containers.len()],
                "log": format!("chunk {seed} line {i} {}", "x".repeat(i % 50)),
            });
            if i % 3 == 0 {
                r["log_class"] = json!("error");
            }
            r.to_string()
        })
        .collect()
}

fn counts<'a>(items: impl IntoIterator<Item = &'a str>) -> HashMap<&'a str, usize> {
    let mut m = HashMap::new();
    for i in items {
        *m.entry(i).or_default() += 1;
    }
    m
}

/// Every line reached Firehose exactly once, and every marked one reached
/// CloudWatch exactly once; the fake saw no request over an AWS limit.
fn assert_exactly_once(fake: &FakeAws, sent: &[String]) {
    fake.with(|st| {
        assert!(st.violations.is_empty(), "limit violations: {:?}", st.violations);
        let lines = st.firehose_lines(STREAM);
        let got = counts(lines.iter().map(String::as_str));
        let dups: Vec<_> = got.iter().filter(|(_, n)| **n > 1).take(3).collect();
        assert!(dups.is_empty(), "duplicates in Firehose: {dups:?}");
        let missing: Vec<_> = sent.iter().filter(|l| !got.contains_key(l.as_str())).take(3).collect();
        assert!(missing.is_empty(), "missing from Firehose: {missing:?}");
        assert_eq!(lines.len(), sent.len());

        let want_events: Vec<(String, String)> = sent
            .iter()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|r| r["log_class"] == "error")
            .map(|mut r| {
                r.as_object_mut().unwrap().retain(|k, _| k != "date");
                (r["container_name"].as_str().unwrap().to_owned(), r.to_string())
            })
            .collect();
        let got_events = counts(st.events.iter().map(|(_, _, _, m)| m.as_str()));
        assert!(got_events.values().all(|&n| n == 1), "duplicate CloudWatch events");
        assert_eq!(st.events.len(), want_events.len());
        for (stream, message) in &want_events {
            assert!(
                st.events
                    .iter()
                    .any(|(g, s, _, m)| g == GROUP && s == stream && m == message),
                "missing event {message} in {stream}"
            );
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_5xx_and_failed_records_within_the_budget_lose_and_duplicate_nothing() {
    let fake = FakeAws::start().await;
    fake.with(|st| {
        st.firehose_faults = [Fault::Throttle, Fault::FailRecords(vec![0, 2, 5]), Fault::ServerError].into();
        st.logs_faults = [Fault::Throttle, Fault::Unavailable, Fault::ServerError].into();
    });
    let proxy = start(&fake, "").await;
    let sent = chunk(600, 1, &["web", "worker"]);
    let a = post_chunk(proxy.addr, "app-firelens-1", &sent).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_exactly_once(&fake, &sent);
    assert!(proxy.metric(r#"sink_proxy_retries_total{destination="firehose"}"#) >= 3);
    assert!(proxy.metric(r#"sink_proxy_throttles_total{destination="cloudwatch_logs"}"#) >= 1);
    // Packed: 600 lines in far fewer records.
    let records = proxy.metric("sink_proxy_firehose_records_total");
    assert!((10..100).contains(&records), "{records} records");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunk_retried_after_partial_success_sends_only_what_was_missing() {
    let fake = FakeAws::start().await;
    let proxy = start(&fake, "").await;
    let sent = chunk(300, 2, &["a", "b", "c"]);

    // CloudWatch down, Firehose up: 503, and Firehose has everything once.
    fake.with(|st| st.logs_down = true);
    let a = post_chunk(proxy.addr, "app-firelens-2", &sent).await;
    assert_eq!(a.status, 503, "{}", a.body);
    assert_eq!(fake.with(|st| st.firehose_lines(STREAM).len()), 300);

    // Fluent Bit sends the same chunk again once CloudWatch is back; the
    // first stream's call succeeds, the second's fails for good this time.
    fake.with(|st| {
        st.logs_down = false;
        st.logs_faults = [
            Fault::Pass,
            Fault::Unavailable,
            Fault::Unavailable,
            Fault::Unavailable,
            Fault::Unavailable,
        ]
        .into();
    });
    let a = post_chunk(proxy.addr, "app-firelens-2", &sent).await;
    assert_eq!(a.status, 503, "{}", a.body);
    assert_eq!(fake.with(|st| st.events.len()), 34, "stream a's 34 events, once");

    // And once more: only stream b's and c's events go out now.
    let a = post_chunk(proxy.addr, "app-firelens-2", &sent).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_exactly_once(&fake, &sent);
    assert!(proxy.metric(r#"sink_proxy_skipped_parts_total{destination="firehose"}"#) > 0);
    assert_eq!(
        proxy.metric(r#"sink_proxy_skipped_parts_total{destination="cloudwatch_logs"}"#),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firehose_records_that_keep_failing_are_the_only_ones_sent_again() {
    let fake = FakeAws::start().await;
    let proxy = start(&fake, "").await;
    let sent = chunk(400, 3, &["web"]);
    // Records 1 and 4 of the call fail, and then fail on every retry (where
    // they are the only two records sent).
    fake.with(|st| {
        st.firehose_faults = [
            Fault::FailRecords(vec![1, 4]),
            Fault::FailRecords(vec![0, 1]),
            Fault::FailRecords(vec![0, 1]),
            Fault::FailRecords(vec![0, 1]),
        ]
        .into()
    });
    let a = post_chunk(proxy.addr, "web-firelens-3", &sent).await;
    assert_eq!(a.status, 503, "{}", a.body);
    let before = fake.with(|st| st.records.len());
    let a = post_chunk(proxy.addr, "web-firelens-3", &sent).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        fake.with(|st| st.records.len()) - before,
        2,
        "only the two failed records"
    );
    assert_exactly_once(&fake, &sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_are_bounded_in_count_and_time() {
    let fake = FakeAws::start().await;
    let proxy = start(&fake, "").await;
    fake.with(|st| {
        st.logs_down = true;
        st.firehose_down = true;
    });
    let started = Instant::now();
    let a = post_chunk(proxy.addr, "web-firelens-4", &chunk(10, 4, &["web"])).await;
    assert_eq!(a.status, 503);
    assert!(
        started.elapsed() < Duration::from_secs(3 + 2),
        "{:?}",
        started.elapsed()
    );
    fake.with(|st| {
        assert!(
            st.calls_of("PutRecordBatch") <= 4 + 4,
            "records and dead letters: at most 4 attempts each"
        );
        assert!(st.calls_of("PutLogEvents") <= 4);
    });
    assert!(proxy.metric(r#"sink_proxy_failures_total{destination="cloudwatch_logs"}"#) >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_answers_time_out_and_are_retried() {
    let fake = FakeAws::start().await;
    let proxy = start(&fake, "").await;
    fake.with(|st| st.logs_faults = [Fault::Slow(Duration::from_secs(3))].into());
    let sent = chunk(30, 5, &["web"]);
    let a = post_chunk(proxy.addr, "web-firelens-5", &sent).await;
    assert_eq!(a.status, 200, "{}", a.body);
    // The slow call landed after the client gave up on it, so AWS holds its
    // events twice: at-least-once, the price of a timeout, and counted.
    fake.with(|st| assert_eq!(st.events.len(), 20));
    assert!(proxy.metric(r#"sink_proxy_retries_total{destination="cloudwatch_logs"}"#) >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_and_streams_are_created_once_and_again_when_deleted() {
    let fake = FakeAws::start().await;
    let proxy = start(&fake, "[cloudwatch]\nretention_days = 14\n").await;
    for i in 0..3 {
        let a = post_chunk(proxy.addr, "web-firelens-6", &chunk(9, 60 + i, &["web"])).await;
        assert_eq!(a.status, 200, "{}", a.body);
    }
    fake.with(|st| {
        assert_eq!(st.calls_of("CreateLogGroup"), 1);
        assert_eq!(
            st.calls_of("CreateLogStream"),
            2,
            "group missing the first time, then cached"
        );
        assert_eq!(st.retention, vec![(GROUP.to_owned(), 14)]);
        st.streams.clear();
    });
    let a = post_chunk(proxy.addr, "web-firelens-6", &chunk(9, 63, &["web"])).await;
    assert_eq!(a.status, 200, "{}", a.body);
    fake.with(|st| {
        assert_eq!(st.calls_of("CreateLogStream"), 3, "recreated after deletion");
        assert_eq!(st.events.len(), 12);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_faults_with_a_retrying_driver_lose_and_duplicate_nothing() {
    let fake = FakeAws::start().await;
    fake.with(|st| {
        st.random_faults(0.3, 7);
    });
    let proxy = start(&fake, "").await;
    let mut all = Vec::new();
    let mut tasks = Vec::new();
    for c in 0..12 {
        let lines = chunk(200, 100 + c, &["web", "worker", "cron"]);
        all.extend(lines.iter().cloned());
        let addr = proxy.addr;
        // Like Fluent Bit: the same chunk again until a 2xx, bounded.
        tasks.push(tokio::spawn(async move {
            for _ in 0..30 {
                if post_chunk(addr, &format!("app-firelens-{c}"), &lines).await.status == 200 {
                    return true;
                }
            }
            false
        }));
    }
    for t in tasks {
        assert!(t.await.unwrap(), "a chunk was never accepted");
    }
    assert_exactly_once(&fake, &all);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_records_and_oversized_events_keep_every_byte() {
    use std::io::Read;
    let fake = FakeAws::start().await;
    let proxy = start_with(
        &fake,
        "gzip = true\nmax_record_bytes = 8192",
        "[cloudwatch]\nmax_event_bytes = 1024\n",
    )
    .await;
    let big = format!("ERROR {}", "エ".repeat(1000));
    let mut sent = chunk(50, 7, &["web"]);
    sent.push(json!({"date": now_secs(), "container_name": "web", "log": big, "log_class": "error"}).to_string());
    let a = post_chunk(proxy.addr, "web-firelens-7", &sent).await;
    assert_eq!(a.status, 200, "{}", a.body);
    fake.with(|st| {
        // Each record is one gzip member; decompressed, exactly the lines.
        let mut lines = Vec::new();
        for (_, data) in &st.records {
            let mut plain = String::new();
            flate2::read::GzDecoder::new(data.as_slice())
                .read_to_string(&mut plain)
                .unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(&data[..data.len().min(200)])));
            assert!(plain.ends_with('\n'));
            lines.extend(plain.lines().map(str::to_owned));
        }
        assert_eq!(lines, sent);
        // The 3 KB event arrives as ordered, marked parts of at most 1024 bytes.
        let parts: Vec<&str> = st
            .events
            .iter()
            .map(|(_, _, _, m)| m.as_str())
            .filter(|m| !m.starts_with("{\"container_name\":\"web\",\"log\":\"chunk"))
            .collect();
        let n = parts.len();
        assert!(n >= 3 && parts.iter().all(|p| p.len() <= 1024));
        // Marked as parts k of n; without the markers, the message.
        let joined = rejoin(parts.iter().copied()).expect("complete, marked parts");
        assert!(parts[0].ends_with(&continues_suffix(1, n)), "{}", parts[0]);
        let mut want: Value = serde_json::from_str(sent.last().unwrap()).unwrap();
        want.as_object_mut().unwrap().retain(|k, _| k != "date");
        assert_eq!(joined, want.to_string());
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_errors_are_retried_then_answered_503() {
    // An endpoint nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sdk = sdk_config(&format!("http://127.0.0.1:{port}")).await;
    let proxy = support::start(&["--delivery-stream", STREAM], SETTINGS, &sdk).await;
    let started = Instant::now();
    let a = post_chunk(proxy.addr, "t", &chunk(5, 8, &["web"])).await;
    assert_eq!(a.status, 503, "{}", a.body);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(proxy.metric(r#"sink_proxy_retries_total{destination="firehose"}"#) >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_is_unready_while_a_destination_fails_and_says_whether_retrying_helps() {
    let fake = FakeAws::start().await;
    let proxy = start(&fake, "").await;
    let sent = chunk(6, 9, &["web"]);
    // Permissions: one attempt, 503 to Fluent Bit, /healthz 503 failing.
    fake.with(|st| st.firehose_faults = [Fault::Denied].into());
    assert_eq!(post_chunk(proxy.addr, "t", &sent).await.status, 503);
    assert_eq!(fake.with(|st| st.calls_of("PutRecordBatch")), 1, "not retried");
    let h = support::get(proxy.addr, "/healthz").await;
    assert_eq!(h.status, 503, "{}", h.body);
    assert!(
        h.body.contains("AccessDeniedException") && h.body.contains("\"firehose\""),
        "{}",
        h.body
    );
    // The container check passes: only the startup check fails it (health.rs).
    assert!(sink_proxy::health::container_healthy(h.status, &h.body));
    // An outage: unavailable, and the container health check passes.
    fake.with(|st| st.firehose_down = true);
    assert_eq!(post_chunk(proxy.addr, "t", &sent).await.status, 503);
    let h = support::get(proxy.addr, "/healthz").await;
    assert_eq!(h.status, 503, "{}", h.body);
    assert!(h.body.contains("\"unavailable\""), "{}", h.body);
    assert!(sink_proxy::health::container_healthy(h.status, &h.body));
    // Recovered.
    fake.with(|st| st.firehose_down = false);
    assert_eq!(post_chunk(proxy.addr, "t", &sent).await.status, 200);
    let h = support::get(proxy.addr, "/healthz").await;
    assert_eq!(
        (h.status, h.body.trim()),
        (200, r#"{"status":"ok","failing":{},"startup":"pending"}"#)
    );
    assert_exactly_once(&fake, &sent);
}
