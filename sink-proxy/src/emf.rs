//! The proxy's metrics as CloudWatch Embedded Metric Format (EMF) lines on
//! stdout, every `SINK_PROXY_EMF_INTERVAL_SECS` (60 by default; 0: off).
//! On ECS the `awslogs` driver ships stdout to CloudWatch Logs, which turns
//! each line into metric data points: no agent, no scraper.
//!
//! Counters are written as what they gained in the interval (CloudWatch
//! sums data points); gauges (spool bytes, delivery lag) as their value.
//! Only a task's configured destinations are written, so that an unused
//! destination costs no custom metric. The log router's own counters
//! (`router`) join the line without a dimension when Fluent Bit answers.

use crate::delivered::Destination;
use crate::metrics::{AlertLabel, Metrics, dest};
use crate::router;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

pub const INTERVAL_ENV: &str = "SINK_PROXY_EMF_INTERVAL_SECS";
pub const NAMESPACE_ENV: &str = "SINK_PROXY_EMF_NAMESPACE";
pub const DEFAULT_INTERVAL_SECS: u64 = 60;
pub const DEFAULT_NAMESPACE: &str = "FireLens/SinkProxy";

/// Where and how often.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub interval: std::time::Duration,
    pub namespace: String,
    /// Fluent Bit's HTTP server, for the router's counters; `None`: off.
    pub fluent_bit: Option<router::Source>,
}

impl Settings {
    /// From the environment; `None` when turned off (interval 0).
    pub fn from_env(env: &impl Fn(&str) -> Option<String>) -> Result<Option<Self>, String> {
        let secs = match env(INTERVAL_ENV).filter(|v| !v.trim().is_empty()) {
            Some(v) => v
                .trim()
                .parse::<u64>()
                .map_err(|_| format!("{INTERVAL_ENV} {v:?}: a whole number of seconds (0: off)"))?,
            None => DEFAULT_INTERVAL_SECS,
        };
        if secs == 0 {
            return Ok(None);
        }
        let namespace = env(NAMESPACE_ENV)
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned());
        // CloudWatch: 1 to 255 characters, not starting with "AWS/".
        if namespace.len() > 255 || namespace.starts_with("AWS/") || namespace.chars().any(char::is_control) {
            return Err(format!(
                "{NAMESPACE_ENV} {namespace:?}: up to 255 characters, not starting with AWS/"
            ));
        }
        Ok(Some(Self {
            interval: std::time::Duration::from_secs(secs),
            namespace,
            fluent_bit: router::Source::from_env(env)?,
        }))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Written as the gain since the last line.
    Counter,
    /// Written as it is.
    Gauge,
}

/// A dimension's name and value; `None`: the line without one.
type Dimension = Option<(&'static str, &'static str)>;

/// One value: its metric name and unit, and its dimension, if any.
#[derive(Debug, Clone, PartialEq, PartialOrd, Ord, Eq)]
struct Key {
    dimension: Dimension,
    name: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Reading {
    unit: &'static str,
    kind: Kind,
    value: f64,
}

/// The values of one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot(BTreeMap<Key, Reading>);

impl Snapshot {
    /// Reads `m` for the configured `destinations` and `alert_destinations`,
    /// and the log router's counters when Fluent Bit gave them.
    pub fn read(
        m: &Metrics,
        destinations: &[Destination],
        alert_destinations: &[&'static str],
        router: Option<&router::Counters>,
    ) -> Self {
        let mut s = BTreeMap::new();
        let mut put = |dimension, name, unit, kind, value: u64| {
            s.insert(
                Key { dimension, name },
                Reading {
                    unit,
                    kind,
                    value: value as f64,
                },
            );
        };
        use Kind::{Counter as C, Gauge as G};
        put(None, "RecordsIn", "Count", C, m.records_in.get());
        put(None, "BytesIn", "Bytes", C, m.bytes_in.get());
        put(None, "ErrorsMarked", "Count", C, m.marked_records.get());
        put(None, "DeadLetters", "Count", C, m.dead_letters_total());
        put(None, "FirehoseBilledUnits", "Count", C, m.firehose_billed_units.get());
        put(None, "SpoolBytes", "Bytes", G, m.spool_bytes_now());
        put(None, "SpoolFull", "Count", C, m.spool_full.get());
        put(None, "AlertErrors", "Count", C, m.alert_errors.get());
        // Health checks are dropped by the module in Fluent Bit, or by the
        // proxy for chunks it classifies: both counted here.
        let by_router = router.and_then(|r| r.health_checks_dropped);
        let by_proxy = m.health_checks_dropped.get();
        if by_router.is_some() || by_proxy > 0 {
            put(
                None,
                "HealthChecksDropped",
                "Count",
                C,
                by_router.unwrap_or(0) + by_proxy,
            );
        }
        if let Some(r) = router {
            if let Some(n) = r.records_in {
                put(None, "RouterRecordsIn", "Count", C, n);
            }
            put(None, "RouterRecordsOut", "Count", C, r.records_out);
            put(None, "RouterRetries", "Count", C, r.retries);
            put(None, "RouterRetriesFailed", "Count", C, r.retries_failed);
            put(None, "RouterRecordsDropped", "Count", C, r.records_dropped);
        }
        for d in destinations {
            let dim = Some(("Destination", d.name()));
            let label = dest(*d);
            let c = |f: &Family<crate::metrics::Label, Counter>| f.get_or_create(&label).get();
            put(dim, "DeliveredRecords", "Count", C, c(&m.delivered_records));
            put(dim, "DeliveredBytes", "Bytes", C, c(&m.delivered_bytes));
            put(dim, "Retries", "Count", C, c(&m.retries));
            put(dim, "Throttles", "Count", C, c(&m.throttles));
            put(dim, "Failures", "Count", C, c(&m.failures));
            put(dim, "DeliveryLagSeconds", "Seconds", G, m.lag_seconds(*d) as u64);
        }
        for a in alert_destinations {
            let dim = Some(("AlertDestination", *a));
            let c = |result| {
                let label: AlertLabel = [("destination", a), ("result", result)];
                m.alert_messages.get_or_create(&label).get()
            };
            put(dim, "AlertsSent", "Count", C, c("sent"));
            put(dim, "AlertsDropped", "Count", C, c("dropped"));
        }
        Self(s)
    }

    /// The EMF lines for this moment, counters as gains since `before`:
    /// one line per dimension (none, each destination, each alert one).
    pub fn lines(&self, before: &Snapshot, namespace: &str, timestamp_ms: i64) -> Vec<String> {
        let mut by_dimension: BTreeMap<Dimension, Vec<(&str, Reading)>> = BTreeMap::new();
        for (k, r) in &self.0 {
            let value = match r.kind {
                Kind::Gauge => r.value,
                Kind::Counter => r.value - before.0.get(k).map_or(0.0, |b| b.value),
            };
            by_dimension.entry(k.dimension).or_default().push((
                k.name,
                Reading {
                    value: value.max(0.0),
                    ..*r
                },
            ));
        }
        by_dimension
            .into_iter()
            .map(|(dimension, readings)| line(namespace, timestamp_ms, dimension, &readings))
            .collect()
    }
}

fn line(namespace: &str, timestamp_ms: i64, dimension: Option<(&str, &str)>, readings: &[(&str, Reading)]) -> String {
    let mut root = Map::new();
    let dimensions: Vec<&str> = dimension.iter().map(|(k, _)| *k).collect();
    if let Some((k, v)) = dimension {
        root.insert(k.to_owned(), json!(v));
    }
    let metrics: Vec<Value> = readings
        .iter()
        .map(|(name, r)| {
            root.insert((*name).to_owned(), json!(r.value));
            json!({"Name": name, "Unit": r.unit})
        })
        .collect();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [dimensions],
                "Metrics": metrics,
            }],
        }),
    );
    Value::Object(root).to_string()
}

/// The running writer.
pub struct Writer {
    pub stop: tokio::sync::watch::Sender<bool>,
    pub task: tokio::task::JoinHandle<()>,
}

impl Writer {
    /// Writes the last lines (what the interval gained so far) and stops.
    pub async fn finish(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Writes a line set every interval until `stop`, and a last one then.
pub async fn run(
    settings: Settings,
    read: impl Fn(Option<&router::Counters>) -> Snapshot + Send,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut before = Snapshot::default();
    // Said once when Fluent Bit stops answering, once when it answers again.
    let mut router_failing: Option<String> = None;
    let mut tick = tokio::time::interval(settings.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        let stopping = tokio::select! {
            _ = tick.tick() => false,
            _ = stop.changed() => true,
        };
        let counters = match &settings.fluent_bit {
            None => None,
            Some(source) => match source.read().await {
                Ok(c) => {
                    if router_failing.take().is_some() {
                        tracing::info!("Fluent Bit's counters are readable again");
                    }
                    Some(c)
                }
                Err(e) => {
                    if router_failing.is_none() {
                        tracing::warn!(error = %e, "cannot read Fluent Bit's counters; the Router* and HealthChecksDropped metrics are left out until it answers");
                    }
                    router_failing = Some(e);
                    None
                }
            },
        };
        let now = read(counters.as_ref());
        let text: String = now
            .lines(&before, &settings.namespace, crate::spool::now_ms() as i64)
            .into_iter()
            .map(|l| l + "\n")
            .collect();
        // One write per set: lines from this task never interleave.
        use std::io::Write;
        let _ = std::io::stdout().lock().write_all(text.as_bytes());
        before = now;
        if stopping {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_from_the_environment() {
        let none = |_: &str| None;
        let s = Settings::from_env(&none).unwrap().unwrap();
        assert_eq!((s.interval.as_secs(), s.namespace.as_str()), (60, DEFAULT_NAMESPACE));
        let off = |k: &str| (k == INTERVAL_ENV).then(|| "0".to_owned());
        assert_eq!(Settings::from_env(&off).unwrap(), None);
        let bad = |k: &str| (k == INTERVAL_ENV).then(|| "soon".to_owned());
        assert!(Settings::from_env(&bad).is_err());
        let aws = |k: &str| (k == NAMESPACE_ENV).then(|| "AWS/Mine".to_owned());
        assert!(Settings::from_env(&aws).is_err());
    }

    /// What CloudWatch requires of an EMF line.
    fn assert_valid_emf(line: &str) -> Value {
        let v: Value = serde_json::from_str(line).unwrap();
        let aws = &v["_aws"];
        assert!(aws["Timestamp"].as_i64().unwrap() > 0);
        let directives = aws["CloudWatchMetrics"].as_array().unwrap();
        assert_eq!(directives.len(), 1);
        let d = &directives[0];
        assert!(!d["Namespace"].as_str().unwrap().is_empty());
        for set in d["Dimensions"].as_array().unwrap() {
            let set = set.as_array().unwrap();
            assert!(set.len() <= 30);
            for k in set {
                assert!(v[k.as_str().unwrap()].is_string(), "dimension {k} has a string value");
            }
        }
        let metrics = d["Metrics"].as_array().unwrap();
        assert!(!metrics.is_empty() && metrics.len() <= 100);
        for m in metrics {
            let name = m["Name"].as_str().unwrap();
            assert!(v[name].is_number(), "{name} has a value");
            assert!(["Count", "Bytes", "Seconds"].contains(&m["Unit"].as_str().unwrap()));
        }
        v
    }

    #[test]
    fn counters_are_written_as_gains_and_gauges_as_values() {
        let m = Metrics::new();
        let dests = [Destination::Firehose, Destination::CloudWatch];
        let zero = Snapshot::read(&m, &dests, &["slack"], None);
        m.records_in.inc_by(10);
        m.marked_records.inc_by(2);
        m.delivered_records
            .get_or_create(&dest(Destination::Firehose))
            .inc_by(10);
        let first = Snapshot::read(&m, &dests, &["slack"], None);
        let lines = first.lines(&zero, "FireLens/test", 1_000);
        assert_eq!(lines.len(), 4, "no dimension, two destinations, one alert destination");
        let values: Vec<Value> = lines.iter().map(|l| assert_valid_emf(l)).collect();
        let global = values
            .iter()
            .find(|v| v.get("Destination").is_none() && v.get("AlertDestination").is_none())
            .unwrap();
        assert_eq!(
            (global["RecordsIn"].as_f64(), global["ErrorsMarked"].as_f64()),
            (Some(10.0), Some(2.0))
        );
        assert_eq!(global["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([[]]));
        let fh = values.iter().find(|v| v["Destination"] == "firehose").unwrap();
        assert_eq!(fh["DeliveredRecords"], 10.0);
        assert_eq!(
            fh["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Destination"]])
        );
        assert!(
            values.iter().all(|v| v["Destination"] != "dead_letter"),
            "unconfigured: not written"
        );
        // Nothing new: counters write 0.
        let second = Snapshot::read(&m, &dests, &["slack"], None);
        let again: Vec<Value> = second
            .lines(&first, "n", 2_000)
            .iter()
            .map(|l| assert_valid_emf(l))
            .collect();
        let global = again
            .iter()
            .find(|v| v.get("Destination").is_none() && v.get("AlertDestination").is_none())
            .unwrap();
        assert_eq!(global["RecordsIn"], 0.0);
        assert_eq!(global["SpoolBytes"], 0.0, "no spool");
        assert!(
            global.get("HealthChecksDropped").is_none(),
            "no router counters: left out"
        );
    }

    #[test]
    fn the_router_counters_are_written_as_gains() {
        let m = Metrics::new();
        let at = |dropped, records_in| router::Counters {
            records_in: Some(records_in),
            health_checks_dropped: Some(dropped),
            records_out: records_in - dropped,
            ..Default::default()
        };
        let first = Snapshot::read(&m, &[], &[], Some(&at(30, 100)));
        let second = Snapshot::read(&m, &[], &[], Some(&at(45, 160)));
        let line = |now: &Snapshot, before: &Snapshot| -> Value { assert_valid_emf(&now.lines(before, "n", 1)[0]) };
        let v = line(&first, &Snapshot::default());
        assert_eq!(
            (v["HealthChecksDropped"].as_f64(), v["RouterRecordsIn"].as_f64()),
            (Some(30.0), Some(100.0))
        );
        let v = line(&second, &first);
        assert_eq!(
            (v["HealthChecksDropped"].as_f64(), v["RouterRecordsOut"].as_f64()),
            (Some(15.0), Some(45.0))
        );
        // Fluent Bit restarted: its counters start again; no negative gain.
        let v = line(&Snapshot::read(&m, &[], &[], Some(&at(2, 10))), &second);
        assert_eq!(v["HealthChecksDropped"], 0.0);
    }
}
