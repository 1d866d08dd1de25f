//! Posting as Fluent Bit's `http` output does (`Format json_lines` with
//! `Compress gzip`, which the tests keep exercising; or `Format msgpack`
//! with sink-proxy classifying, as firelens-lean.conf sends), and plain HTTP
//! requests to the proxy.

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
#[derive(Clone)]
pub struct Chunk {
    pub tag: String,
    /// As sent (see `encoding`).
    pub body: Vec<u8>,
    /// The lines the proxy archives from it (JSON, uncompressed).
    pub lines: Vec<String>,
    pub errors: usize,
    pub encoding: Encoding,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `json_lines`, gzip'd: records the module already classified.
    JsonLinesGzip,
    /// The same, not compressed (firelens.conf as shipped).
    JsonLines,
    /// `msgpack` events of every record, with `X-Sink-Proxy-Classify: on`
    /// (firelens-lean.conf): the proxy drops and marks.
    MsgpackClassify,
}

impl Chunk {
    /// A json_lines chunk of `lines`, gzip'd.
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
            encoding: Encoding::JsonLinesGzip,
        })
    }

    /// The same lines, not compressed.
    pub fn plain(mut self) -> Self {
        let mut text = String::new();
        for l in &self.lines {
            text.push_str(l);
            text.push('\n');
        }
        self.body = text.into_bytes();
        self.encoding = Encoding::JsonLines;
        self
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

/// The labelled corpus as firelens-lean.conf sends it: every record (health
/// checks too) as a Fluent Bit msgpack event, `[[EventTime, {}], record]`,
/// in chunks of up to `records_per_chunk` per tag. `lines` and `errors` are
/// what the proxy keeps: one line per record not labelled `health`.
pub fn lean_chunks(records: &[Value], labels: &[String], records_per_chunk: usize) -> Result<Vec<Chunk>> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
    let secs = u32::try_from(now.as_secs() - 600)?;
    let mut by_tag: std::collections::BTreeMap<String, Vec<usize>> = Default::default();
    for (i, r) in records.iter().enumerate() {
        by_tag.entry(firelens_tag(r)).or_default().push(i);
    }
    let mut out = Vec::new();
    for (tag, indices) in by_tag {
        for part in indices.chunks(records_per_chunk) {
            let mut body = Vec::new();
            let mut lines = Vec::new();
            let mut errors = 0;
            for &i in part {
                let mut time = secs.to_be_bytes().to_vec();
                time.extend_from_slice(&((i as u32 % 1000) * 1_000_000).to_be_bytes());
                let fields = records[i]
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| {
                                (
                                    rmpv::Value::from(k.as_str()),
                                    rmpv::Value::from(v.as_str().unwrap_or("")),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let event = rmpv::Value::Array(vec![
                    rmpv::Value::Array(vec![rmpv::Value::Ext(0, time), rmpv::Value::Map(vec![])]),
                    rmpv::Value::Map(fields),
                ]);
                rmpv::encode::write_value(&mut body, &event)?;
                if labels[i] != "health" {
                    lines.push(records[i].to_string());
                    errors += usize::from(labels[i] == "error");
                }
            }
            out.push(Chunk {
                tag: tag.clone(),
                body,
                lines,
                errors,
                encoding: Encoding::MsgpackClassify,
            });
        }
    }
    Ok(out)
}

impl Chunk {
    /// The request headers Fluent Bit sends with it.
    pub fn headers(&self) -> Vec<(&str, &str)> {
        match self.encoding {
            Encoding::JsonLinesGzip => vec![
                ("Content-Type", "application/x-ndjson"),
                ("Content-Encoding", "gzip"),
                ("X-Fluent-Tag", &self.tag),
            ],
            Encoding::JsonLines => vec![("Content-Type", "application/x-ndjson"), ("X-Fluent-Tag", &self.tag)],
            Encoding::MsgpackClassify => vec![
                ("Content-Type", "application/msgpack"),
                (sink_proxy::config::CLASSIFY_HEADER, "on"),
                ("X-Fluent-Tag", &self.tag),
            ],
        }
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
