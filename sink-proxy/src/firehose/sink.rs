//! Sends lines to Firehose: packed into records, records into
//! PutRecordBatch calls, retrying only the records a call reports as failed
//! (a 200 answer can carry per-record failures). With several delivery
//! streams, each call goes to the next stream that is not backing off, so a
//! throttled stream slows only itself (`streams`).

use super::batch::{billed_units, calls, pack_lines};
use super::streams::Streams;
use crate::aws::CallError;
use crate::delivered::{ChunkId, Destination, PartId};
use crate::metrics::{Metrics, dest};
use crate::outcome::{Failure, Outcome};
use crate::retry::{Retrier, Retry, RetryPolicy};
use aws_sdk_firehose::primitives::Blob;
use aws_sdk_firehose::types::Record;
use std::sync::Arc;
use std::time::Instant;

pub struct FirehoseSink {
    pub client: aws_sdk_firehose::Client,
    pub streams: Streams,
    /// Firehose for records or the dead-letter stream: the part ids and the
    /// metrics labels differ.
    pub destination: Destination,
    pub max_record_bytes: usize,
    pub gzip: bool,
    pub policy: RetryPolicy,
    pub metrics: Arc<Metrics>,
}

/// A Firehose record ready to send.
struct Packed {
    id: PartId,
    data: Vec<u8>,
    lines: u64,
    plain_bytes: u64,
}

impl FirehoseSink {
    /// Delivers `lines` (no newlines). `done` tells whether a part was
    /// accepted before (a retried chunk); those are not sent again.
    pub async fn deliver(
        &self,
        lines: &[impl AsRef<[u8]>],
        chunk: &ChunkId,
        done: impl Fn(&PartId) -> bool,
    ) -> Outcome {
        let mut outcome = Outcome::default();
        if lines.is_empty() {
            return outcome;
        }
        let packed = pack_lines(lines.iter().map(AsRef::as_ref), self.max_record_bytes);
        if !packed.oversized.is_empty() {
            // The plan dead-letters every line over the limit; reaching this
            // is a bug, and the chunk is refused rather than cut.
            outcome.result = Err(Failure {
                message: format!("{} lines over the Firehose record limit", packed.oversized.len()),
                permanent: true,
            });
            return outcome;
        }
        let mut records = Vec::with_capacity(packed.records.len());
        for (plain, lines) in packed.records.into_iter().zip(packed.lines) {
            let id = chunk.part(self.destination, [plain.as_slice()]);
            if done(&id) {
                self.metrics.skipped_parts.get_or_create(&dest(self.destination)).inc();
                continue;
            }
            let plain_bytes = plain.len() as u64;
            let data = if self.gzip {
                crate::gzip::compress(&plain)
            } else {
                plain
            };
            records.push(Packed {
                id,
                data,
                lines,
                plain_bytes,
            });
        }
        let started = Instant::now();
        for range in calls(&records.iter().map(|r| r.data.as_slice()).collect::<Vec<_>>()) {
            let call = &records[range];
            let (accepted, result) = self.put_with_retries(call).await;
            outcome.accepted.extend(accepted.iter().map(|&i| call[i].id));
            if let Err(e) = result {
                self.metrics.failures.get_or_create(&dest(self.destination)).inc();
                outcome.result = Err(e.context(&format!("firehose {}", self.streams.names())));
                break;
            }
        }
        self.metrics
            .delivery_seconds
            .get_or_create(&dest(self.destination))
            .observe(started.elapsed().as_secs_f64());
        outcome
    }

    /// One PutRecordBatch call and its retries. Returns the indices (into
    /// `call`) accepted, and whether all were.
    async fn put_with_retries(&self, call: &[Packed]) -> (Vec<usize>, Result<(), Failure>) {
        let mut pending: Vec<usize> = (0..call.len()).collect();
        let mut accepted = Vec::new();
        let label = dest(self.destination);
        let mut retrier = Retrier::new(&self.policy, &self.metrics, &label, self.destination.name());
        loop {
            let stream = self.streams.pick().await;
            let error = match self.put(stream, call, &pending).await {
                Ok(failed) => {
                    self.streams.ok(stream);
                    let (ok, failed): (Vec<usize>, Vec<usize>) = pending.iter().partition(|i| !failed.contains(i));
                    self.count_accepted(call, &ok);
                    accepted.extend(ok);
                    if failed.is_empty() {
                        return (accepted, Ok(()));
                    }
                    let error = CallError {
                        transient: true,
                        throttled: false,
                        code: None,
                        message: format!("{} of {} records failed", failed.len(), pending.len()),
                    };
                    pending = failed;
                    error
                }
                Err(e) => e,
            };
            let throttled = error.throttled;
            if throttled {
                self.metrics
                    .firehose_stream_throttles
                    .get_or_create(&[("stream", self.streams.name(stream).to_owned())])
                    .inc();
                self.streams.throttled(stream);
            }
            // A throttled stream backs off on its own: the next pick waits
            // for it, or takes another stream that is ready now.
            let retry = Retry {
                now: throttled,
                ..Retry::from(error)
            };
            if let Err(failure) = retrier.after(retry).await {
                return (accepted, Err(failure));
            }
        }
    }

    /// The startup check: each delivery stream can be described (it exists,
    /// and the role reaches it).
    pub async fn check(&self) -> Result<(), CallError> {
        for i in 0..self.streams.len() {
            self.client
                .describe_delivery_stream()
                .delivery_stream_name(self.streams.name(i))
                .send()
                .await
                .map_err(|e| CallError::from_sdk(&e))?;
        }
        Ok(())
    }

    /// Sends `pending` records of `call` to stream number `stream`; returns
    /// the indices that failed.
    async fn put(&self, stream: usize, call: &[Packed], pending: &[usize]) -> Result<Vec<usize>, CallError> {
        let mut req = self
            .client
            .put_record_batch()
            .delivery_stream_name(self.streams.name(stream));
        for &i in pending {
            let data = call.get(i).map(|r| r.data.clone()).unwrap_or_default();
            let record = Record::builder().data(Blob::new(data)).build().map_err(|e| CallError {
                transient: false,
                throttled: false,
                code: None,
                message: e.to_string(),
            })?;
            req = req.records(record);
        }
        let resp = req.send().await.map_err(|e| CallError::from_sdk(&e))?;
        let entries = resp.request_responses();
        if entries.len() != pending.len() {
            // Cannot tell which records landed: send them all again.
            return Ok(pending.to_vec());
        }
        Ok(pending
            .iter()
            .zip(entries)
            .filter(|(_, e)| e.error_code().is_some())
            .map(|(&i, _)| i)
            .collect())
    }

    fn count_accepted(&self, call: &[Packed], ok: &[usize]) {
        let label = dest(self.destination);
        for r in ok.iter().filter_map(|&i| call.get(i)) {
            self.metrics.delivered_records.get_or_create(&label).inc_by(r.lines);
            self.metrics.delivered_bytes.get_or_create(&label).inc_by(r.plain_bytes);
            self.metrics.firehose_records.inc();
            self.metrics.firehose_billed_units.inc_by(billed_units(r.data.len()));
        }
        if !ok.is_empty() {
            self.metrics.batches.get_or_create(&label).inc();
        }
    }
}
