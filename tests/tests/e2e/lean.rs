//! `firelens-lean.conf`'s path, end to end: the labelled corpus as Fluent
//! Bit's `http` output sends it in msgpack with `X-Sink-Proxy-Classify: on`,
//! into the sink-proxy binary, which classifies with the module's rules and
//! delivers over TLS to the AWS stand-in. Exact contents per destination
//! against the corpus's labels: the same outcome as the module in Fluent Bit
//! (`corpus.rs`), from the other place.

use local_aws::fake::FakeAws;
use rmpv::Value as M;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use test_support::fluent_bit::{firelens_tag, post};
use test_support::process::{Extra, ProxyProcess};

const ECS_KEYS: [&str; 3] = ["ecs_cluster", "ecs_task_arn", "ecs_task_definition"];
const BASE_SECS: u32 = 1_795_532_400;

/// One event as Fluent Bit 4.2 packs it: `[[EventTime, {}], record]`.
fn event(record: &Value, i: usize, out: &mut Vec<u8>) {
    let mut time = BASE_SECS.to_be_bytes().to_vec();
    time.extend_from_slice(&((i as u32 % 1000) * 1_000_000).to_be_bytes());
    let body = record
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (M::from(k.as_str()), M::from(v.as_str().unwrap())))
        .collect();
    let ev = M::Array(vec![M::Array(vec![M::Ext(0, time), M::Map(vec![])]), M::Map(body)]);
    rmpv::encode::write_value(out, &ev).unwrap();
}

fn seconds(i: usize) -> f64 {
    f64::from(BASE_SECS) + f64::from(i as u32 % 1000) / 1000.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_classifies_msgpack_chunks_exactly_as_the_module() {
    let dir = std::env::temp_dir().join(format!("firelens-lean-{}", std::process::id()));
    let corpus = wasm_host::corpus::generate(10_000, 21, &dir).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let fake = FakeAws::start_tls().await;
    let extra = Extra {
        env: vec![("SSL_CERT_FILE".into(), fake.ca_file().unwrap().display().to_string())],
        ..Extra::default()
    };
    let proxy = ProxyProcess::start_extra(
        &fake.endpoint,
        &["--log-group", "/lean/errors", "--delivery-stream", "lean"],
        extra,
    )
    .await
    .unwrap();

    // Chunks of up to 500 events per tag, as Fluent Bit sends them.
    let mut by_tag: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, r) in corpus.records.iter().enumerate() {
        by_tag.entry(firelens_tag(r)).or_default().push(i);
    }
    for (tag, indices) in &by_tag {
        for part in indices.chunks(500) {
            let mut body = Vec::new();
            for &i in part {
                event(&corpus.records[i], i, &mut body);
            }
            let headers = [
                ("Content-Type", "application/msgpack"),
                ("X-Fluent-Tag", tag.as_str()),
                ("X-Sink-Proxy-Classify", "on"),
            ];
            let reply = post(proxy.addr, "/", &headers, body).await.unwrap();
            assert_eq!(reply.status, 200, "{}", reply.body);
        }
    }

    let kept: Vec<usize> = (0..corpus.labels.len())
        .filter(|&i| corpus.labels[i] != "health")
        .collect();
    let errors: Vec<usize> = kept.iter().copied().filter(|&i| corpus.labels[i] == "error").collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while fake.with(|st| st.firehose_lines("lean").len() < kept.len() || st.events.len() < errors.len()) {
        assert!(Instant::now() < deadline, "not everything arrived within 60 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Firehose: every kept record once, as json_lines would have carried it
    // (`date` first), errors marked; no health check.
    let want_line = |i: usize| {
        let mut m = Map::new();
        m.insert("date".into(), Value::from(seconds(i)));
        m.extend(corpus.records[i].as_object().unwrap().clone());
        if corpus.labels[i] == "error" {
            m.insert("log_class".into(), Value::from("error"));
        }
        Value::Object(m)
    };
    let mut want: Vec<String> = kept.iter().map(|&i| want_line(i).to_string()).collect();
    let mut got: Vec<String> = fake.with(|st| {
        st.firehose_lines("lean")
            .iter()
            .map(|l| serde_json::from_str::<Value>(l).unwrap().to_string())
            .collect()
    });
    want.sort();
    got.sort();
    assert_eq!(got.len(), want.len());
    assert!(got == want, "Firehose lines differ from the labels' outcome");

    // CloudWatch: each error once, in its container's stream, as the record
    // without the ECS keys and without `date`, stamped with its time.
    let mut want: BTreeMap<String, Vec<(i64, String)>> = BTreeMap::new();
    for &i in &errors {
        let mut m = want_line(i).as_object().unwrap().clone();
        m.retain(|k, _| k != "date" && !ECS_KEYS.contains(&k.as_str()));
        let ts = (seconds(i) * 1000.0).round() as i64;
        want.entry(firelens_tag(&corpus.records[i]))
            .or_default()
            .push((ts, Value::Object(m).to_string()));
    }
    let mut got: BTreeMap<String, Vec<(i64, String)>> = BTreeMap::new();
    fake.with(|st| {
        for (_, stream, t, m) in &st.events {
            got.entry(stream.clone()).or_default().push((*t, m.clone()));
        }
    });
    for events in want.values_mut().chain(got.values_mut()) {
        events.sort();
    }
    assert_eq!(got, want);

    // Counted: every record in, the health checks dropped by the proxy.
    let metrics = proxy.metrics().await.unwrap();
    let metric = |name: &str| sink_proxy::metrics::sample(&metrics, name) as usize;
    assert_eq!(metric("sink_proxy_records_in_total"), corpus.records.len());
    assert_eq!(
        metric("sink_proxy_health_checks_dropped_total"),
        corpus.labels.len() - kept.len()
    );
    assert_eq!(metric("sink_proxy_marked_records_total"), errors.len());
    assert!(fake.with(|st| st.violations.is_empty()));
}
