//! Alerts: errors grouped by fingerprint and sent to Slack, a generic
//! webhook and/or an SNS topic, off the data path.
//!
//! - `select`: which marked errors alert; `event`: what an alert knows of one;
//! - `fingerprint`: which errors are the same;
//! - `group`: per destination, what to send when (windows, rate limit);
//! - `slack`, `webhook`, `sns`, `render`: the message formats;
//! - `send`: one message to one destination, with bounded retries.
//!
//! The data path only counts: [`Alerts::offer`] takes a lock per
//! destination to update a bounded table, and never waits for a network.
//! One task per destination sends. A slow or failing destination makes its
//! groups fold into fewer, later messages; what it cannot take after
//! `max_attempts` is dropped, logged and counted, never retried forever.

pub mod config;
pub mod event;
pub mod fingerprint;
pub mod group;
pub mod render;
pub mod select;
pub mod send;
pub mod slack;
pub mod sns;
pub mod webhook;

use crate::metrics::Metrics;
use config::AlertSettings;
use event::ErrorEvent;
use group::{Aggregator, Message};
use render::Console;
use send::{Failure, Kind, Target};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, watch};

/// How often a destination's task looks for digests that are due.
const TICK: Duration = Duration::from_millis(500);

pub struct Alerts {
    channels: Vec<Arc<Channel>>,
    console: Option<Console>,
    timeout: Duration,
    max_attempts: u32,
    metrics: Arc<Metrics>,
}

struct Channel {
    target: Target,
    aggregator: Mutex<Aggregator>,
    wake: Notify,
}

impl Alerts {
    pub fn new(
        settings: &AlertSettings,
        console: Option<Console>,
        sdk: &aws_config::SdkConfig,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<Self> {
        let mut targets = Vec::new();
        for (kind, url) in [(Kind::Slack, &settings.slack), (Kind::Webhook, &settings.webhook)] {
            if let Some(url) = url {
                targets.push(Target::Http {
                    kind,
                    url: url.clone(),
                    client: Box::new(send::https_client()?),
                });
            }
        }
        if let Some(arn) = &settings.sns_topic_arn {
            targets.push(Target::Sns {
                topic_arn: arn.clone(),
                // One call per attempt: `deliver` does the retrying.
                client: aws_sdk_sns::Client::from_conf(
                    aws_sdk_sns::config::Builder::from(sdk)
                        .retry_config(aws_sdk_sns::config::retry::RetryConfig::disabled())
                        .build(),
                ),
            });
        }
        Ok(Self {
            channels: targets
                .into_iter()
                .map(|target| {
                    Arc::new(Channel {
                        target,
                        aggregator: Mutex::new(Aggregator::new(settings.limits)),
                        wake: Notify::new(),
                    })
                })
                .collect(),
            console,
            timeout: settings.timeout,
            max_attempts: settings.max_attempts,
            metrics,
        })
    }

    /// The destinations' names, for the start log (never their URLs).
    pub fn destinations(&self) -> Vec<&'static str> {
        self.channels.iter().map(|c| c.target.kind().name()).collect()
    }

    /// Counts errors of an accepted chunk. Never waits for the network.
    pub fn offer(&self, events: &[ErrorEvent]) {
        if events.is_empty() {
            return;
        }
        self.metrics.alert_errors.inc_by(events.len() as u64);
        let now = now_ms();
        for ch in &self.channels {
            let mut started = false;
            if let Ok(mut a) = ch.aggregator.lock() {
                for e in events {
                    started |= a.observe(e, now);
                }
            }
            if started {
                ch.wake.notify_one();
            }
        }
    }

    /// One sending task per destination, until [`Senders::finish`].
    pub fn start(self: &Arc<Self>) -> Senders {
        let (stop, stopped) = watch::channel(false);
        let tasks = self
            .channels
            .iter()
            .map(|ch| tokio::spawn(self.clone().run(ch.clone(), stopped.clone())))
            .collect();
        Senders { stop, tasks }
    }

    async fn run(self: Arc<Self>, ch: Arc<Channel>, mut stop: watch::Receiver<bool>) {
        let mut last_sent = None;
        loop {
            tokio::select! {
                () = ch.wake.notified() => {}
                () = tokio::time::sleep(TICK) => {}
                _ = stop.changed() => break,
            }
            let due = ch.aggregator.lock().map(|mut a| a.due(now_ms())).unwrap_or_default();
            for m in due {
                self.deliver(&ch.target, &m, &mut last_sent).await;
            }
        }
        // Stopping: whatever is still counted, in one last message.
        let last = ch.aggregator.lock().ok().and_then(|mut a| a.flush(now_ms()));
        if let Some(m) = last {
            self.deliver(&ch.target, &m, &mut last_sent).await;
        }
    }

    /// Sends `m`, trying at most `max_attempts` times; counts the result.
    async fn deliver(&self, target: &Target, m: &Message, last_sent: &mut Option<Instant>) {
        let kind = target.kind();
        let mut why = String::new();
        for attempt in 1..=self.max_attempts {
            if let Some(t) = *last_sent {
                tokio::time::sleep_until((t + kind.spacing()).into()).await;
            }
            let result = target.attempt(m, self.console.as_ref(), self.timeout).await;
            *last_sent = Some(Instant::now());
            let wait = match result {
                Ok(()) => {
                    self.count(kind, "sent", m);
                    return;
                }
                Err(Failure::RetryAfter(d)) => {
                    why = format!("rate limited (Retry-After {} s)", d.as_secs());
                    if d > send::MAX_RETRY_AFTER {
                        break;
                    }
                    d
                }
                Err(Failure::Other(w)) => {
                    why = w;
                    Duration::from_secs(1 << (attempt - 1).min(5))
                }
            };
            if attempt < self.max_attempts {
                tokio::time::sleep(wait).await;
            }
        }
        self.count(kind, "dropped", m);
        tracing::warn!(
            destination = kind.name(),
            errors = m.errors(),
            groups = m.reports.len(),
            %why,
            "alert message given up"
        );
    }

    fn count(&self, kind: Kind, result: &'static str, m: &Message) {
        let labels = [("destination", kind.name()), ("result", result)];
        self.metrics.alert_messages.get_or_create(&labels).inc();
        self.metrics
            .alert_errors_reported
            .get_or_create(&labels)
            .inc_by(m.errors());
    }
}

/// The destinations' tasks.
pub struct Senders {
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Senders {
    /// Flushes every destination (one last message each) by `deadline`;
    /// a destination still sending then is abandoned, with a warning.
    pub async fn finish(self, deadline: Instant) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let abort = task.abort_handle();
            if tokio::time::timeout_at(deadline.into(), task).await.is_err() {
                abort.abort();
                tracing::warn!("alerts: a destination was still sending at shutdown; its last message is lost");
            }
        }
    }
}

fn now_ms() -> i64 {
    crate::spool::now_ms() as i64
}
