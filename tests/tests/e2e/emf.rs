//! The binary's metrics as CloudWatch Embedded Metric Format on stdout:
//! valid EMF, and counters written as gains that add up to the totals.

use local_aws::fake::FakeAws;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use test_support::fluent_bit::{Chunk, post_chunk};
use test_support::process::{Extra, ProxyProcess};
use test_support::receiver::{Answer, Receiver};

/// Fluent Bit 4.2.2's /api/v1/metrics with the include in place, after 100
/// records of which 30 were health checks.
const FLUENT_BIT_METRICS: &str = include_str!("../../../sink-proxy/tests/fixtures/fluent-bit-4.2.2-metrics.json");

fn lines(marked: usize, total: usize) -> Vec<String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    (0..total)
        .map(|i| {
            let mut v = json!({"date": now, "container_name": "web", "log": format!("line {i}")});
            if i < marked {
                v["log_class"] = json!("error");
            }
            v.to_string()
        })
        .collect()
}

fn sum(emf: &[Value], dimension: Option<(&str, &str)>, name: &str) -> f64 {
    emf.iter()
        .filter(|v| match dimension {
            Some((k, val)) => v[k] == val,
            None => v.get("Destination").is_none() && v.get("AlertDestination").is_none(),
        })
        .filter_map(|v| v[name].as_f64())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_reach_stdout_as_emf_and_add_up() {
    let fake = FakeAws::start().await;
    // Fluent Bit's HTTP server, answering as 4.2.2 did.
    let fluent_bit = Receiver::start(Answer::Json(FLUENT_BIT_METRICS)).await.unwrap();
    let out = std::env::temp_dir().join(format!("emf-{}.out", std::process::id()));
    let _ = std::fs::remove_file(&out);
    let mut proxy = ProxyProcess::start_extra(
        &fake.endpoint,
        &["--log-group", "/ecs/errors", "--delivery-stream", "logs"],
        Extra {
            env: vec![
                ("SINK_PROXY_EMF_INTERVAL_SECS".into(), "1".into()),
                ("SINK_PROXY_EMF_NAMESPACE".into(), "FireLens/test".into()),
                (
                    "SINK_PROXY_FLUENT_BIT_METRICS_URL".into(),
                    fluent_bit.url("/api/v1/metrics"),
                ),
            ],
            stdout: Some(out.clone()),
            ..Extra::default()
        },
    )
    .await
    .unwrap();
    for _ in 0..3 {
        let c = Chunk::json_lines("web-firelens-1", lines(2, 10), 2).unwrap();
        assert_eq!(post_chunk(proxy.addr, &c).await.map(|r| r.status), Some(200));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while fake.with(|s| s.firehose_lines("logs").len()) < 30 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // At least two line sets on stdout, then SIGTERM writes the last gains.
    let global_lines = |text: &str| text.lines().filter(|l| !l.contains("\"Destination\"")).count();
    let deadline = Instant::now() + Duration::from_secs(20);
    while global_lines(&std::fs::read_to_string(&out).unwrap_or_default()) < 2 {
        assert!(Instant::now() < deadline, "no EMF lines on stdout");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    proxy.terminate(Duration::from_secs(30)).unwrap();
    let text = std::fs::read_to_string(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    let emf: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let sets = emf
        .iter()
        .filter(|v| v.get("Destination").is_none() && v.get("AlertDestination").is_none())
        .count();
    assert!(sets >= 3, "a line set per second and one at exit:\n{text}");
    for v in &emf {
        let d = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(d["Namespace"], "FireLens/test");
        for m in d["Metrics"].as_array().unwrap() {
            assert!(v[m["Name"].as_str().unwrap()].is_number());
        }
    }
    // The EMF specification's schema, checked by jsonschema (in .venv).
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut check = std::process::Command::new(root.join("../.venv/bin/python"))
        .arg(root.join("emf/validate.py"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run scripts/python-env.sh first");
    use std::io::Write;
    check.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = check.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("{} EMF lines valid", emf.len())));
    assert_eq!(sum(&emf, None, "RecordsIn"), 30.0);
    assert_eq!(sum(&emf, None, "ErrorsMarked"), 6.0, "{text}");
    assert_eq!(sum(&emf, Some(("Destination", "firehose")), "DeliveredRecords"), 30.0);
    assert_eq!(
        sum(&emf, Some(("Destination", "cloudwatch_logs")), "DeliveredRecords"),
        6.0
    );
    assert!(
        emf.iter().all(|v| v.get("AlertDestination").is_none()),
        "no alert destination configured"
    );
    // Fluent Bit's counters, read at each interval, written as gains: the
    // same answer every time, so they add up to it once.
    assert!(fluent_bit.received("/api/v1/metrics").len() >= 3);
    assert_eq!(sum(&emf, None, "HealthChecksDropped"), 30.0, "{text}");
    assert_eq!(sum(&emf, None, "RouterRecordsIn"), 100.0);
    assert_eq!(sum(&emf, None, "RouterRecordsOut"), 70.0);
    assert_eq!(sum(&emf, None, "RouterRecordsDropped"), 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_fluent_bits_counters_the_router_metrics_are_left_out() {
    let fake = FakeAws::start().await;
    let gone = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let out = std::env::temp_dir().join(format!("emf-nofb-{}.out", std::process::id()));
    let log = std::env::temp_dir().join(format!("emf-nofb-{}.log", std::process::id()));
    let _ = (std::fs::remove_file(&out), std::fs::remove_file(&log));
    let mut proxy = ProxyProcess::start_extra(
        &fake.endpoint,
        &["--delivery-stream", "logs"],
        Extra {
            env: vec![
                ("SINK_PROXY_EMF_INTERVAL_SECS".into(), "1".into()),
                (
                    "SINK_PROXY_FLUENT_BIT_METRICS_URL".into(),
                    format!("http://{gone}/api/v1/metrics"),
                ),
                ("SINK_PROXY_LOG".into(), "warn".into()),
            ],
            stdout: Some(out.clone()),
            log: Some(log.clone()),
            ..Extra::default()
        },
    )
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::fs::read_to_string(&out).unwrap_or_default().lines().count() < 2 {
        assert!(Instant::now() < deadline, "no EMF lines on stdout");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    proxy.terminate(Duration::from_secs(30)).unwrap();
    let text = std::fs::read_to_string(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    assert!(text.contains("\"RecordsIn\""), "{text}");
    assert!(
        !text.contains("HealthChecksDropped") && !text.contains("Router"),
        "{text}"
    );
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(
        log.matches("cannot read Fluent Bit's counters").count(),
        1,
        "said once, not at every interval: {log}"
    );
    let _ = std::fs::remove_file(std::env::temp_dir().join(format!("emf-nofb-{}.log", std::process::id())));
}
