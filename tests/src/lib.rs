//! The whole job, end to end, on one machine: FireLens records go through
//! the Wasm filter exactly as Fluent Bit 4.2 runs it (the `wasm-host` test
//! host), then to `sink-proxy` exactly as Fluent Bit's `http` output sends
//! them (per-tag chunks, `json_lines` with a `date` key, gzip, the tag in a
//! header), and on to CloudWatch Logs and Firehose → S3 served by moto.
//! [`harness`]: the same with sink-proxy as its own process, for the
//! reliability tests and the benchmark.

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value};
use sink_proxy::firehose::batch::billed_units;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use test_support::fluent_bit::{self, Chunk};
use wasm_host::{FilterConfig, Outcome, WasmFilter, fluent_bit_json};

pub mod ecs_firelens;

pub use test_support::fluent_bit::firelens_tag;
pub use test_support::in_process::RunningProxy;

pub const BUCKET: &str = "firelens-archive";
pub const DELIVERY_STREAM: &str = "firelens-logs";
pub const LOG_GROUP: &str = "/ecs/firelens-errors";
/// Fluent Bit's chunk size limit (2 MB) bounds a request body.
const CHUNK_BYTES: usize = 2_000_000;

/// A record after the filter, as Fluent Bit's `http` output writes it.
#[derive(Debug, Clone)]
pub struct Kept {
    pub index: usize,
    pub tag: String,
    /// The filter's output (the record, with the mark if it is an error).
    pub record: Map<String, Value>,
    /// The `json_lines` line: `date` first, then the record.
    pub line: String,
}

/// What the filter did to the records.
pub struct Filtered {
    pub records_in: usize,
    pub dropped: Vec<usize>,
    pub kept: Vec<Kept>,
}

/// Runs every record through the filter module as Fluent Bit 4.2 does.
/// `now_ms` is the time the first record is stamped with (one ms apart).
pub fn filter(module: &Path, records: &[Value], now_ms: i64) -> Result<Filtered> {
    // The include sets no Wasm_Heap_Size: Fluent Bit's default.
    let mut f = WasmFilter::from_file(module, &FilterConfig::default()).map_err(|e| {
        anyhow::anyhow!(
            "loading {}: {e} (build it with scripts/build-wasm.sh)",
            module.display()
        )
    })?;
    let mut out = Filtered {
        records_in: records.len(),
        dropped: Vec::new(),
        kept: Vec::new(),
    };
    for (index, record) in records.iter().enumerate() {
        let tag = firelens_tag(record);
        let t = now_ms + index as i64;
        let time = ((t / 1000) as u32, ((t % 1000) * 1_000_000) as u32);
        match f.call(&tag, time, &fluent_bit_json(record)) {
            Outcome::Kept(json) => {
                let Value::Object(fields) = serde_json::from_slice(&json)? else {
                    bail!("record {index}: the filter returned a non-object");
                };
                let mut line = Map::new();
                line.insert("date".into(), Value::from(t as f64 / 1000.0));
                line.extend(fields.clone());
                let line = String::from_utf8(fluent_bit_json(&Value::Object(line)))?;
                out.kept.push(Kept {
                    index,
                    tag,
                    record: fields,
                    line,
                });
            }
            Outcome::Dropped(_) => out.dropped.push(index),
        }
    }
    Ok(out)
}

/// Fluent Bit's chunks: records of one tag, in order, up to the chunk size.
pub fn chunks(kept: &[Kept]) -> Vec<(String, Vec<&Kept>)> {
    let mut open: BTreeMap<&str, (usize, Vec<&Kept>)> = BTreeMap::new();
    let mut out = Vec::new();
    for k in kept {
        let (bytes, recs) = open.entry(&k.tag).or_default();
        if *bytes + k.line.len() + 1 > CHUNK_BYTES && !recs.is_empty() {
            out.push((k.tag.clone(), std::mem::take(recs)));
            *bytes = 0;
        }
        *bytes += k.line.len() + 1;
        recs.push(k);
    }
    out.extend(open.into_iter().map(|(t, (_, r))| (t.to_owned(), r)));
    out
}

/// Posts one chunk as Fluent Bit's `http` output does with the shipped
/// settings (`Format json_lines`, `Compress gzip`, `Header_Tag X-Fluent-Tag`).
/// Returns the HTTP status.
pub async fn post_chunk(addr: SocketAddr, tag: &str, records: &[&Kept]) -> Result<u16> {
    let lines: Vec<String> = records.iter().map(|r| r.line.clone()).collect();
    let chunk = Chunk::json_lines(tag, lines, 0)?;
    let reply = fluent_bit::post_chunk(addr, &chunk)
        .await
        .with_context(|| format!("posting a chunk of {tag}: no answer"))?;
    Ok(reply.status)
}

/// A sink-proxy serving on loopback against `sdk`'s endpoint, with the
/// demo's destinations and, as shipped, a durable spool (in a fresh
/// temporary directory, removed on drop); settings such as the alert
/// destinations from `env`.
pub async fn start_proxy(sdk: &aws_config::SdkConfig, env: impl Fn(&str) -> Option<String>) -> Result<RunningProxy> {
    let args = ["--log-group", LOG_GROUP, "--delivery-stream", DELIVERY_STREAM];
    RunningProxy::start(&args, "", env, sdk, true).await
}

/// What landed where.
pub struct Landed {
    /// S3 objects: (key, lines).
    pub objects: Vec<(String, Vec<String>)>,
    /// CloudWatch streams: (name, events (timestamp, message)).
    pub streams: Vec<(String, Vec<(i64, String)>)>,
}

pub async fn landed(sdk: &aws_config::SdkConfig) -> Result<Landed> {
    let mut objects = Vec::new();
    for (key, data) in local_aws::s3_objects(sdk, BUCKET).await? {
        if !data.ends_with(b"\n") {
            bail!("S3 object {key} does not end with a newline");
        }
        let text = String::from_utf8(data).with_context(|| format!("S3 object {key}"))?;
        objects.push((key, text.lines().map(str::to_owned).collect()));
    }
    let mut streams = Vec::new();
    for s in local_aws::log_streams(sdk, LOG_GROUP).await.unwrap_or_default() {
        let events = local_aws::log_events(sdk, LOG_GROUP, &s).await?;
        streams.push((s, events));
    }
    Ok(Landed { objects, streams })
}

/// The whole run: filter, post every chunk, read back.
pub struct Run {
    pub filtered: Filtered,
    pub chunks: usize,
    pub landed: Landed,
    pub metrics: String,
}

pub async fn run(module: &Path, records: &[Value], sdk: &aws_config::SdkConfig) -> Result<Run> {
    run_with_env(module, records, sdk, |_| None).await
}

/// [`run`] with sink-proxy settings (alert destinations) from `env`; the
/// alerts still held at the end are sent before it returns.
pub async fn run_with_env(
    module: &Path,
    records: &[Value],
    sdk: &aws_config::SdkConfig,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Run> {
    local_aws::create_archive(sdk, BUCKET, DELIVERY_STREAM).await?;
    let mut proxy = start_proxy(sdk, env).await?;
    let addr = proxy.addr;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as i64
        - records.len() as i64;
    // wasmtime-wasi's blocking API runs its own runtime: not on a tokio thread.
    let filtered = std::thread::scope(|s| s.spawn(|| filter(module, records, now_ms)).join())
        .map_err(|_| anyhow::anyhow!("the filter thread panicked"))??;
    let chunks = chunks(&filtered.kept);
    for (tag, recs) in &chunks {
        let status = post_chunk(addr, tag, recs).await?;
        if status != 200 {
            bail!("sink-proxy answered {status} for a chunk of {tag}");
        }
    }
    let n = chunks.len();
    // Acknowledged once spooled: what lands, lands when the drains are done.
    proxy.drained(std::time::Duration::from_secs(120)).await?;
    proxy.finish_alerts(std::time::Duration::from_secs(30)).await;
    Ok(Run {
        landed: landed(sdk).await?,
        filtered,
        chunks: n,
        metrics: proxy.proxy.metrics.render(),
    })
}

/// Firehose units if every line were its own record (the classic output).
pub fn units_one_record_per_line(lines: impl IntoIterator<Item = usize>) -> u64 {
    lines.into_iter().map(|len| billed_units(len + 1)).sum()
}

/// Reads a JSON-lines file of FireLens records.
pub fn read_records(path: &Path) -> Result<Vec<Value>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| serde_json::from_str(l).with_context(|| format!("{}:{}", path.display(), i + 1)))
        .collect()
}

/// How long the image's log router command (fluent-bit/router-start.sh)
/// holds SIGTERM back before Fluent Bit gets it: its default.
pub fn router_stop_delay_secs() -> u64 {
    let script = std::fs::read_to_string(wasm_host::corpus::workspace_root().join("fluent-bit/router-start.sh"))
        .expect("fluent-bit/router-start.sh");
    script
        .split("FIRELENS_STOP_DELAY_SECS:-")
        .nth(1)
        .and_then(|s| s.split('}').next())
        .and_then(|s| s.parse().ok())
        .expect("a default FIRELENS_STOP_DELAY_SECS")
}
