//! What a chunk becomes, decided before anything is sent: every record's
//! Firehose line, the marked records' CloudWatch events per stream, and the
//! dead letters. Pure and deterministic (the clock is an argument), so the
//! routing is unit-tested and a retried chunk plans to the same parts.

use crate::alerts::event::ErrorEvent;
use crate::alerts::select::Selector;
use crate::cloudwatch::batch::LogEvent;
use crate::deadletter::{self, Reason};
use crate::fields::Fields;
use crate::ingest::decode::Decoded;
use crate::route::{Mark, MessageFormat, StreamTemplate};
use std::collections::BTreeMap;

/// The routing settings a plan needs.
#[derive(Debug, Clone)]
pub struct Routing {
    pub mark: Mark,
    /// CloudWatch Logs: the stream template and the message shape.
    pub cloudwatch: Option<(StreamTemplate, MessageFormat)>,
    /// Firehose: the largest record. `None`: no Firehose stream for records.
    pub firehose_record_bytes: Option<usize>,
    /// Fluent Bit's `json_date_key`: the record's time, not part of a message.
    pub date_key: String,
    /// Which marked records alert; `None`: no alert destination.
    pub alerts: Option<Selector>,
}

#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    /// Records in the chunk (good ones; bad ones are in `dead`).
    pub records: usize,
    /// Records carrying the error mark.
    pub marked: usize,
    /// Health checks the proxy dropped (when it classifies).
    pub health_checks: usize,
    /// One line (no newline) per record for Firehose, in arrival order.
    pub firehose_lines: Vec<Vec<u8>>,
    /// CloudWatch events per stream name, in arrival order.
    pub cloudwatch: BTreeMap<String, Vec<LogEvent>>,
    /// Dead-letter lines, in order.
    pub dead_letter_lines: Vec<Vec<u8>>,
    /// Dead-lettered records (not lines) per reason.
    pub dead: BTreeMap<Reason, usize>,
    /// The marked records that alert, once the chunk is accepted.
    pub alerts: Vec<ErrorEvent>,
}

impl Plan {
    /// Plans a decoded chunk. Records without a timestamp get `now_ms`.
    pub fn new(decoded: Decoded, tag: &str, routing: &Routing, now_ms: i64) -> Self {
        let mut plan = Plan {
            health_checks: decoded.health_checks,
            ..Plan::default()
        };
        for bad in decoded.bad {
            plan.dead_letter(Reason::Unparseable, &bad.error, tag, &bad.raw);
        }
        let archive = routing.firehose_record_bytes.is_some();
        for record in decoded.records {
            let marked = if record.may_be_marked {
                match Fields::parse(&record.line) {
                    Ok(fields) => routing.mark.is_marked(&fields).then_some(fields),
                    Err(e) => {
                        plan.dead_letter(Reason::Unparseable, &format!("invalid JSON: {e}"), tag, &record.line);
                        continue;
                    }
                }
            } else {
                None
            };
            plan.records += 1;
            if let Some(fields) = marked {
                plan.marked += 1;
                let timestamp = record
                    .timestamp_ms
                    .or_else(|| fields.f64(&routing.date_key).and_then(seconds_to_ms))
                    .unwrap_or(now_ms);
                plan.marked_record(&record.line, &fields, timestamp, routing, tag);
            }
            if archive {
                plan.archive(record.line, routing, tag);
            }
        }
        plan
    }

    /// A marked record's CloudWatch event and alert.
    fn marked_record(&mut self, line: &[u8], fields: &Fields<'_>, timestamp: i64, routing: &Routing, tag: &str) {
        let stream = routing
            .cloudwatch
            .as_ref()
            .map(|(template, _)| template.render(fields, tag));
        if let Some(selector) = &routing.alerts
            && let Some(e) = selector.select(line, fields, tag, timestamp, stream.as_deref())
        {
            self.alerts.push(e);
        }
        if let (Some(stream), Some((_, message))) = (stream, &routing.cloudwatch) {
            self.cloudwatch.entry(stream).or_default().push(LogEvent {
                timestamp,
                message: message.render(fields, &routing.date_key),
            });
        }
    }

    /// A body that cannot be decoded (corrupt gzip, unknown encoding): all of
    /// it is a dead letter (it may hold records, nothing can tell which).
    pub fn undecodable(body: &[u8], why: &str, tag: &str) -> Self {
        let mut plan = Plan::default();
        plan.dead_letter(Reason::Undecodable, why, tag, body);
        plan
    }

    /// The record's Firehose line, or a dead letter if it is too big.
    fn archive(&mut self, line: Vec<u8>, routing: &Routing, tag: &str) {
        let Some(max) = routing.firehose_record_bytes else {
            return;
        };
        if line.len() < max {
            self.firehose_lines.push(line);
        } else {
            let why = format!("a line of {} bytes is over the Firehose record limit", line.len());
            self.dead_letter(Reason::Oversized, &why, tag, &line);
        }
    }

    fn dead_letter(&mut self, reason: Reason, error: &str, tag: &str, raw: &[u8]) {
        *self.dead.entry(reason).or_default() += 1;
        self.dead_letter_lines
            .extend(deadletter::lines(reason, error, tag, raw));
    }

    pub fn dead_total(&self) -> usize {
        self.dead.values().sum()
    }
}

/// `json_date_format double` (default) or `epoch`: seconds since the epoch.
fn seconds_to_ms(s: f64) -> Option<i64> {
    (s.is_finite() && s >= 0.0).then(|| (s * 1000.0).round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::decode::{Format, ParseFields, decode};

    fn routing() -> Routing {
        Routing {
            mark: Mark::default(),
            cloudwatch: Some((
                StreamTemplate::parse("{container_name}").unwrap(),
                MessageFormat::Key("log".into()),
            )),
            firehose_record_bytes: Some(crate::firehose::batch::MAX_RECORD_BYTES),
            date_key: "date".into(),
            alerts: None,
        }
    }

    const BODY: &[u8] = br#"{"date":1.5,"container_name":"web","log":"GET / 200"}
{"date":2.0,"container_name":"web","log":"ERROR boom","log_class":"error"}
{"container_name":"worker","log":"FATAL x","log_class":"error"}
{"log":
{"date":3,"container_name":"web","log":"ok"}
"#;

    #[test]
    fn every_record_to_firehose_marked_ones_to_their_stream_bad_ones_dead_lettered() {
        let p = Plan::new(
            decode(BODY, Format::JsonLines, "date", &ParseFields::Always),
            "web-firelens-1",
            &routing(),
            99,
        );
        assert_eq!((p.records, p.marked, p.dead_total()), (4, 2, 1));
        assert_eq!(p.firehose_lines.len(), 4);
        assert_eq!(
            p.firehose_lines[1],
            br#"{"date":2.0,"container_name":"web","log":"ERROR boom","log_class":"error"}"#
        );
        let streams: Vec<(&str, Vec<(i64, &str)>)> = p
            .cloudwatch
            .iter()
            .map(|(s, evs)| {
                (
                    s.as_str(),
                    evs.iter().map(|e| (e.timestamp, e.message.as_str())).collect(),
                )
            })
            .collect();
        assert_eq!(
            streams,
            vec![("web", vec![(2000, "ERROR boom")]), ("worker", vec![(99, "FATAL x")])]
        );
        assert_eq!(p.dead[&Reason::Unparseable], 1);
        assert_eq!(p.dead_letter_lines.len(), 1);
        let dl: serde_json::Value = serde_json::from_slice(&p.dead_letter_lines[0]).unwrap();
        assert_eq!(dl["raw"], r#"{"log":"#);
        assert_eq!(dl["tag"], "web-firelens-1");
    }

    /// The default message: the record's own bytes without the date and ECS
    /// keys; the time from the date key, or from the msgpack event first.
    #[test]
    fn default_message_and_time() {
        let mut r = routing();
        r.cloudwatch = Some((StreamTemplate::parse("{tag}").unwrap(), MessageFormat::default()));
        let line =
            r#"{"date":2.5,"ecs_cluster":"c","log":"ERROR \"x\"","n":1.50,"log_class":"error","ecs_task_arn":"a"}"#;
        let p = Plan::new(
            decode(line.as_bytes(), Format::JsonLines, "date", &ParseFields::Never),
            "t",
            &r,
            0,
        );
        assert_eq!(p.marked, 0, "never read: never marked");
        let p = Plan::new(
            decode(line.as_bytes(), Format::JsonLines, "date", &ParseFields::Always),
            "t",
            &r,
            0,
        );
        let event = &p.cloudwatch["t"][0];
        assert_eq!(event.timestamp, 2500);
        assert_eq!(event.message, r#"{"log":"ERROR \"x\"","n":1.50,"log_class":"error"}"#);
        assert_eq!(p.firehose_lines, [line.as_bytes()], "archived as it came");
        let mut decoded = decode(line.as_bytes(), Format::JsonLines, "date", &ParseFields::Always);
        decoded.records[0].timestamp_ms = Some(7);
        assert_eq!(Plan::new(decoded, "t", &r, 0).cloudwatch["t"][0].timestamp, 7);
    }

    #[test]
    fn one_destination_only() {
        let mut r = routing();
        r.firehose_record_bytes = None;
        let p = Plan::new(
            decode(BODY, Format::JsonLines, "date", &ParseFields::Always),
            "t",
            &r,
            0,
        );
        assert!(p.firehose_lines.is_empty());
        assert_eq!(p.cloudwatch.values().map(Vec::len).sum::<usize>(), 2);
        let mut r = routing();
        r.cloudwatch = None;
        let p = Plan::new(
            decode(BODY, Format::JsonLines, "date", &ParseFields::Always),
            "t",
            &r,
            0,
        );
        assert_eq!((p.firehose_lines.len(), p.marked, p.cloudwatch.len()), (4, 2, 0));
    }

    #[test]
    fn a_record_over_the_firehose_limit_is_dead_lettered_in_parts_not_lost() {
        let mut r = routing();
        r.firehose_record_bytes = Some(1024);
        let big = format!(r#"{{"log":"{}"}}"#, "x".repeat(2000));
        let p = Plan::new(
            decode(big.as_bytes(), Format::JsonLines, "date", &ParseFields::Always),
            "t",
            &r,
            0,
        );
        assert!(p.firehose_lines.is_empty());
        assert_eq!(p.dead[&Reason::Oversized], 1);
        let raw: String = p
            .dead_letter_lines
            .iter()
            .map(|l| {
                serde_json::from_slice::<serde_json::Value>(l).unwrap()["raw"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(raw, big);
    }

    #[test]
    fn same_chunk_same_plan() {
        let a = Plan::new(
            decode(BODY, Format::JsonLines, "date", &ParseFields::Always),
            "t",
            &routing(),
            5,
        );
        let b = Plan::new(
            decode(BODY, Format::JsonLines, "date", &ParseFields::Always),
            "t",
            &routing(),
            5,
        );
        assert_eq!(a, b);
        let g = Plan::undecodable(b"\x1f\x8bxx", "corrupt gzip", "t");
        assert_eq!(
            (g.records, g.dead[&Reason::Undecodable], g.dead_letter_lines.len()),
            (0, 1, 1)
        );
    }
}
