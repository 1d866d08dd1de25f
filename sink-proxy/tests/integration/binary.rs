//! The `sink-proxy` binary as ECS runs it: settings from flags and the
//! environment, AWS from the standard chain (`AWS_ENDPOINT_URL`), SIGTERM.

use crate::support;

use local_aws::fake::{FakeAws, Fault};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sink-proxy"));
    c.env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default());
    c
}

#[test]
fn bad_settings_exit_2_with_what_to_fix() {
    let out = bin().output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no destination: set --log-group, --delivery-stream"));

    let dir = std::env::temp_dir().join(format!("sink-proxy-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("proxy.toml");
    std::fs::write(&file, "[firehose]\ngzipp = true\n").unwrap();
    let out = bin()
        .args(["--delivery-stream", "s", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown field `gzipp`"), "{err}");

    let out = bin()
        .args(["--delivery-stream", "s", "--config", "/nonexistent.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read config file /nonexistent.toml"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_from_the_environment_and_drains_on_sigterm() {
    let fake = FakeAws::start().await;
    fake.with(|st| st.firehose_faults = [Fault::Pass, Fault::Slow(Duration::from_millis(700))].into());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let spool = std::env::temp_dir().join(format!("sink-proxy-binary-spool-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&spool);
    let spool_env = spool.display().to_string();
    let mut child = bin()
        .envs([
            ("SINK_PROXY_SPOOL_DIR", spool_env.as_str()),
            ("SINK_PROXY_LISTEN", listen.as_str()),
            ("SINK_PROXY_DELIVERY_STREAM", "logs"),
            ("SINK_PROXY_LOG_FORMAT", "json"),
            ("AWS_ENDPOINT_URL", fake.endpoint.as_str()),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let addr = listen.parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !test_support::fluent_bit::get(addr, "/healthz")
        .await
        .is_ok_and(|a| a.status == 200)
    {
        assert!(Instant::now() < deadline, "sink-proxy did not come up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The container health check.
    let health = bin().args(["--check-health", "--listen", &listen]).status().unwrap();
    assert!(health.success());
    let a = support::post_chunk(addr, "web-firelens-1", &["{\"log\":\"one\"}".to_owned()]).await;
    assert_eq!(a.status, 200, "{}", a.body);

    // SIGTERM while a request is in flight: it is answered, then exit 0.
    let inflight = tokio::spawn(async move {
        support::post_chunk(addr, "web-firelens-1", &["{\"log\":\"two\"}".to_owned()])
            .await
            .status
    });
    while fake.with(|st| st.calls_of("PutRecordBatch")) < 2 {
        assert!(Instant::now() < deadline);
        tokio::task::yield_now().await;
    }
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert_eq!(inflight.await.unwrap(), 200);
    let status = tokio::task::spawn_blocking(move || {
        let status = child.wait().unwrap();
        let mut err = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
        (status, err)
    })
    .await
    .unwrap();
    assert_eq!(status.0.code(), Some(0), "{}", status.1);
    assert!(status.1.lines().all(|l| l.starts_with('{')), "JSON logs: {}", status.1);
    assert!(status.1.contains("sink-proxy stopped"));
    let health = bin().args(["--check-health", "--listen", &listen]).output().unwrap();
    assert_eq!(health.status.code(), Some(1), "nothing listens any more");
    assert!(String::from_utf8_lossy(&health.stderr).contains(&listen));
    assert_eq!(
        fake.with(|st| st.firehose_lines("logs")),
        ["{\"log\":\"one\"}", "{\"log\":\"two\"}"]
    );
    std::fs::remove_dir_all(spool).unwrap();
}
