//! One chunk from Fluent Bit, from body to answer: decode, plan, then either
//! spool each destination's share durably (the drains deliver it later, see
//! `drain`), or, with no spool, deliver to every destination at once and say
//! whether all of it was accepted.

use crate::cloudwatch::sink::CloudWatchSink;
use crate::config::Config;
use crate::delivered::{ChunkId, Delivered, Destination, PartId};
use crate::firehose::batch::MAX_RECORD_BYTES;
use crate::firehose::sink::FirehoseSink;
use crate::ingest::Body;
use crate::ingest::decode::ParseFields;
use crate::metrics::Metrics;
use crate::outcome::Outcome;
use crate::plan::{Plan, Routing};
use crate::spool::{AppendError, Spool, share};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

/// The spool's queues, one per destination, by index.
pub const QUEUES: [Destination; 3] = [Destination::Firehose, Destination::CloudWatch, Destination::DeadLetter];

pub(crate) fn queue_index(d: Destination) -> usize {
    QUEUES.iter().position(|q| *q == d).unwrap_or(0)
}

pub struct Proxy {
    pub config: Config,
    routing: Routing,
    pub(crate) firehose: Option<FirehoseSink>,
    pub(crate) dead_letter: Option<FirehoseSink>,
    pub(crate) cloudwatch: Option<CloudWatchSink>,
    /// With a spool, a chunk is acknowledged once spooled.
    spool: Option<Spool>,
    delivered: Mutex<Delivered>,
    pub metrics: Arc<Metrics>,
    pub health: crate::health::Health,
    /// Records need their fields only to be routed to CloudWatch.
    parse_fields: ParseFields<'static>,
    /// The filter module's rules, for chunks the proxy classifies.
    classifier: firelens_filter::Classifier,
    /// Alert destinations, fed by accepted chunks' errors.
    alerts: Option<Arc<crate::alerts::Alerts>>,
}

/// A chunk all of whose records were accepted by their destinations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub records: usize,
    pub marked: usize,
    pub dead_letters: usize,
}

/// The chunk was not taken; Fluent Bit must send it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// Some part was not accepted, or the spool could not write (503).
    Unavailable(String),
    /// The spool is full (429).
    Full(String),
}

impl Proxy {
    /// Clients from the standard AWS configuration chain.
    pub async fn from_env(config: Config) -> Self {
        let sdk = crate::aws::sdk_config(config.region.clone()).await;
        Self::new(config, &sdk)
    }

    pub fn new(config: Config, sdk: &aws_config::SdkConfig) -> Self {
        let metrics = Arc::new(Metrics::new());
        let policy = config.delivery.retry.clone();
        let (timeouts, retries) = crate::aws::call_settings(config.delivery.attempt_timeout);
        let firehose_client = aws_sdk_firehose::Client::from_conf(
            aws_sdk_firehose::config::Builder::from(sdk)
                .timeout_config(timeouts.clone())
                .retry_config(retries.clone())
                .build(),
        );
        let firehose_sink = |streams: Vec<String>, destination, max_record_bytes, gzip| FirehoseSink {
            client: firehose_client.clone(),
            streams: crate::firehose::streams::Streams::new(streams),
            destination,
            max_record_bytes,
            gzip,
            policy: policy.clone(),
            metrics: metrics.clone(),
        };
        let firehose = config.firehose.as_ref().map(|f| {
            firehose_sink(
                f.delivery_streams.clone(),
                Destination::Firehose,
                f.max_record_bytes,
                f.gzip,
            )
        });
        // Dead letters are rare and must be readable as they are: no gzip,
        // and the full record size (an oversized record's parts need it).
        let dead_letter = config
            .dead_letter_stream
            .as_deref()
            .map(|s| firehose_sink(vec![s.to_owned()], Destination::DeadLetter, MAX_RECORD_BYTES, false));
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
        let delivered = Delivered::new(config.delivery.remember_parts, config.delivery.remember);
        // Marked records need their fields for CloudWatch and for alerts.
        let parse_fields = match (&config.cloudwatch, &config.alerts) {
            (None, None) => ParseFields::Never,
            _ => ParseFields::IfKeyPresent(config.mark.field.clone()),
        };
        let console = match (&config.cloudwatch, sdk.region()) {
            (Some(c), Some(region)) => Some(crate::alerts::render::Console {
                region: region.to_string(),
                log_group: c.log_group.clone(),
            }),
            _ => None,
        };
        let alerts = config.alerts.as_ref().and_then(|settings| {
            match crate::alerts::Alerts::new(settings, console, sdk, metrics.clone()) {
                Ok(a) => Some(Arc::new(a)),
                Err(e) => {
                    tracing::error!(error = %e, "alerts off: no TLS roots for the alert client");
                    None
                }
            }
        });
        let classifier = match firelens_filter::Classifier::new(&config.ingest.rules) {
            Ok(c) => c,
            // Validated with the config; the built-in rules are tested.
            Err(e) => {
                tracing::error!(error = %e, "the rules file does not compile: built-in rules instead");
                firelens_filter::Classifier::builtin()
            }
        };
        Self {
            classifier,
            routing: config.routing(),
            config,
            firehose,
            dead_letter,
            cloudwatch,
            spool: None,
            delivered: Mutex::new(delivered),
            metrics,
            health: crate::health::Health::default(),
            parse_fields,
            alerts,
        }
    }

    /// Opens (recovering) the spool at `settings` with the proxy's queues
    /// ([`QUEUES`]); chunks are then acknowledged once in it, and
    /// [`Proxy::start_drains`] delivers from it. What recovery found is
    /// counted in the metrics and returned for the log.
    pub fn open_spool(mut self, settings: &crate::spool::Settings) -> std::io::Result<(Self, crate::spool::Recovery)> {
        let (spool, recovery) = Spool::open(settings, &QUEUES.map(|d| d.name()))?;
        self.metrics.spool_torn_bytes.inc_by(recovery.torn_bytes);
        let used = spool.used_counter();
        let _ = self
            .metrics
            .spool_used
            .set(Arc::new(move || used.load(std::sync::atomic::Ordering::Relaxed)));
        self.spool = Some(spool);
        Ok((self, recovery))
    }

    pub fn spool(&self) -> Option<&Spool> {
        self.spool.as_ref()
    }

    /// Handles one chunk. `Ok` only when every record reached every
    /// destination it is routed to (or, if it could not be read, the
    /// dead-letter place), or, with a spool, is on disk for each.
    /// `classify`: the chunk asked the proxy to classify its records (no
    /// Wasm filter in Fluent Bit; see [`crate::config::CLASSIFY_HEADER`]).
    pub async fn chunk(&self, tag: &str, body: &Body<'_>, classify: bool) -> Result<Accepted, Refused> {
        let reading = if classify {
            ParseFields::Classify(&self.classifier)
        } else {
            self.parse_fields.clone()
        };
        let mut plan = match body.records(&self.config.ingest.date_key, &reading) {
            Ok(decoded) => Plan::new(decoded, tag, &self.routing, now_ms()),
            Err(why) => Plan::undecodable(body.bytes(), why, tag),
        };
        self.metrics
            .records_in
            .inc_by((plan.records + plan.dead_total() + plan.health_checks) as u64);
        let alerts = std::mem::take(&mut plan.alerts);
        let health_checks = plan.health_checks;
        let result = match &self.spool {
            Some(spool) => self.spool_plan(spool, plan).await,
            // A retry of the chunk has the same tag and bytes. (Spooled
            // entries have ids of their own: no need to hash the body.)
            None => self.deliver(plan, &ChunkId::new(tag, body.bytes())).await,
        };
        // Count and alert once, when the chunk is taken: not for each retry.
        if let Ok(accepted) = &result {
            self.metrics.marked_records.inc_by(accepted.marked as u64);
            self.metrics.health_checks_dropped.inc_by(health_checks as u64);
            if let Some(a) = &self.alerts {
                a.offer(&alerts);
            }
        }
        result
    }

    /// The destinations this proxy delivers to.
    pub fn destinations(&self) -> Vec<Destination> {
        let mut d = Vec::new();
        if self.firehose.is_some() {
            d.push(Destination::Firehose);
        }
        if self.cloudwatch.is_some() {
            d.push(Destination::CloudWatch);
        }
        if self.dead_letter.is_some() {
            d.push(Destination::DeadLetter);
        }
        d
    }

    /// Starts writing the metrics as EMF lines on stdout (see `emf`).
    pub fn start_emf(self: &Arc<Self>, settings: crate::emf::Settings) -> crate::emf::Writer {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let proxy = self.clone();
        let (destinations, alerts) = (self.destinations(), self.alert_destinations());
        let read = move |router: Option<&crate::router::Counters>| {
            crate::emf::Snapshot::read(&proxy.metrics, &destinations, &alerts, router)
        };
        crate::emf::Writer {
            stop,
            task: tokio::spawn(crate::emf::run(settings, read, stopped)),
        }
    }

    /// The alert destinations' names (`slack`, `webhook`, `sns`).
    pub fn alert_destinations(&self) -> Vec<&'static str> {
        self.alerts.as_ref().map(|a| a.destinations()).unwrap_or_default()
    }

    /// The alert destinations' sending tasks (none without alerts).
    pub fn start_alerts(&self) -> Option<crate::alerts::Senders> {
        self.alerts.as_ref().map(crate::alerts::Alerts::start)
    }

    /// Each destination's share, durably in its queue: all or nothing.
    async fn spool_plan(&self, spool: &Spool, plan: Plan) -> Result<Accepted, Refused> {
        let accepted = Accepted {
            records: plan.records,
            marked: plan.marked,
            dead_letters: plan.dead_total(),
        };
        let now = crate::spool::now_ms();
        let mut frames = Vec::with_capacity(3);
        if self.firehose.is_some() && !plan.firehose_lines.is_empty() {
            frames.push((
                queue_index(Destination::Firehose),
                share::lines_frame(&plan.firehose_lines, now),
            ));
        }
        if self.cloudwatch.is_some() && !plan.cloudwatch.is_empty() {
            frames.push((
                queue_index(Destination::CloudWatch),
                share::events_frame(&plan.cloudwatch, now),
            ));
        }
        if !plan.dead_letter_lines.is_empty() {
            match &self.dead_letter {
                Some(_) => frames.push((
                    queue_index(Destination::DeadLetter),
                    share::lines_frame(&plan.dead_letter_lines, now),
                )),
                None => log_dead_letters(&plan.dead_letter_lines),
            }
        }
        match spool.append(frames).await {
            Ok(()) => {
                self.count_dead(&plan.dead);
                Ok(accepted)
            }
            Err(e @ AppendError::Full { .. }) => {
                self.metrics.spool_full.inc();
                Err(Refused::Full(e.to_string()))
            }
            Err(e @ AppendError::Io(_)) => Err(Refused::Unavailable(e.to_string())),
        }
    }

    async fn deliver(&self, plan: Plan, chunk: &ChunkId) -> Result<Accepted, Refused> {
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
                    log_dead_letters(&dead_letter_lines);
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
        Err(Refused::Unavailable(why.join("; ")))
    }

    pub(crate) fn count_dead(&self, dead: &std::collections::BTreeMap<crate::deadletter::Reason, usize>) {
        for (reason, n) in dead {
            self.metrics
                .dead_letter_records
                .get_or_create(&[("reason", reason.name())])
                .inc_by(*n as u64);
        }
    }
}

/// No Firehose stream at all: the proxy's own log is the dead-letter place.
pub(crate) fn log_dead_letters(lines: &[impl AsRef<[u8]>]) {
    for line in lines {
        tracing::error!(dead_letter = %String::from_utf8_lossy(line.as_ref()), "dead letter (no Firehose stream configured)");
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
