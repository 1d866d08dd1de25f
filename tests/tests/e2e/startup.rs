//! The startup check and the container health check (`--check-health`), on
//! the binary against the fault-injecting stand-in: a broken role or a
//! deleted group fails it once and for good, an outage never does, and a
//! failure after a good start does not either (no replacement loop).

use local_aws::fake::{FakeAws, Fault};
use std::time::{Duration, Instant};
use test_support::fluent_bit::{Chunk, post_chunk};
use test_support::process::{Extra, ProxyProcess};

const GROUP: &str = "/ecs/errors";
const ARGS: [&str; 4] = ["--log-group", GROUP, "--delivery-stream", "logs"];

async fn start(fake: &FakeAws, log: Option<std::path::PathBuf>) -> ProxyProcess {
    let extra = Extra {
        log,
        listening_only: true,
        env: vec![("SINK_PROXY_LOG".into(), "info".into())],
        ..Extra::default()
    };
    ProxyProcess::start_extra(&fake.endpoint, &ARGS, extra).await.unwrap()
}

/// Waits (at most 20 s) until `/healthz` reports this startup verdict.
async fn startup_is(p: &ProxyProcess, verdict: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, body) = p.healthz().await.unwrap();
        if body.contains(&format!("\"startup\":\"{verdict}\"")) {
            return body;
        }
        assert!(Instant::now() < deadline, "startup never became {verdict}: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_that_cannot_reach_the_stream_fails_the_health_check_once_and_for_good() {
    let fake = FakeAws::start().await;
    fake.with(|st| st.denied.insert("DescribeDeliveryStream".into()));
    let log = std::env::temp_dir().join(format!("startup-denied-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&log);
    let p = start(&fake, Some(log.clone())).await;
    let body = startup_is(&p, "failed").await;
    assert!(
        body.contains("firehose: ") && body.contains("AccessDeniedException"),
        "{body}"
    );
    assert_eq!(p.check_health().unwrap(), 1);
    // Fixing the role later does not flip it back: ECS replaces the task.
    fake.with(|st| st.denied.clear());
    let c = Chunk::json_lines("web-firelens-1", vec![r#"{"log":"x"}"#.into()], 0).unwrap();
    assert_eq!(post_chunk(p.addr, &c).await.map(|r| r.status), Some(200));
    for _ in 0..5 {
        assert_eq!(p.check_health().unwrap(), 1);
    }
    let text = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_file(&log);
    assert_eq!(
        text.matches("startup check failed").count(),
        1,
        "one clear line:\n{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_group_that_may_not_be_created_fails_it() {
    let fake = FakeAws::start().await;
    fake.with(|st| st.denied.insert("CreateLogGroup".into()));
    let p = start(&fake, None).await;
    let body = startup_is(&p, "failed").await;
    assert!(body.contains("cloudwatch_logs: "), "{body}");
    assert_eq!(p.check_health().unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_group_is_created_and_the_check_passes() {
    let fake = FakeAws::start().await;
    let p = start(&fake, None).await;
    startup_is(&p, "ok").await;
    assert!(fake.with(|st| st.groups.contains(GROUP)));
    assert_eq!(p.check_health().unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_at_start_never_fails_it_and_the_check_completes_after() {
    let fake = FakeAws::start().await;
    fake.with(|st| st.firehose_down = true);
    let p = start(&fake, None).await;
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        assert_eq!(p.check_health().unwrap(), 0, "{:?}", p.healthz().await);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(p.healthz().await.unwrap().1.contains("\"startup\":\"pending\""));
    fake.with(|st| st.firehose_down = false);
    startup_is(&p, "ok").await;
    assert_eq!(p.check_health().unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_after_a_good_start_shows_in_healthz_but_does_not_fail_the_container() {
    let fake = FakeAws::start().await;
    let p = start(&fake, None).await;
    startup_is(&p, "ok").await;
    // The role loses PutLogEvents: the chunk is refused, /healthz says so.
    fake.with(|st| st.logs_faults = [Fault::Denied].into());
    let c = Chunk::json_lines(
        "web-firelens-1",
        vec![r#"{"log":"ERROR x","log_class":"error"}"#.into()],
        1,
    )
    .unwrap();
    let _ = post_chunk(p.addr, &c).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = p.healthz().await.unwrap();
        if body.contains("\"status\":\"failing\"") {
            assert_eq!(status, 503);
            break;
        }
        assert!(Instant::now() < deadline, "{body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(p.check_health().unwrap(), 0, "no replacement loop");
}
