//! Delivery against moto's server (real AWS APIs, locally): errors land in
//! the right group and stream with the right message shape, groups and
//! streams are created on demand, and the S3 objects Firehose writes hold
//! exactly the lines sent, each newline-terminated.

use crate::support;

use local_aws::Moto;
use serde_json::{Value, json};
use support::{RunningProxy, now_secs, post, post_chunk, sdk_config};

const BUCKET: &str = "firelens-archive";
const STREAM: &str = "app-logs";
const GROUP: &str = "/ecs/app-errors";

async fn log_events(sdk: &aws_config::SdkConfig, stream: &str) -> Vec<(i64, String)> {
    local_aws::log_events(sdk, GROUP, stream).await.unwrap()
}

fn record(t: f64, container: &str, log: &str, error: bool) -> Value {
    let mut r = json!({
        "date": t,
        "container_id": "0123456789abcdef",
        "container_name": container,
        "source": "stdout",
        "log": log,
        "ecs_cluster": "prod",
        "ecs_task_arn": "arn:aws:ecs:eu-west-1:123456789012:task/prod/0f1e2d3c",
        "ecs_task_definition": "web:42",
    });
    if error {
        r["log_class"] = json!("error");
    }
    r
}

/// What CloudWatch should hold for an error record: the record without the
/// ECS keys (the default message shape) and the time key (the event's time).
fn cw_message(r: &Value) -> String {
    let mut m = r.as_object().unwrap().clone();
    m.retain(|k, _| !["ecs_cluster", "ecs_task_arn", "ecs_task_definition", "date"].contains(&k.as_str()));
    Value::Object(m).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_reach_s3_through_firehose_and_errors_reach_cloudwatch() {
    records_reach_their_destinations(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_the_spool_records_reach_s3_and_errors_reach_cloudwatch() {
    records_reach_their_destinations(true).await;
}

async fn records_reach_their_destinations(spooled: bool) {
    let moto = Moto::start().await.unwrap();
    let sdk = sdk_config(&moto.endpoint).await;
    local_aws::create_archive(&sdk, BUCKET, STREAM).await.unwrap();
    let args = [
        "--log-group",
        GROUP,
        "--log-stream",
        "ecs/{container_name}",
        "--delivery-stream",
        STREAM,
    ];
    let file = "[cloudwatch]\nretention_days = 7\n";
    let proxy = if spooled {
        support::start_spooled(&args, file, &sdk).await
    } else {
        support::start(&args, file, &sdk).await
    };

    let t0 = now_secs() - 60.0;
    let mut sent: Vec<Value> = Vec::new();
    // 1. json_lines + gzip, as the shipped Fluent Bit settings send them,
    //    with unicode, an escaped newline and a bad line among good ones.
    let web: Vec<Value> = (0..300)
        .map(|i| {
            let log = match i % 10 {
                0 => format!("2026-11-25 10:00:{:02} ERROR request {i} failed: エラー 🚨", i % 60),
                5 => format!("10.0.1.{i} - - \"GET /api/{i} HTTP/1.1\" 503 12"),
                _ => format!("GET /api/{i} 200 \"line\nwith newline\""),
            };
            record(t0 + f64::from(i) * 0.01, "web", &log, i % 5 == 0)
        })
        .collect();
    let mut lines: Vec<String> = web.iter().map(Value::to_string).collect();
    lines.insert(150, r#"{"log":"truncated"#.to_owned());
    let a = post_chunk(proxy.addr, "web-firelens-0f1e2d3c", &lines).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body.trim(), r#"{"records":300,"errors":60,"dead_letters":1}"#);
    sent.extend(web.iter().cloned());

    // 2. a json array, uncompressed, from another container.
    let worker: Vec<Value> = (0..20)
        .map(|i| record(t0 + 5.0 + f64::from(i), "worker", &format!("job {i} FATAL"), i % 2 == 0))
        .collect();
    let a = post(
        proxy.addr,
        "/",
        &[
            ("Content-Type", "application/json"),
            ("X-Fluent-Tag", "worker-firelens-9"),
        ],
        serde_json::to_vec(&worker).unwrap(),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    sent.extend(worker.iter().cloned());

    // 3. msgpack ([[time, meta], map] events), as `format msgpack` sends.
    let mut body = Vec::new();
    let mp_records: Vec<Value> = (0..5)
        .map(|i| json!({"container_name": "worker", "log": format!("msgpack {i}"), "log_class": "error"}))
        .collect();
    for (i, r) in mp_records.iter().enumerate() {
        let secs = (t0 + 10.0) as i64 + i as i64;
        let fields: Vec<(rmpv::Value, rmpv::Value)> = r
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (rmpv::Value::from(k.as_str()), rmpv::Value::from(v.as_str().unwrap())))
            .collect();
        let event = rmpv::Value::Array(vec![rmpv::Value::from(secs), rmpv::Value::Map(fields)]);
        rmpv::encode::write_value(&mut body, &event).unwrap();
    }
    let a = post(
        proxy.addr,
        "/",
        &[
            ("Content-Type", "application/msgpack"),
            ("X-Fluent-Tag", "worker-firelens-9"),
        ],
        body,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    // Archived as json_lines would carry them: the event's time as `date` first.
    sent.extend(mp_records.iter().enumerate().map(|(i, r)| {
        let mut line = serde_json::Map::new();
        line.insert("date".into(), json!(((t0 + 10.0) as i64 + i as i64) as f64));
        line.extend(r.as_object().unwrap().clone());
        Value::Object(line)
    }));
    proxy.drained(std::time::Duration::from_secs(60)).await.unwrap();

    // S3: exactly the lines sent (each newline-terminated), plus one dead letter.
    let objects: Vec<Vec<u8>> = local_aws::s3_objects(&sdk, BUCKET)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, data)| data)
        .collect();
    assert!(!objects.is_empty());
    let mut got: Vec<String> = Vec::new();
    for o in &objects {
        assert!(o.ends_with(b"\n"), "every S3 object ends with a newline");
        got.extend(String::from_utf8(o.clone()).unwrap().lines().map(str::to_owned));
    }
    let (dead, mut got): (Vec<String>, Vec<String>) = got.into_iter().partition(|l| l.contains("\"sink_proxy_error\""));
    let mut want: Vec<String> = sent.iter().map(Value::to_string).collect();
    got.sort();
    want.sort();
    let missing: Vec<&String> = want.iter().filter(|l| !got.contains(l)).take(3).collect();
    let extra: Vec<&String> = got.iter().filter(|l| !want.contains(l)).take(3).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}\nextra {extra:?}"
    );
    assert_eq!(got, want, "S3 holds exactly the records sent, each once");
    assert_eq!(dead.len(), 1);
    let dl: Value = serde_json::from_str(&dead[0]).unwrap();
    assert_eq!(dl["raw"], r#"{"log":"truncated"#);
    assert_eq!(dl["tag"], "web-firelens-0f1e2d3c");
    // Packing: 325 lines travel in few Firehose records (one per call here).
    let fh_records = proxy.metric("sink_proxy_firehose_records_total");
    assert!(fh_records <= 4, "{fh_records} Firehose records for 326 lines");

    // CloudWatch: created on demand, retention set, one stream per container,
    // messages without the ECS keys, in time order.
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk);
    let groups = logs
        .describe_log_groups()
        .log_group_name_prefix(GROUP)
        .send()
        .await
        .unwrap();
    assert_eq!(groups.log_groups()[0].retention_in_days(), Some(7));
    let streams = logs.describe_log_streams().log_group_name(GROUP).send().await.unwrap();
    let mut names: Vec<&str> = streams
        .log_streams()
        .iter()
        .filter_map(|s| s.log_stream_name())
        .collect();
    names.sort();
    assert_eq!(names, ["ecs/web", "ecs/worker"]);
    let want_web: Vec<(i64, String)> = web
        .iter()
        .filter(|r| r.get("log_class").is_some())
        .map(|r| ((r["date"].as_f64().unwrap() * 1000.0).round() as i64, cw_message(r)))
        .collect();
    assert_eq!(want_web.len(), 60);
    assert_eq!(log_events(&sdk, "ecs/web").await, want_web);
    let worker_events = log_events(&sdk, "ecs/worker").await;
    assert_eq!(worker_events.len(), 10 + 5);
    assert!(worker_events.iter().any(|(_, m)| m == &cw_message(&worker[0])));
    assert!(worker_events.iter().any(|(_, m)| m.contains("msgpack 4")));
    assert!(worker_events.windows(2).all(|w| w[0].0 <= w[1].0));

    let m = proxy.proxy.metrics.render();
    assert_eq!(sink_proxy::metrics::sample(&m, "sink_proxy_records_in_total"), 326);
    assert_eq!(
        sink_proxy::metrics::sample(&m, r#"sink_proxy_dead_letter_records_total{reason="unparseable"}"#),
        1
    );
    assert_eq!(
        sink_proxy::metrics::sample(
            &m,
            r#"sink_proxy_delivered_records_total{destination="cloudwatch_logs"}"#
        ),
        75
    );
    proxy.shutdown().await.unwrap();
}

/// Posts an error 20 days old and a fresh one: only the fresh one reaches
/// CloudWatch.
async fn post_ancient_and_fresh(proxy: &RunningProxy, sdk: &aws_config::SdkConfig) {
    let old = now_secs() - 20.0 * 86400.0;
    let lines = vec![
        record(old, "web", "ERROR ancient", true).to_string(),
        record(now_secs(), "web", "ERROR fresh", true).to_string(),
    ];
    let a = post_chunk(proxy.addr, "web-firelens-1", &lines).await;
    assert_eq!(a.status, 200, "{}", a.body);
    proxy.drained(std::time::Duration::from_secs(60)).await.unwrap();
    let events = log_events(sdk, "web-firelens-1").await;
    assert_eq!(events.len(), 1);
    assert!(events[0].1.contains("ERROR fresh"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_aws_rejects_as_too_old_are_counted_not_retried() {
    let moto = Moto::start().await.unwrap();
    let sdk = sdk_config(&moto.endpoint).await;
    let proxy = support::start(&["--log-group", GROUP], "", &sdk).await;
    post_ancient_and_fresh(&proxy, &sdk).await;
    assert_eq!(
        proxy.metric(r#"sink_proxy_cloudwatch_rejected_events_total{reason="too_old_or_expired"}"#),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spooled_events_past_what_cloudwatch_accepts_are_dead_lettered_not_lost() {
    let moto = Moto::start().await.unwrap();
    let sdk = sdk_config(&moto.endpoint).await;
    local_aws::create_archive(&sdk, BUCKET, STREAM).await.unwrap();
    let proxy = support::start_spooled(&["--log-group", GROUP, "--delivery-stream", STREAM], "", &sdk).await;
    post_ancient_and_fresh(&proxy, &sdk).await;
    assert_eq!(
        proxy.metric(r#"sink_proxy_dead_letter_records_total{reason="expired"}"#),
        1
    );
    // In S3: both records, and the expired event as a dead letter.
    let lines: Vec<String> = local_aws::s3_objects(&sdk, BUCKET)
        .await
        .unwrap()
        .into_iter()
        .flat_map(|(_, d)| {
            String::from_utf8(d)
                .unwrap()
                .lines()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    let dead: Vec<&String> = lines.iter().filter(|l| l.contains("sink_proxy_error")).collect();
    assert_eq!(dead.len(), 1, "{lines:?}");
    assert!(dead[0].contains("expired") && dead[0].contains("ERROR ancient"));
    assert_eq!(lines.len(), 3);
}
