//! Delivery of spooled entries: what each destination's drain does with an
//! entry of its queue, and starting and stopping the drains.

use crate::cloudwatch::batch::{LogEvent, in_window};
use crate::deadletter::{self, Reason};
use crate::delivered::{Destination, PartId};
use crate::drain::{self, Backoff, Deliver, Entry};
use crate::outcome::{Failure, Outcome};
use crate::proxy::{Proxy, QUEUES, queue_index};
use crate::spool::share;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// One destination's drain, delivering with the proxy's sinks.
struct Spooled {
    proxy: Arc<Proxy>,
    dest: Destination,
}

impl Deliver for Spooled {
    async fn attempt(&self, entry: &Entry, done: &(dyn Fn(&PartId) -> bool + Sync)) -> Outcome {
        let p = &self.proxy;
        let outcome = match self.dest {
            Destination::Firehose | Destination::DeadLetter => {
                let sink = match self.dest {
                    Destination::Firehose => p.firehose.as_ref(),
                    _ => p.dead_letter.as_ref(),
                };
                match (sink, share::lines(&entry.payload)) {
                    (Some(sink), Some(lines)) => sink.deliver(&lines, &entry.id, done).await,
                    (None, _) => not_configured(self.dest),
                    (_, None) => self.undecodable(entry),
                }
            }
            Destination::CloudWatch => match (&p.cloudwatch, share::events(&entry.payload)) {
                (Some(sink), Some(streams)) => {
                    let (streams, mut outcome) = self.expire(entry, streams, done).await;
                    if outcome.complete() {
                        let delivered = sink.deliver(streams, &entry.id, done).await;
                        outcome.accepted.extend(delivered.accepted);
                        outcome.result = delivered.result;
                    }
                    outcome
                }
                (None, _) => not_configured(self.dest),
                (_, None) => self.undecodable(entry),
            },
        };
        p.health.record(self.dest, &outcome, true);
        outcome
    }

    fn damaged(&self, queue: &str, bytes: u64) {
        tracing::error!(
            queue,
            bytes,
            "spool: damaged bytes skipped (CRC mismatch); entries in them are lost"
        );
        self.proxy
            .metrics
            .spool_damaged_bytes
            .get_or_create(&crate::metrics::dest(self.dest))
            .inc_by(bytes);
    }
}

impl Spooled {
    /// Events CloudWatch Logs would no longer take (they waited too long)
    /// go to the dead-letter queue, each once: the rest is returned.
    async fn expire(
        &self,
        entry: &Entry,
        streams: BTreeMap<String, Vec<LogEvent>>,
        done: &(dyn Fn(&PartId) -> bool + Sync),
    ) -> (BTreeMap<String, Vec<LogEvent>>, Outcome) {
        let p = &self.proxy;
        let now = now_ms();
        let retention = p.config.cloudwatch.as_ref().and_then(|c| c.retention_days);
        let mut keep = BTreeMap::new();
        let mut lines = Vec::new();
        let mut ids = Vec::new();
        for (stream, events) in streams {
            let (ok, late): (Vec<_>, Vec<_>) = events
                .into_iter()
                .enumerate()
                .partition(|(_, e)| in_window(e.timestamp, now, retention));
            for (i, e) in late {
                let id = entry
                    .id
                    .part(Destination::DeadLetter, [stream.as_bytes(), &i.to_le_bytes()]);
                if done(&id) {
                    continue;
                }
                let why = format!(
                    "cloudwatch event at {} ms outside what CloudWatch Logs accepts",
                    e.timestamp
                );
                lines.extend(deadletter::lines(Reason::Expired, &why, &stream, e.message.as_bytes()));
                ids.push(id);
            }
            if !ok.is_empty() {
                keep.insert(stream, ok.into_iter().map(|(_, e)| e).collect());
            }
        }
        let mut outcome = Outcome::default();
        if ids.is_empty() {
            return (keep, outcome);
        }
        let n = ids.len();
        let spooled = match (&p.dead_letter, p.spool()) {
            (Some(_), Some(spool)) => spool
                .append(vec![(
                    queue_index(Destination::DeadLetter),
                    share::lines_frame(&lines, crate::spool::now_ms()),
                )])
                .await
                .map_err(|e| e.to_string()),
            _ => {
                crate::proxy::log_dead_letters(&lines);
                Ok(())
            }
        };
        match spooled {
            Ok(()) => {
                p.count_dead(&BTreeMap::from([(Reason::Expired, n)]));
                outcome.accepted = ids;
            }
            Err(e) => {
                outcome.result = Err(Failure {
                    message: format!("dead-lettering {n} expired events: {e}"),
                    permanent: false,
                })
            }
        }
        (keep, outcome)
    }

    /// An intact entry that does not decode: a bug, not damage. Logged and
    /// counted as damage so that it is seen; retrying cannot help.
    fn undecodable(&self, entry: &Entry) -> Outcome {
        tracing::error!(
            queue = self.dest.name(),
            bytes = entry.payload.len(),
            "spool: an entry did not decode; skipped"
        );
        self.damaged(self.dest.name(), entry.payload.len() as u64);
        Outcome::default()
    }
}

/// Drains start only for configured destinations, so this is a bug.
fn not_configured(dest: Destination) -> Outcome {
    Outcome {
        accepted: Vec::new(),
        result: Err(Failure {
            message: format!("{} is not configured", dest.name()),
            permanent: true,
        }),
    }
}

fn now_ms() -> i64 {
    crate::spool::now_ms() as i64
}

/// The running drains.
pub struct Drains {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Proxy {
    /// Starts a drain for every spool queue (none without a spool).
    pub fn start_drains(self: &Arc<Self>) -> Drains {
        let (stop, watch) = watch::channel(false);
        let mut tasks = Vec::new();
        if let Some(spool) = self.spool() {
            let backoff = Backoff {
                first: Duration::from_secs(1),
                max: self.config.spool.max_backoff,
            };
            for (i, dest) in QUEUES.iter().enumerate() {
                let Some(queue) = spool.queue(i) else { continue };
                let configured = match dest {
                    Destination::Firehose => self.firehose.is_some(),
                    Destination::CloudWatch => self.cloudwatch.is_some(),
                    Destination::DeadLetter => self.dead_letter.is_some(),
                };
                if !configured {
                    // Entries from a run with other settings wait on disk
                    // (a drain would fail for ever and fail the health check).
                    if queue.position() != queue.end() {
                        tracing::warn!(
                            queue = queue.name,
                            "spool: entries wait for a destination that is not configured now"
                        );
                    }
                    continue;
                }
                let concurrency = match dest {
                    Destination::Firehose => self.config.spool.firehose_concurrency,
                    _ => 1,
                };
                tasks.push(drain::spawn(
                    queue.clone(),
                    Arc::new(Spooled {
                        proxy: self.clone(),
                        dest: *dest,
                    }),
                    concurrency,
                    backoff,
                    self.metrics.oldest_pending(*dest),
                    watch.clone(),
                ));
            }
        }
        Drains { stop, tasks }
    }
}

impl Drains {
    /// Stops at once, leaving what is not delivered in the spool.
    pub fn abort(self) {
        for task in self.tasks {
            task.abort();
        }
    }

    /// Shutdown: the drains deliver what they can until `deadline`; the rest
    /// stays spooled for the next start.
    pub async fn finish(self, deadline: Instant) {
        let _ = self.stop.send(true);
        for mut task in self.tasks {
            let left = deadline.saturating_duration_since(Instant::now());
            if tokio::time::timeout(left, &mut task).await.is_err() {
                task.abort();
            }
        }
    }
}
