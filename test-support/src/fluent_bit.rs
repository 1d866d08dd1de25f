//! Posting as Fluent Bit's `http` output does with the shipped settings
//! (`Format json_lines`, `Compress gzip`, `Header_Tag X-Fluent-Tag`), and
//! plain HTTP requests to the proxy.

use anyhow::Result;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use std::net::SocketAddr;
use std::time::Duration;

/// The FireLens tag of a record: `<container name>-firelens-<task id>`.
pub fn firelens_tag(record: &Value) -> String {
    let container = record["container_name"].as_str().unwrap_or("app");
    let task = record["ecs_task_arn"]
        .as_str()
        .and_then(|a| a.rsplit('/').next())
        .unwrap_or("0");
    format!("{container}-firelens-{task}")
}

/// A chunk as Fluent Bit's http output sends it.
pub struct Chunk {
    pub tag: String,
    /// json_lines, gzip'd.
    pub body: Vec<u8>,
    /// The lines, uncompressed.
    pub lines: Vec<String>,
    pub errors: usize,
}

impl Chunk {
    /// A json_lines chunk of `lines`, gzip'd as the shipped settings send it.
    pub fn json_lines(tag: &str, lines: Vec<String>, errors: usize) -> Result<Self> {
        let mut text = String::new();
        for l in &lines {
            text.push_str(l);
            text.push('\n');
        }
        Ok(Self {
            tag: tag.to_owned(),
            body: sink_proxy::gzip::compress(text.as_bytes()),
            lines,
            errors,
        })
    }

    pub fn bytes(&self) -> usize {
        self.lines.iter().map(|l| l.len() + 1).sum()
    }
}

/// The labelled corpus as the filter leaves it (health checks dropped, errors
/// marked) and the http output writes it (`date` first), in chunks of up to
/// `lines_per_chunk` lines per tag. `round` makes every line distinct.
pub fn corpus_chunks(records: &[Value], labels: &[String], lines_per_chunk: usize, round: usize) -> Result<Vec<Chunk>> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs_f64();
    let mut by_tag: std::collections::BTreeMap<String, Vec<(String, bool)>> = Default::default();
    for (i, (r, label)) in records.iter().zip(labels).enumerate() {
        if label == "health" {
            continue;
        }
        let mut m = serde_json::Map::new();
        m.insert(
            "date".into(),
            Value::from(now - 600.0 + (round * records.len() + i) as f64 / 1000.0),
        );
        m.extend(r.as_object().cloned().unwrap_or_default());
        if label == "error" {
            m.insert("log_class".into(), Value::from("error"));
        }
        by_tag
            .entry(firelens_tag(r))
            .or_default()
            .push((Value::Object(m).to_string(), label == "error"));
    }
    let mut out = Vec::new();
    for (tag, lines) in by_tag {
        for part in lines.chunks(lines_per_chunk) {
            let errors = part.iter().filter(|(_, e)| *e).count();
            out.push(Chunk::json_lines(
                &tag,
                part.iter().map(|(l, _)| l.clone()).collect(),
                errors,
            )?);
        }
    }
    Ok(out)
}

impl Chunk {
    /// The request headers Fluent Bit sends with it.
    pub fn headers(&self) -> [(&str, &str); 3] {
        [
            ("Content-Type", "application/x-ndjson"),
            ("Content-Encoding", "gzip"),
            ("X-Fluent-Tag", &self.tag),
        ]
    }
}

/// One post of a chunk; no answer within 60 s or a connection error is
/// `None` (Fluent Bit retries those too).
pub async fn post_chunk(addr: SocketAddr, c: &Chunk) -> Option<Reply> {
    tokio::time::timeout(Duration::from_secs(60), post(addr, "/", &c.headers(), c.body.clone()))
        .await
        .ok()?
        .ok()
}

/// An HTTP answer.
pub struct Reply {
    pub status: u16,
    pub body: String,
}

/// A POST of `body` with `headers`; a connection error is `Err`.
pub async fn post(addr: SocketAddr, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Result<Reply> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut req = hyper::Request::post(format!("http://{addr}{path}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = client.request(req.body(Full::new(Bytes::from(body)))?).await?;
    reply(resp).await
}

/// A GET; a connection error is `Err` (for readiness checks).
pub async fn get(addr: SocketAddr, path: &str) -> Result<Reply> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let resp = client.get(format!("http://{addr}{path}").parse()?).await?;
    reply(resp).await
}

async fn reply(resp: hyper::Response<hyper::body::Incoming>) -> Result<Reply> {
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await?.to_bytes();
    Ok(Reply {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}
