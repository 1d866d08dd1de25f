//! Prometheus metrics (`GET /metrics`), one registry per proxy instance.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// One label and its value.
pub type Label = [(&'static str, &'static str); 1];
type Counters = Family<Label, Counter>;
/// An alert destination and a result.
pub type AlertLabel = [(&'static str, &'static str); 2];
type Histograms = Family<Label, Histogram, fn() -> Histogram>;

use crate::delivered::Destination;

pub fn dest(d: Destination) -> Label {
    [("destination", d.name())]
}

pub struct Metrics {
    registry: Registry,
    /// Answers by HTTP status.
    pub requests: Family<[(&'static str, String); 1], Counter>,
    pub records_in: Counter,
    /// Records with the error mark, in chunks accepted.
    pub marked_records: Counter,
    /// Health checks the proxy dropped, in chunks accepted (the chunks it
    /// classifies; the module's drops are Fluent Bit's counters).
    pub health_checks_dropped: Counter,
    pub bytes_in: Counter,
    pub delivered_records: Counters,
    pub delivered_bytes: Counters,
    /// Successful calls (PutRecordBatch, PutLogEvents).
    pub batches: Counters,
    pub retries: Counters,
    pub throttles: Counters,
    /// Deliveries given up for this request (the chunk is answered 503).
    pub failures: Counters,
    /// Parts skipped on a retried chunk because they were accepted before.
    pub skipped_parts: Counters,
    pub dead_letter_records: Counters,
    pub cloudwatch_rejected_events: Counters,
    pub firehose_records: Counter,
    pub firehose_billed_units: Counter,
    pub in_flight_requests: Gauge,
    pub in_flight_bytes: Gauge,
    pub delivery_seconds: Histograms,
    /// Throttles per Firehose delivery stream (several streams: which one).
    pub firehose_stream_throttles: Family<[(&'static str, String); 1], Counter>,
    /// The spool: bytes on disk, chunks refused because it was full, damage
    /// found (skipped entries' bytes, by queue) and torn writes cut at start.
    pub spool_bytes: Gauge,
    pub spool_full: Counter,
    pub spool_damaged_bytes: Counters,
    pub spool_torn_bytes: Counter,
    /// Per destination: arrival time (Unix ms) of the oldest spooled entry
    /// not yet delivered, 0 when none; rendered as `delivery_lag_seconds`.
    pub oldest_pending_ms: Vec<(Label, std::sync::Arc<std::sync::atomic::AtomicU64>)>,
    lag: Family<Label, Gauge<f64, std::sync::atomic::AtomicU64>>,
    /// Alerts: errors that alert (`alert_errors`); per destination and
    /// result (`sent`, `dropped`), messages and the errors they counted.
    pub alert_errors: Counter,
    pub alert_messages: Family<AlertLabel, Counter>,
    pub alert_errors_reported: Family<AlertLabel, Counter>,
    /// Where `spool_bytes` is read from at render time.
    pub spool_used: std::sync::OnceLock<std::sync::Arc<dyn Fn() -> u64 + Send + Sync>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut r = Registry::with_prefix("sink_proxy");
        let m = Self {
            requests: Family::default(),
            records_in: Counter::default(),
            marked_records: Counter::default(),
            health_checks_dropped: Counter::default(),
            bytes_in: Counter::default(),
            delivered_records: Counters::default(),
            delivered_bytes: Counters::default(),
            batches: Counters::default(),
            retries: Counters::default(),
            throttles: Counters::default(),
            failures: Counters::default(),
            skipped_parts: Counters::default(),
            dead_letter_records: Counters::default(),
            cloudwatch_rejected_events: Counters::default(),
            firehose_records: Counter::default(),
            firehose_billed_units: Counter::default(),
            in_flight_requests: Gauge::default(),
            in_flight_bytes: Gauge::default(),
            delivery_seconds: Histograms::new_with_constructor(|| Histogram::new(exponential_buckets(0.005, 2.0, 14))),
            firehose_stream_throttles: Family::default(),
            spool_bytes: Gauge::default(),
            spool_full: Counter::default(),
            spool_damaged_bytes: Counters::default(),
            spool_torn_bytes: Counter::default(),
            oldest_pending_ms: [Destination::Firehose, Destination::CloudWatch, Destination::DeadLetter]
                .into_iter()
                .map(|d| (dest(d), std::sync::Arc::default()))
                .collect(),
            lag: Family::default(),
            alert_errors: Counter::default(),
            alert_messages: Family::default(),
            alert_errors_reported: Family::default(),
            spool_used: std::sync::OnceLock::new(),
            registry: Registry::default(),
        };
        r.register("requests", "HTTP answers by status", m.requests.clone());
        r.register("records_in", "Records received (parsed or not)", m.records_in.clone());
        r.register(
            "marked_records",
            "Records carrying the error mark, in accepted chunks",
            m.marked_records.clone(),
        );
        r.register(
            "health_checks_dropped",
            "Health checks dropped by the proxy, in accepted chunks it classified",
            m.health_checks_dropped.clone(),
        );
        r.register("bytes_in", "Request body bytes received, as sent", m.bytes_in.clone());
        r.register(
            "delivered_records",
            "Records accepted by a destination",
            m.delivered_records.clone(),
        );
        r.register(
            "delivered_bytes",
            "Bytes accepted by a destination",
            m.delivered_bytes.clone(),
        );
        r.register(
            "batches",
            "Successful PutRecordBatch/PutLogEvents calls",
            m.batches.clone(),
        );
        r.register("retries", "Calls retried", m.retries.clone());
        r.register("throttles", "Calls throttled by AWS", m.throttles.clone());
        r.register(
            "failures",
            "Deliveries given up for a request (answered 503)",
            m.failures.clone(),
        );
        r.register(
            "skipped_parts",
            "Parts of a retried chunk accepted before, not sent again",
            m.skipped_parts.clone(),
        );
        r.register(
            "dead_letter_records",
            "Records sent to the dead-letter stream, by reason",
            m.dead_letter_records.clone(),
        );
        r.register(
            "cloudwatch_rejected_events",
            "Events CloudWatch Logs rejected (too old, too new, expired, invalid); still in Firehose",
            m.cloudwatch_rejected_events.clone(),
        );
        r.register("firehose_records", "Firehose records sent", m.firehose_records.clone());
        r.register(
            "firehose_billed_units",
            "5 KiB units the Firehose records sent are billed as",
            m.firehose_billed_units.clone(),
        );
        r.register(
            "in_flight_requests",
            "Requests being handled",
            m.in_flight_requests.clone(),
        );
        r.register(
            "in_flight_bytes",
            "Body bytes held by requests being handled",
            m.in_flight_bytes.clone(),
        );
        r.register(
            "delivery_seconds",
            "Time to deliver a request's share to a destination",
            m.delivery_seconds.clone(),
        );
        r.register(
            "firehose_stream_throttles",
            "Calls throttled, per Firehose delivery stream",
            m.firehose_stream_throttles.clone(),
        );
        r.register("spool_bytes", "Bytes in the spool on disk", m.spool_bytes.clone());
        r.register(
            "spool_full",
            "Chunks refused (429) because the spool was full",
            m.spool_full.clone(),
        );
        r.register(
            "spool_damaged_bytes",
            "Spool bytes found damaged (CRC) and skipped, by queue",
            m.spool_damaged_bytes.clone(),
        );
        r.register(
            "spool_torn_bytes",
            "Bytes of a write torn by a crash, cut off at start (never acknowledged)",
            m.spool_torn_bytes.clone(),
        );
        r.register(
            "delivery_lag_seconds",
            "Age of the oldest spooled entry not yet delivered, per destination",
            m.lag.clone(),
        );
        r.register(
            "alert_errors",
            "Errors that alert (after the alert filter), per task",
            m.alert_errors.clone(),
        );
        r.register(
            "alert_messages",
            "Alert messages, by destination and result (sent, dropped)",
            m.alert_messages.clone(),
        );
        r.register(
            "alert_errors_reported",
            "Errors counted in alert messages, by destination and result (sent, dropped)",
            m.alert_errors_reported.clone(),
        );
        Self { registry: r, ..m }
    }

    /// The oldest-pending clock of a destination's drain.
    pub fn oldest_pending(&self, d: Destination) -> std::sync::Arc<std::sync::atomic::AtomicU64> {
        let label = dest(d);
        self.oldest_pending_ms
            .iter()
            .find(|(l, _)| *l == label)
            .map(|(_, a)| a.clone())
            .unwrap_or_default()
    }

    /// Dead-lettered records, all reasons.
    pub fn dead_letters_total(&self) -> u64 {
        crate::deadletter::Reason::ALL
            .iter()
            .map(|r| self.dead_letter_records.get_or_create(&[("reason", r.name())]).get())
            .sum()
    }

    /// Bytes in the spool now (0 without one).
    pub fn spool_bytes_now(&self) -> u64 {
        self.spool_used.get().map_or(0, |used| used())
    }

    /// Age of `d`'s oldest undelivered spooled entry, in seconds (0: none).
    pub fn lag_seconds(&self, d: Destination) -> f64 {
        let ms = self.oldest_pending(d).load(std::sync::atomic::Ordering::Relaxed);
        if ms == 0 {
            0.0
        } else {
            crate::spool::now_ms().saturating_sub(ms) as f64 / 1000.0
        }
    }

    /// Values computed when read: spool bytes, delivery lag.
    fn refresh(&self) {
        if self.spool_used.get().is_some() {
            self.spool_bytes.set(self.spool_bytes_now() as i64);
        }
        for d in [Destination::Firehose, Destination::CloudWatch, Destination::DeadLetter] {
            self.lag.get_or_create(&dest(d)).set(self.lag_seconds(d));
        }
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        self.refresh();
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

/// One sample's value in rendered metrics: `name` with its labels as
/// rendered (`sink_proxy_firehose_records_total`,
/// `sink_proxy_delivered_records_total{destination="firehose"}`); 0 if absent.
pub fn sample(rendered: &str, name: &str) -> u64 {
    rendered
        .lines()
        .filter_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .filter_map(|v| v.trim().parse::<f64>().ok())
        .map(|v| v as u64)
        .next()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::new();
        m.records_in.inc_by(3);
        m.delivered_records
            .get_or_create(&dest(Destination::Firehose))
            .inc_by(2);
        m.delivery_seconds
            .get_or_create(&dest(Destination::CloudWatch))
            .observe(0.02);
        let text = m.render();
        assert!(text.contains("sink_proxy_records_in_total 3"), "{text}");
        assert!(
            text.contains(r#"sink_proxy_delivered_records_total{destination="firehose"} 2"#),
            "{text}"
        );
        assert!(
            text.contains(r#"sink_proxy_delivery_seconds_count{destination="cloudwatch_logs"} 1"#),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"));
        assert_eq!(sample(&text, "sink_proxy_records_in_total"), 3);
        assert_eq!(
            sample(&text, r#"sink_proxy_delivered_records_total{destination="firehose"}"#),
            2
        );
        assert_eq!(sample(&text, "sink_proxy_absent_total"), 0);
    }
}
