//! Sends error events to one CloudWatch Logs group: streams (and the group)
//! created on demand and cached, every PutLogEvents call within the limits
//! (see `batch`), retries bounded, rejected events accounted for.

use super::batch::{LogEvent, batches};
use crate::aws::CallError;
use crate::delivered::{ChunkId, Destination, PartId};
use crate::metrics::{Metrics, dest};
use crate::outcome::{Failure, Outcome};
use crate::retry::{Retrier, Retry, RetryPolicy};
use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

const LABEL: crate::metrics::Label = [("destination", "cloudwatch_logs")];

pub struct CloudWatchSink {
    pub client: aws_sdk_cloudwatchlogs::Client,
    pub group: String,
    pub retention_days: Option<u32>,
    pub max_event_bytes: usize,
    pub policy: RetryPolicy,
    pub metrics: Arc<Metrics>,
    /// Streams known to exist.
    pub streams: Mutex<HashSet<String>>,
}

/// What a PutLogEvents call ended as, besides failing.
enum Put {
    Accepted {
        rejected: u64,
    },
    /// AWS refused the call's data itself (InvalidParameterException):
    /// sending it again cannot succeed. The events are accounted for.
    Refused(String),
}

impl CloudWatchSink {
    pub fn new(
        client: aws_sdk_cloudwatchlogs::Client,
        group: String,
        retention_days: Option<u32>,
        max_event_bytes: usize,
        policy: RetryPolicy,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            client,
            group,
            retention_days,
            max_event_bytes,
            policy,
            metrics,
            streams: Mutex::default(),
        }
    }

    /// Delivers each stream's events. `done` tells whether a call was
    /// accepted before (a retried chunk); those are not sent again.
    pub async fn deliver(
        &self,
        streams: BTreeMap<String, Vec<LogEvent>>,
        chunk: &ChunkId,
        done: impl Fn(&PartId) -> bool,
    ) -> Outcome {
        let mut outcome = Outcome::default();
        if streams.is_empty() {
            return outcome;
        }
        let started = Instant::now();
        'streams: for (stream, events) in streams {
            let planned = batches(events, self.max_event_bytes);
            if planned.empty > 0 {
                self.rejected("empty", planned.empty as u64);
            }
            for call in planned.calls {
                let id = part_id(chunk, &stream, &call);
                if done(&id) {
                    self.metrics.skipped_parts.get_or_create(&LABEL).inc();
                    continue;
                }
                match self.put_with_retries(&stream, &call).await {
                    Ok(Put::Accepted { rejected }) => {
                        let sent = call.len() as u64;
                        self.metrics.batches.get_or_create(&LABEL).inc();
                        self.metrics
                            .delivered_records
                            .get_or_create(&LABEL)
                            .inc_by(sent.saturating_sub(rejected));
                        self.metrics
                            .delivered_bytes
                            .get_or_create(&LABEL)
                            .inc_by(call.iter().map(|e| e.message.len() as u64).sum());
                        outcome.accepted.push(id);
                    }
                    Ok(Put::Refused(why)) => {
                        tracing::error!(group = %self.group, %stream, events = call.len(), error = %why,
                            "cloudwatch: events refused by AWS; they are not sent again (the Firehose copy keeps them)");
                        self.rejected("invalid", call.len() as u64);
                        outcome.accepted.push(id);
                    }
                    Err(e) => {
                        self.metrics.failures.get_or_create(&LABEL).inc();
                        outcome.result = Err(e.context(&format!("cloudwatch {}/{stream}", self.group)));
                        break 'streams;
                    }
                }
            }
        }
        self.metrics
            .delivery_seconds
            .get_or_create(&dest(Destination::CloudWatch))
            .observe(started.elapsed().as_secs_f64());
        outcome
    }

    async fn put_with_retries(&self, stream: &str, call: &[LogEvent]) -> Result<Put, Failure> {
        let what = format!("cloudwatch {}/{stream}", self.group);
        let mut retrier = Retrier::new(&self.policy, &self.metrics, &LABEL, &what);
        loop {
            let retry = match self.put(stream, call).await {
                Ok(put) => return Ok(put),
                Err(e) if e.is("ResourceNotFoundException") => {
                    // Deleted behind our back, or never created: create it
                    // on the next attempt.
                    self.forget(stream);
                    Retry {
                        retryable: true,
                        ..Retry::from(e)
                    }
                }
                Err(e) => Retry::from(e),
            };
            retrier.after(retry).await?;
        }
    }

    async fn put(&self, stream: &str, call: &[LogEvent]) -> Result<Put, CallError> {
        self.ensure_stream(stream).await?;
        let events = call
            .iter()
            .map(|e| {
                InputLogEvent::builder()
                    .timestamp(e.timestamp)
                    .message(e.message.clone())
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| CallError {
                transient: false,
                throttled: false,
                code: None,
                message: format!("building the events: {e}"),
            })?;
        let sent = self
            .client
            .put_log_events()
            .log_group_name(&self.group)
            .log_stream_name(stream)
            .set_log_events(Some(events))
            .send()
            .await;
        let resp = match sent {
            Ok(r) => r,
            Err(e) => {
                let e = CallError::from_sdk(&e);
                if e.is("InvalidParameterException") {
                    return Ok(Put::Refused(e.message));
                }
                return Err(e);
            }
        };
        let n = call.len() as i64;
        let mut rejected = 0;
        if let Some(info) = resp.rejected_log_events_info() {
            // Indices: events up to an end index are too old or expired, events
            // from the start index on are too new.
            let old = i64::from(info.too_old_log_event_end_index().unwrap_or(-1))
                .max(i64::from(info.expired_log_event_end_index().unwrap_or(-1)))
                .clamp(-1, n - 1)
                + 1;
            let new = info
                .too_new_log_event_start_index()
                .map_or(0, |s| n - i64::from(s).clamp(0, n));
            for (reason, count) in [("too_old_or_expired", old), ("too_new", new)] {
                if count > 0 {
                    self.rejected(reason, count as u64);
                    tracing::warn!(group = %self.group, %stream, reason, count, "cloudwatch: events rejected by AWS (the Firehose copy keeps them)");
                }
            }
            rejected = (old + new).min(n) as u64;
        }
        Ok(Put::Accepted { rejected })
    }

    /// The startup check: the group exists (it is described), or this
    /// proxy may create it (it does so now).
    pub async fn check(&self) -> Result<(), CallError> {
        let found = self
            .client
            .describe_log_groups()
            .log_group_name_prefix(&self.group)
            .send()
            .await
            .map_err(|e| CallError::from_sdk(&e))?;
        if found
            .log_groups()
            .iter()
            .any(|g| g.log_group_name() == Some(self.group.as_str()))
        {
            return Ok(());
        }
        self.create_group().await
    }

    /// Creates the stream (and the group, when missing) unless known to exist.
    async fn ensure_stream(&self, stream: &str) -> Result<(), CallError> {
        if self.streams.lock().is_ok_and(|s| s.contains(stream)) {
            return Ok(());
        }
        match self.create_stream(stream).await {
            Err(e) if e.is("ResourceNotFoundException") => {
                self.create_group().await?;
                self.create_stream(stream).await?;
            }
            other => other?,
        }
        if let Ok(mut s) = self.streams.lock() {
            s.insert(stream.to_owned());
        }
        Ok(())
    }

    async fn create_stream(&self, stream: &str) -> Result<(), CallError> {
        let r = self
            .client
            .create_log_stream()
            .log_group_name(&self.group)
            .log_stream_name(stream)
            .send()
            .await;
        match r.map_err(|e| CallError::from_sdk(&e)) {
            Ok(_) => {
                tracing::info!(group = %self.group, %stream, "cloudwatch: created log stream");
                Ok(())
            }
            Err(e) if e.is("ResourceAlreadyExistsException") => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn create_group(&self) -> Result<(), CallError> {
        let r = self.client.create_log_group().log_group_name(&self.group).send().await;
        match r.map_err(|e| CallError::from_sdk(&e)) {
            Ok(_) => {
                tracing::info!(group = %self.group, "cloudwatch: created log group");
                // Retention is set only on a group this proxy created.
                if let Some(days) = self.retention_days {
                    let r = self
                        .client
                        .put_retention_policy()
                        .log_group_name(&self.group)
                        .retention_in_days(days as i32)
                        .send()
                        .await;
                    // Not a reason to hold back logs: said, and delivery goes on.
                    if let Err(e) = r {
                        tracing::error!(group = %self.group, days, error = %CallError::from_sdk(&e).message,
                            "cloudwatch: could not set retention on the new log group");
                    }
                }
                Ok(())
            }
            Err(e) if e.is("ResourceAlreadyExistsException") => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn forget(&self, stream: &str) {
        if let Ok(mut s) = self.streams.lock() {
            s.remove(stream);
        }
    }

    fn rejected(&self, reason: &'static str, n: u64) {
        self.metrics
            .cloudwatch_rejected_events
            .get_or_create(&[("reason", reason)])
            .inc_by(n);
    }
}

fn part_id(chunk: &ChunkId, stream: &str, call: &[LogEvent]) -> PartId {
    let stamps: Vec<[u8; 8]> = call.iter().map(|e| e.timestamp.to_le_bytes()).collect();
    let pieces = std::iter::once(stream.as_bytes()).chain(
        call.iter()
            .zip(&stamps)
            .flat_map(|(e, t)| [t.as_slice(), e.message.as_bytes()]),
    );
    chunk.part(Destination::CloudWatch, pieces)
}
