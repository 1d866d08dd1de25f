//! The HTTP side: status codes as Fluent Bit reads them, limits, hostile
//! bodies, admission, slow clients and graceful shutdown.

use crate::support;

use local_aws::fake::{FakeAws, Fault};
use serde_json::Value;
use std::time::{Duration, Instant};
use support::{RunningProxy, gzip, post, post_chunk, sdk_config};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const STREAM: &str = "logs";

async fn start(fake: &FakeAws, file: &str) -> RunningProxy {
    let sdk = sdk_config(&fake.endpoint).await;
    support::start(&["--delivery-stream", STREAM], file, &sdk).await
}

fn dead_letters(fake: &FakeAws) -> Vec<Value> {
    fake.with(|st| {
        st.firehose_lines(STREAM)
            .iter()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|v| v.get("sink_proxy_error").is_some())
            .collect()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_that_are_not_deliveries_get_4xx() {
    let fake = FakeAws::start().await;
    let proxy = start(
        &fake,
        "[ingest]\ntoken_header = \"X-Token\"\ntoken_env = \"TEST_TOKEN\"\nmax_body_bytes = 100000\nmax_decoded_bytes = 1000000\n",
    )
    .await;
    let line = br#"{"log":"x"}"#.to_vec();
    assert_eq!(post(proxy.addr, "/", &[], line.clone()).await.status, 401);
    assert_eq!(
        post(proxy.addr, "/", &[("X-Token", "nope")], line.clone()).await.status,
        401
    );
    assert_eq!(
        post(proxy.addr, "/", &[("X-Token", "s3cret")], line.clone())
            .await
            .status,
        200
    );
    assert_eq!(
        post(proxy.addr, "/other", &[("X-Token", "s3cret")], line.clone())
            .await
            .status,
        404
    );
    assert_eq!(support::get(proxy.addr, "/").await.status, 405);
    // Over the body limit, and a gzip bomb over the decoded limit.
    let big = vec![b' '; 100_001];
    assert_eq!(post(proxy.addr, "/", &[("X-Token", "s3cret")], big).await.status, 413);
    let bomb = gzip(&vec![b'{'; 5_000_000]);
    assert!(bomb.len() < 100_000);
    let a = post(
        proxy.addr,
        "/",
        &[("X-Token", "s3cret"), ("Content-Encoding", "gzip")],
        bomb,
    )
    .await;
    assert_eq!(a.status, 413, "{}", a.body);
    assert_eq!(support::get(proxy.addr, "/healthz").await.status, 200);
    let m = support::get(proxy.addr, "/metrics").await;
    assert!(
        m.body.contains(r#"sink_proxy_requests_total{code="401"} 2"#),
        "{}",
        m.body
    );
    assert!(
        m.body.contains(r#"sink_proxy_requests_total{code="413"} 2"#),
        "{}",
        m.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_bodies_are_kept_as_dead_letters_never_dropped() {
    let fake = FakeAws::start().await;
    let proxy = start(&fake, "").await;
    let tag = [("X-Fluent-Tag", "web-firelens-1")];
    // Corrupt gzip: the whole body is kept, base64 (it is not text).
    let corrupt = b"\x1f\x8b\x08\x00garbage\xff\xfe".to_vec();
    let a = post(
        proxy.addr,
        "/",
        &[tag[0], ("Content-Encoding", "gzip")],
        corrupt.clone(),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    // An encoding the proxy cannot read.
    let a = post(
        proxy.addr,
        "/",
        &[tag[0], ("Content-Encoding", "br")],
        b"{\"log\":\"x\"}".to_vec(),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    // Wrong content type: sniffed. Truncated JSON, invalid UTF-8, deep
    // nesting, a number where an object belongs: each a dead letter, the
    // good records around them delivered.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let mut body = Vec::new();
    body.extend_from_slice(b"{\"log\":\"good 1\"}\n{\"log\":\"trunc\n\xff\xfe{\"log\":1}\n");
    body.extend_from_slice(deep.as_bytes());
    body.extend_from_slice(b"\n42\n{\"log\":\"good 2\"}\n");
    let a = post(proxy.addr, "/", &[tag[0], ("Content-Type", "text/plain")], body).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body.trim(), r#"{"records":2,"errors":0,"dead_letters":4}"#);

    let dl = dead_letters(&fake);
    // Six records; the 200 KB nested one travels as two parts that join back.
    assert_eq!(dl.len(), 7);
    let parts: String = dl
        .iter()
        .filter(|d| d.get("parts").is_some())
        .map(|d| d["raw"].as_str().unwrap())
        .collect();
    assert_eq!(parts, deep);
    let b64 = dl.iter().find(|d| d.get("raw_base64").is_some()).unwrap();
    use base64::Engine;
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(b64["raw_base64"].as_str().unwrap())
            .unwrap(),
        corrupt
    );
    assert!(
        dl.iter()
            .any(|d| d["raw"] == "{\"log\":\"x\"}"
                && d["sink_proxy_error"].as_str().unwrap().contains("Content-Encoding"))
    );
    assert!(dl.iter().any(|d| d["raw"] == "{\"log\":\"trunc"));
    assert!(dl.iter().any(|d| d["raw"] == "42"));
    assert!(dl.iter().all(|d| d["tag"] == "web-firelens-1"));
    let good = fake.with(|st| st.firehose_lines(STREAM).iter().filter(|l| l.contains("good")).count());
    assert_eq!(good, 2);
    assert_eq!(
        proxy.metric(r#"sink_proxy_dead_letter_records_total{reason="undecodable"}"#),
        2
    );
    assert_eq!(
        proxy.metric(r#"sink_proxy_dead_letter_records_total{reason="unparseable"}"#),
        4
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_proxy_answers_429() {
    let fake = FakeAws::start().await;
    fake.with(|st| st.firehose_faults = [Fault::Slow(Duration::from_millis(1500))].into());
    let proxy = start(&fake, "[delivery]\nmax_in_flight_requests = 1\n").await;
    let addr = proxy.addr;
    let first = tokio::spawn(async move { post_chunk(addr, "t", &["{\"log\":\"slow\"}".to_owned()]).await.status });
    proxy.in_flight(std::time::Duration::from_secs(5)).await.unwrap();
    assert_eq!(
        post_chunk(addr, "t", &["{\"log\":\"second\"}".to_owned()]).await.status,
        429
    );
    assert_eq!(first.await.unwrap(), 200);
    assert_eq!(
        post_chunk(addr, "t", &["{\"log\":\"third\"}".to_owned()]).await.status,
        200
    );
    assert_eq!(proxy.metric("sink_proxy_in_flight_requests"), 0, "released");
    assert_eq!(proxy.metric("sink_proxy_in_flight_bytes"), 0, "released");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off() {
    let fake = FakeAws::start().await;
    let proxy = start(&fake, "[ingest]\nheader_timeout_secs = 1\nbody_timeout_secs = 1\n").await;
    // Slow-loris: half a request head, then nothing. The proxy closes.
    let started = Instant::now();
    let mut s = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
    s.write_all(b"POST / HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf))
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(4));
    // A body that stops half-way: 408, which Fluent Bit retries.
    let mut s = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
    s.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"log\":")
        .await
        .unwrap();
    let mut buf = vec![0; 1024];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 408"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_requests_in_flight() {
    let fake = FakeAws::start().await;
    fake.with(|st| st.firehose_faults = [Fault::Slow(Duration::from_millis(800))].into());
    let proxy = start(&fake, "").await;
    let addr = proxy.addr;
    let inflight = tokio::spawn(async move {
        post_chunk(addr, "t", &["{\"log\":\"last words\"}".to_owned()])
            .await
            .status
    });
    proxy.in_flight(std::time::Duration::from_secs(5)).await.unwrap();
    proxy.shutdown().await.unwrap();
    assert_eq!(inflight.await.unwrap(), 200, "the request in flight was answered");
    assert_eq!(
        fake.with(|st| st.firehose_lines(STREAM)),
        vec!["{\"log\":\"last words\"}".to_owned()]
    );
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no longer accepting"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decoded_bytes_count_against_the_in_flight_budget() {
    let fake = FakeAws::start().await;
    fake.with(|st| st.firehose_faults = [Fault::Slow(Duration::from_millis(1500))].into());
    // Room for one request's working set (body + 4 x decoded), not two.
    let proxy = start(
        &fake,
        "[ingest]\nmax_body_bytes = 100000\nmax_decoded_bytes = 1000000\n[delivery]\nmax_in_flight_bytes = 4500000\n",
    )
    .await;
    let addr = proxy.addr;
    let line = format!("{{\"log\":\"{}\"}}", "z".repeat(900_000));
    let small_gzip = gzip(line.as_bytes());
    assert!(small_gzip.len() < 10_000);
    let body = small_gzip.clone();
    let first = tokio::spawn(async move {
        post(addr, "/", &[("Content-Encoding", "gzip"), ("X-Fluent-Tag", "t")], body)
            .await
            .status
    });
    proxy.in_flight(std::time::Duration::from_secs(5)).await.unwrap();
    assert!(
        proxy.metric("sink_proxy_in_flight_bytes") > 900_000,
        "decoded bytes are held"
    );
    let second = post(
        addr,
        "/",
        &[("Content-Encoding", "gzip"), ("X-Fluent-Tag", "t")],
        small_gzip.clone(),
    )
    .await;
    assert_eq!(
        second.status, 429,
        "the budget is taken by the first request's decoded bytes"
    );
    assert_eq!(first.await.unwrap(), 200);
    let third = post(
        addr,
        "/",
        &[("Content-Encoding", "gzip"), ("X-Fluent-Tag", "t")],
        small_gzip,
    )
    .await;
    assert_eq!(third.status, 200, "released after the first");
}
