//! One chunk from Fluent Bit, from body to answer: decode, plan, deliver to
//! every destination at once, and say whether all of it was accepted.

use crate::cloudwatch::sink::CloudWatchSink;
use crate::config::Config;
use crate::delivered::{ChunkId, Delivered, Destination, PartId};
use crate::firehose::batch::MAX_RECORD_BYTES;
use crate::firehose::sink::FirehoseSink;
use crate::ingest::decode::{FieldsIf, Format, decode};
use crate::metrics::Metrics;
use crate::outcome::Outcome;
use crate::plan::{Plan, Routing};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

pub struct Proxy {
    pub config: Config,
    routing: Routing,
    firehose: Option<FirehoseSink>,
    dead_letter: Option<FirehoseSink>,
    cloudwatch: Option<CloudWatchSink>,
    delivered: Mutex<Delivered>,
    pub metrics: Arc<Metrics>,
    pub health: crate::health::Health,
    /// Records need their fields only to be routed to CloudWatch.
    fields_if: FieldsIf,
}

/// A chunk's body, decoded from its Content-Encoding (by the server, which
/// accounts for the decoded bytes).
#[derive(Debug, Clone, Copy)]
pub enum Body<'a> {
    Plain(&'a [u8]),
    /// Bytes that could not be decoded (corrupt gzip, unknown encoding).
    Undecodable {
        raw: &'a [u8],
        why: &'static str,
    },
}

/// A chunk all of whose records were accepted by their destinations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub records: usize,
    pub marked: usize,
    pub dead_letters: usize,
}

/// Some part was not accepted; Fluent Bit must send the chunk again (503).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable(pub String);

impl Proxy {
    /// Clients from the standard AWS configuration chain.
    pub async fn from_env(config: Config) -> Self {
        let sdk = crate::aws::sdk_config(config.region.clone()).await;
        Self::new(config, &sdk)
    }

    pub fn new(config: Config, sdk: &aws_config::SdkConfig) -> Self {
        let metrics = Arc::new(Metrics::new());
        let policy = config.delivery.retry_policy();
        let (timeouts, retries) = crate::aws::call_settings(Duration::from_secs(config.delivery.attempt_timeout_secs));
        let firehose_client = aws_sdk_firehose::Client::from_conf(
            aws_sdk_firehose::config::Builder::from(sdk)
                .timeout_config(timeouts.clone())
                .retry_config(retries.clone())
                .build(),
        );
        let firehose_sink = |stream: &str, destination, max_record_bytes, gzip| FirehoseSink {
            client: firehose_client.clone(),
            stream: stream.to_owned(),
            destination,
            max_record_bytes,
            gzip,
            policy: policy.clone(),
            metrics: metrics.clone(),
        };
        let firehose = config
            .firehose
            .as_ref()
            .map(|f| firehose_sink(&f.delivery_stream, Destination::Firehose, f.max_record_bytes, f.gzip));
        // Dead letters are rare and must be readable as they are: no gzip,
        // and the full record size (an oversized record's parts need it).
        let dead_letter = config
            .dead_letter_stream
            .as_deref()
            .map(|s| firehose_sink(s, Destination::DeadLetter, MAX_RECORD_BYTES, false));
        let cloudwatch = config.cloudwatch.as_ref().map(|c| {
            CloudWatchSink::new(
                aws_sdk_cloudwatchlogs::Client::from_conf(
                    aws_sdk_cloudwatchlogs::config::Builder::from(sdk)
                        .timeout_config(timeouts.clone())
                        .retry_config(retries.clone())
                        .build(),
                ),
                c.log_group.clone(),
                c.retention_days,
                c.max_event_bytes,
                policy.clone(),
                metrics.clone(),
            )
        });
        let delivered = Delivered::new(
            config.delivery.remember_parts,
            Duration::from_secs(config.delivery.remember_secs),
        );
        let fields_if = match config.cloudwatch {
            Some(_) => FieldsIf::HasKey(config.mark.field.clone()),
            None => FieldsIf::Never,
        };
        Self {
            routing: config.routing(),
            config,
            firehose,
            dead_letter,
            cloudwatch,
            delivered: Mutex::new(delivered),
            metrics,
            health: crate::health::Health::default(),
            fields_if,
        }
    }

    /// Handles one chunk. `Ok` only when every record reached every
    /// destination it is routed to (or, if it could not be read, the
    /// dead-letter place).
    pub async fn chunk(&self, tag: &str, content_type: Option<&str>, body: Body<'_>) -> Result<Accepted, Unavailable> {
        // A retry of the chunk has the same tag and records; the id is taken
        // after decompression so that compression details cannot change it.
        let (plan, chunk) = match body {
            Body::Plain(plain) => {
                let format = content_type
                    .and_then(Format::from_content_type)
                    .unwrap_or_else(|| Format::sniff(plain));
                let decoded = decode(plain, format, &self.config.ingest.date_key, &self.fields_if);
                (
                    Plan::new(decoded, tag, &self.routing, now_ms()),
                    ChunkId::new(tag, plain),
                )
            }
            Body::Undecodable { raw, why } => (Plan::undecodable(raw, why, tag), ChunkId::new(tag, raw)),
        };
        self.metrics
            .records_in
            .inc_by((plan.records + plan.dead_total()) as u64);
        self.deliver(plan, &chunk).await
    }

    async fn deliver(&self, plan: Plan, chunk: &ChunkId) -> Result<Accepted, Unavailable> {
        let done = |id: &PartId| {
            let now = Instant::now();
            self.delivered.lock().is_ok_and(|mut d| d.contains(id, now))
        };
        let accepted = Accepted {
            records: plan.records,
            marked: plan.marked,
            dead_letters: plan.dead_total(),
        };
        // Taken apart: each destination gets its share without a copy.
        let Plan {
            firehose_lines,
            cloudwatch: events,
            dead_letter_lines,
            dead,
            ..
        } = plan;
        let sent = [
            !firehose_lines.is_empty(),
            !events.is_empty(),
            !dead_letter_lines.is_empty(),
        ];
        let firehose = async {
            match &self.firehose {
                Some(s) => s.deliver(&firehose_lines, chunk, done).await,
                None => Outcome::default(),
            }
        };
        let cloudwatch = async {
            match &self.cloudwatch {
                Some(s) => s.deliver(events, chunk, done).await,
                None => Outcome::default(),
            }
        };
        let dead = async {
            match &self.dead_letter {
                Some(s) => {
                    let o = s.deliver(&dead_letter_lines, chunk, done).await;
                    // Counted in the attempt that sends them, not in a retry
                    // that finds them sent already.
                    if o.complete() && !o.accepted.is_empty() {
                        self.count_dead(&dead);
                    }
                    o
                }
                None => {
                    // No Firehose stream at all: the proxy's own log is the
                    // dead-letter place.
                    for line in &dead_letter_lines {
                        tracing::error!(dead_letter = %String::from_utf8_lossy(line), "dead letter (no Firehose stream configured)");
                    }
                    self.count_dead(&dead);
                    Outcome::default()
                }
            }
        };
        let (firehose, cloudwatch, dead) = tokio::join!(firehose, cloudwatch, dead);
        self.health.record(Destination::Firehose, &firehose, sent[0]);
        self.health.record(Destination::CloudWatch, &cloudwatch, sent[1]);
        self.health.record(Destination::DeadLetter, &dead, sent[2]);
        let outcomes = [firehose, cloudwatch, dead];
        if outcomes.iter().all(Outcome::complete) {
            return Ok(accepted);
        }
        // Remember what was accepted, so the retry sends only the rest.
        let now = Instant::now();
        if let Ok(mut d) = self.delivered.lock() {
            for id in outcomes.iter().flat_map(|o| &o.accepted) {
                d.record(*id, now);
            }
        }
        let why: Vec<&str> = outcomes
            .iter()
            .filter_map(|o| o.result.as_ref().err())
            .map(|f| f.message.as_str())
            .collect();
        Err(Unavailable(why.join("; ")))
    }

    fn count_dead(&self, dead: &std::collections::BTreeMap<crate::deadletter::Reason, usize>) {
        for (reason, n) in dead {
            self.metrics
                .dead_letter_records
                .get_or_create(&[("reason", reason.name())])
                .inc_by(*n as u64);
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
