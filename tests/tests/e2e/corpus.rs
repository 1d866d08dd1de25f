//! End to end on the labelled corpus: every record through the Wasm filter as
//! Fluent Bit 4.2 runs it, then Fluent Bit's http output into sink-proxy,
//! then CloudWatch Logs and Firehose → S3 (moto). Exact counts and contents
//! per destination against the corpus's expected labels.

use serde_json::{Map, Value};
use sink_proxy::firehose::batch::MAX_RECORD_BYTES;
use std::collections::{BTreeMap, HashMap};

const ECS_KEYS: [&str; 3] = ["ecs_cluster", "ecs_task_arn", "ecs_task_definition"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_corpus_lands_exactly_where_it_belongs() {
    let dir = std::env::temp_dir().join(format!("firelens-e2e-{}", std::process::id()));
    let corpus = wasm_host::corpus::generate(20_000, 11, &dir).unwrap();
    let moto = local_aws::Moto::start().await.unwrap();
    let sdk = local_aws::sdk_config(&moto.endpoint).await;
    let run = firelens_e2e::run(&wasm_host::corpus::module_path(), &corpus.records, &sdk)
        .await
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();

    // The filter: health checks dropped, exactly; errors marked, exactly.
    let health: Vec<usize> = (0..corpus.labels.len())
        .filter(|&i| corpus.labels[i] == "health")
        .collect();
    assert_eq!(run.filtered.dropped, health);
    for k in &run.filtered.kept {
        let mut want: Map<String, Value> = corpus.records[k.index].as_object().unwrap().clone();
        if corpus.labels[k.index] == "error" {
            want.insert("log_class".into(), Value::from("error"));
        }
        assert_eq!(k.record, want, "record {}", k.index);
    }

    // Firehose → S3: exactly the kept lines, each once, nothing else.
    let mut got: HashMap<&str, usize> = HashMap::new();
    for (_, lines) in &run.landed.objects {
        for l in lines {
            *got.entry(l.as_str()).or_default() += 1;
        }
    }
    assert_eq!(got.values().sum::<usize>(), run.filtered.kept.len());
    for k in &run.filtered.kept {
        assert_eq!(got.get(k.line.as_str()), Some(&1), "record {} in S3 once", k.index);
    }

    // CloudWatch: one stream per tag with errors; each error once, in time
    // order, as the record without the ECS keys, stamped with its `date`.
    let mut want: BTreeMap<String, Vec<(i64, String)>> = BTreeMap::new();
    for k in run.filtered.kept.iter().filter(|k| corpus.labels[k.index] == "error") {
        let mut m = k.record.clone();
        m.retain(|key, _| !ECS_KEYS.contains(&key.as_str())); // in order, unlike remove
        let line: Value = serde_json::from_str(&k.line).unwrap();
        let ts = (line["date"].as_f64().unwrap() * 1000.0).round() as i64;
        want.entry(k.tag.clone())
            .or_default()
            .push((ts, Value::Object(m).to_string()));
    }
    let errors = corpus.labels.iter().filter(|l| *l == "error").count();
    assert_eq!(want.values().map(Vec::len).sum::<usize>(), errors);
    let got: BTreeMap<String, Vec<(i64, String)>> = run.landed.streams.iter().cloned().collect();
    assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>());
    for (stream, events) in &want {
        assert_eq!(&got[stream], events, "stream {stream}");
    }

    // Packing: the lines travel in few Firehose records, billed far below
    // one record per line.
    let metric = |name: &str| sink_proxy::metrics::sample(&run.metrics, name);
    let bytes: usize = run.filtered.kept.iter().map(|k| k.line.len() + 1).sum();
    let records = metric("sink_proxy_firehose_records_total");
    assert!(
        records as usize <= run.chunks + bytes.div_ceil(MAX_RECORD_BYTES),
        "{records} records"
    );
    let units = metric("sink_proxy_firehose_billed_units_total");
    let classic = firelens_e2e::units_one_record_per_line(run.filtered.kept.iter().map(|k| k.line.len()));
    assert!(units * 10 < classic, "{units} units packed, {classic} one per line");
    assert_eq!(metric("sink_proxy_dead_letter_records_total"), 0);
}
