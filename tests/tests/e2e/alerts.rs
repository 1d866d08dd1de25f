//! Alerts end to end: the sink-proxy binary, the fault-injecting AWS
//! stand-in (or moto, for SNS), and an HTTP receiver on 127.0.0.1 standing
//! in for Slack and a generic webhook. Every wait is bounded.

use local_aws::fake::FakeAws;
use serde_json::{Value, json};
use sink_proxy::metrics::sample;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};
use test_support::driver::drive;
use test_support::fluent_bit::{Chunk, post_chunk};
use test_support::process::{ConfigFile, Extra, ProxyProcess};
use test_support::receiver::{Answer, Received, Receiver};

const STREAM: &str = "logs";
const GROUP: &str = "/ecs/errors";
const TAG: &str = "web-firelens-abc123";
const TASK: &str = "arn:aws:ecs:us-east-1:123456789012:task/shop/abc123";

fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// A FireLens record as the filter leaves an error (marked) or not.
fn line(log: &str, marked: bool) -> String {
    let mut v = json!({"date": now_secs(), "container_name": "web", "ecs_task_arn": TASK, "log": log});
    if marked {
        v["log_class"] = json!("error");
    }
    v.to_string()
}

fn chunk(lines: Vec<String>) -> Chunk {
    let errors = lines.iter().filter(|l| l.contains("\"log_class\"")).count();
    Chunk::json_lines(TAG, lines, errors).unwrap()
}

async fn post(p: &ProxyProcess, c: &Chunk) {
    assert_eq!(post_chunk(p.addr, c).await.map(|r| r.status), Some(200));
}

fn env(pairs: &[(&str, String)]) -> Extra {
    Extra {
        env: pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect(),
        ..Extra::default()
    }
}

async fn start(fake: &FakeAws, extra: Extra, args: &[&str]) -> ProxyProcess {
    let mut all = vec!["--log-group", GROUP, "--delivery-stream", STREAM];
    all.extend_from_slice(args);
    ProxyProcess::start_extra(&fake.endpoint, &all, extra).await.unwrap()
}

fn counts(msgs: &[Received]) -> Vec<u64> {
    msgs.iter()
        .flat_map(|m| {
            m.json()["groups"]
                .as_array()
                .unwrap()
                .iter()
                .map(|g| g["count"].as_u64().unwrap())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The Block Kit limits Slack enforces on what this test receives.
fn assert_block_kit(v: &Value) {
    let blocks = v["blocks"].as_array().expect("blocks");
    assert!(!blocks.is_empty() && blocks.len() <= 50);
    assert!(v["text"].as_str().is_some_and(|t| !t.is_empty()));
    for b in blocks {
        let kind = b["type"].as_str().unwrap();
        assert!(["header", "section", "context", "actions"].contains(&kind), "{kind}");
        if kind == "header" {
            assert!(b["text"]["text"].as_str().unwrap().chars().count() <= 150);
        }
        if kind == "section" {
            assert!(b["text"]["text"].as_str().unwrap().chars().count() <= 3000);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_identical_errors_give_one_message_and_one_digest() {
    let fake = FakeAws::start().await;
    let rx = Receiver::start(Answer::Ok).await.unwrap();
    let mut proxy = start(
        &fake,
        env(&[
            ("SINK_PROXY_ALERT_WEBHOOK_URL", rx.url("/hook")),
            ("SINK_PROXY_SLACK_WEBHOOK_URL", rx.url("/slack")),
            // A window well past the 10 s of sending, even on a loaded machine.
            ("SINK_PROXY_ALERT_WINDOW_SECS", "20".into()),
        ]),
        &[],
    )
    .await;
    // 1,000 errors in 10 s, differing only in their numbers, among other lines.
    let started = Instant::now();
    for c in 0..100 {
        let mut lines: Vec<String> = (0..10)
            .map(|i| line(&format!("ERROR order {} failed after {}ms", c * 10 + i, i * 7), true))
            .collect();
        lines.push(line("GET /cart 200", false));
        post(&proxy, &chunk(lines)).await;
        tokio::time::sleep_until((started + Duration::from_millis(100 * (c + 1))).into()).await;
    }
    let hook = rx.wait_for("/hook", Duration::from_secs(40), |r| r.len() >= 2).await;
    let slack = rx.wait_for("/slack", Duration::from_secs(10), |r| r.len() >= 2).await;
    proxy.terminate(Duration::from_secs(30)).unwrap();
    let hook_after = rx.received("/hook");
    assert_eq!(hook_after.len(), 2, "one immediate message, one digest, nothing else");
    assert_eq!(counts(&hook), vec![1, 999]);
    let (first, digest) = (hook[0].json(), hook[1].json());
    assert_eq!(first["groups"][0]["kind"], "first");
    assert_eq!(first["groups"][0]["container"], "web");
    assert_eq!(first["groups"][0]["task_arn"], TASK);
    assert_eq!(first["groups"][0]["sample"], "ERROR order 0 failed after 0ms");
    assert_eq!(digest["groups"][0]["kind"], "repeats");
    assert_eq!(digest["groups"][0]["summary"], "999 more like this in 20 s");
    assert_eq!(first["groups"][0]["fingerprint"], digest["groups"][0]["fingerprint"]);
    assert!(
        first["groups"][0]["console_url"]
            .as_str()
            .unwrap()
            .contains("log-group/$252Fecs$252Ferrors")
    );
    assert_eq!(slack.len(), 2);
    for m in &slack {
        assert_block_kit(&m.json());
    }
    assert!(
        slack[0].json()["text"]
            .as_str()
            .unwrap()
            .starts_with("New error in web")
    );
    assert!(slack[1].json().to_string().contains("999 more like this in 20 s"));
    // Every record was delivered as well.
    assert_eq!(fake.with(|s| s.firehose_lines(STREAM).len()), 1100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_different_errors_are_fifty_groups_folded_once_the_rate_limit_is_reached() {
    let fake = FakeAws::start().await;
    let rx = Receiver::start(Answer::Ok).await.unwrap();
    let mut proxy = start(&fake, env(&[("SINK_PROXY_ALERT_WEBHOOK_URL", rx.url("/hook"))]), &[]).await;
    let lines = (0..50)
        .map(|i| line(&format!("ERROR {} service unreachable", "ab".repeat(i + 1)), true))
        .collect();
    post(&proxy, &chunk(lines)).await;
    let got = rx
        .wait_for("/hook", Duration::from_secs(20), |r| {
            counts(r).iter().sum::<u64>() >= 50
        })
        .await;
    proxy.terminate(Duration::from_secs(30)).unwrap();
    // The default burst is 5: four single messages, the fifth folds 46 groups.
    assert_eq!(got.len(), 5);
    assert!(got[..4].iter().all(|m| m.json()["folded"] == false));
    assert_eq!(got[4].json()["folded"], true);
    assert_eq!(got[4].json()["groups"].as_array().unwrap().len(), 46);
    let fingerprints: BTreeSet<String> = got
        .iter()
        .flat_map(|m| {
            m.json()["groups"]
                .as_array()
                .unwrap()
                .iter()
                .map(|g| g["fingerprint"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(fingerprints.len(), 50);
    assert_eq!(counts(&rx.received("/hook")).iter().sum::<u64>(), 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_4xx_is_stored_but_does_not_alert() {
    let fake = FakeAws::start().await;
    let rx = Receiver::start(Answer::Ok).await.unwrap();
    let mut proxy = start(&fake, env(&[("SINK_PROXY_ALERT_WEBHOOK_URL", rx.url("/hook"))]), &[]).await;
    post(
        &proxy,
        &chunk(vec![
            line(
                r#"10.0.0.1 - - [29/Nov/2026:10:00:00 +0000] "GET /x HTTP/1.1" 404 12"#,
                true,
            ),
            line(
                r#"10.0.0.1 - - [29/Nov/2026:10:00:01 +0000] "GET /y HTTP/1.1" 503 12"#,
                true,
            ),
        ]),
    )
    .await;
    proxy.terminate(Duration::from_secs(30)).unwrap();
    let got = rx.received("/hook");
    assert_eq!(counts(&got), vec![1]);
    assert!(got[0].json()["groups"][0]["sample"].as_str().unwrap().contains(" 503 "));
    assert_eq!(fake.with(|s| s.messages().count()), 2, "both errors are in CloudWatch");
}

/// Log delivery while the alert destination answers 429, 500 or nothing:
/// every chunk accepted at its first attempt, every record delivered, and
/// the alert failures in the metrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_alert_destination_never_touches_log_delivery() {
    let settings = ConfigFile::new("alerts-failing", "[alerts]\ntimeout_secs = 1\nmax_attempts = 2\n");
    for answer in [
        Answer::TooMany { retry_after_secs: 1 },
        Answer::ServerError,
        Answer::Hang,
    ] {
        let fake = FakeAws::start().await;
        let rx = Receiver::start(answer).await.unwrap();
        let proxy = start(
            &fake,
            env(&[("SINK_PROXY_ALERT_WEBHOOK_URL", rx.url("/hook"))]),
            &["--config", settings.path()],
        )
        .await;
        // 200 chunks of 50 lines, one in ten an error of one of 40 kinds.
        let chunks: Vec<Chunk> = (0..200)
            .map(|c| {
                chunk(
                    (0..50)
                        .map(|i| {
                            let n = c * 50 + i;
                            if n % 10 == 0 {
                                line(&format!("ERROR kind {} broke at {n}", "q".repeat(n % 40 + 1)), true)
                            } else {
                                line(&format!("GET /item/{n} 200"), false)
                            }
                        })
                        .collect(),
                )
            })
            .collect();
        let acked = Arc::new(AtomicUsize::new(0));
        let driven = drive(
            proxy.addr,
            Arc::new(chunks),
            4,
            Duration::from_millis(50),
            20,
            Instant::now() + Duration::from_secs(120),
            acked,
            Duration::ZERO,
        )
        .await
        .unwrap();
        assert_eq!(driven.posts, 200, "{answer:?}");
        assert_eq!(
            driven.retried, 0,
            "{answer:?}: no chunk was refused or slowed into a retry"
        );
        // Drained to the stand-in: nothing lost.
        let deadline = Instant::now() + Duration::from_secs(60);
        while fake.with(|s| s.firehose_lines(STREAM).len()) < 10_000 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(fake.with(|s| s.firehose_lines(STREAM).len()), 10_000, "{answer:?}");
        assert_eq!(fake.with(|s| s.messages().count()), 1_000, "{answer:?}");
        // The alert failures are counted.
        let dropped = r#"sink_proxy_alert_messages_total{destination="webhook",result="dropped"}"#;
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut metrics = proxy.metrics().await.unwrap();
        while sample(&metrics, dropped) == 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
            metrics = proxy.metrics().await.unwrap();
        }
        assert!(sample(&metrics, dropped) >= 1, "{answer:?}\n{metrics}");
        assert_eq!(sample(&metrics, "sink_proxy_alert_errors_total"), 1_000);
        let sent = r#"sink_proxy_alert_messages_total{destination="webhook",result="sent"}"#;
        assert_eq!(sample(&metrics, sent), 0);
        let tries = rx.received("/hook");
        assert!(!tries.is_empty());
        if let Answer::TooMany { retry_after_secs } = answer {
            // The second attempt of the first message waited for Retry-After.
            assert!(tries.len() >= 2);
            assert!(tries[1].at - tries[0].at >= Duration::from_secs(retry_after_secs));
            assert_eq!(tries[0].body, tries[1].body, "the same message again");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_is_logged_at_any_level() {
    let fake = FakeAws::start().await;
    let rx = Receiver::start(Answer::ServerError).await.unwrap();
    let log = std::env::temp_dir().join(format!("alerts-secret-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&log);
    let settings = ConfigFile::new("alerts-secret", "[alerts]\ntimeout_secs = 1\nmax_attempts = 2\n");
    // A closed port for the webhook: connection errors must not name it either.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut proxy = start(
        &fake,
        Extra {
            env: vec![
                (
                    "SINK_PROXY_SLACK_WEBHOOK_URL".into(),
                    rx.url("/services/T0/B0/SLACKSECRET42"),
                ),
                (
                    "SINK_PROXY_ALERT_WEBHOOK_URL".into(),
                    format!("http://{closed}/hook?token=HOOKSECRET42"),
                ),
                ("SINK_PROXY_LOG".into(), "trace".into()),
            ],
            log: Some(log.clone()),
            ..Extra::default()
        },
        &["--config", settings.path()],
    )
    .await;
    post(&proxy, &chunk(vec![line("ERROR one", true), line("FATAL two", true)])).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let m = proxy.metrics().await.unwrap();
        let dropped = |d: &str| {
            sample(
                &m,
                &format!(r#"sink_proxy_alert_messages_total{{destination="{d}",result="dropped"}}"#),
            )
        };
        if dropped("slack") >= 1 && dropped("webhook") >= 1 {
            break;
        }
        assert!(Instant::now() < deadline, "alert failures were not counted\n{m}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    proxy.terminate(Duration::from_secs(30)).unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_file(&log);
    assert!(text.lines().count() > 20, "trace logging was on:\n{text}");
    assert!(text.contains("alert message given up"), "failures are logged");
    for secret in [
        "SLACKSECRET42",
        "HOOKSECRET42",
        "/services/T0/B0",
        &closed.port().to_string(),
    ] {
        assert!(
            !text.contains(secret),
            "{secret} is in the log:\n{}",
            text.lines()
                .filter(|l| l.contains(secret))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sns_topic_gets_the_alerts() {
    use aws_sdk_sns::config::{BehaviorVersion, Credentials, Region};
    let moto = local_aws::Moto::start().await.unwrap();
    let rx = Receiver::start(Answer::Ok).await.unwrap();
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("local", "local", None, None, "test"))
        .endpoint_url(&moto.endpoint)
        .load()
        .await;
    let sns = aws_sdk_sns::Client::new(&sdk);
    let topic = sns.create_topic().name("alerts").send().await.unwrap();
    let arn = topic.topic_arn().unwrap().to_owned();
    // moto delivers an HTTP subscription's notifications to the receiver.
    sns.subscribe()
        .topic_arn(&arn)
        .protocol("http")
        .endpoint(rx.url("/sns"))
        .send()
        .await
        .unwrap();
    let mut proxy = ProxyProcess::start_extra(
        &moto.endpoint,
        &["--log-group", GROUP],
        env(&[("SINK_PROXY_ALERT_SNS_TOPIC_ARN", arn.clone())]),
    )
    .await
    .unwrap();
    post(
        &proxy,
        &chunk(vec![
            line("ERROR payment 1 declined", true),
            line("ERROR payment 2 declined", true),
            line("ERROR payment 3 declined", true),
            line("FATAL disk full", true),
        ]),
    )
    .await;
    let firsts = rx.wait_for("/sns", Duration::from_secs(20), |r| r.len() >= 2).await;
    proxy.terminate(Duration::from_secs(30)).unwrap();
    let all = rx.received("/sns");
    assert_eq!(all.len(), 3, "two first messages, then the digest at shutdown");
    let notes: Vec<Value> = all.iter().map(Received::json).collect();
    assert_eq!(notes[0]["TopicArn"], arn.as_str());
    assert_eq!(notes[0]["Subject"], "sink-proxy: New error in web");
    assert!(
        notes[0]["Message"]
            .as_str()
            .unwrap()
            .contains("ERROR payment 1 declined")
    );
    assert!(notes[1]["Message"].as_str().unwrap().contains("FATAL disk full"));
    assert!(
        notes[2]["Message"].as_str().unwrap().contains("2 more like this"),
        "{}",
        notes[2]
    );
    assert_eq!(firsts.len(), 2);
}
