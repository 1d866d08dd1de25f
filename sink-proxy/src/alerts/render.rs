//! What every alert format shares: times, counts, task ids and the link to
//! the error in the CloudWatch Logs console.

use super::group::{Kind, Message, Report};

/// Where the errors went in CloudWatch Logs, for links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Console {
    pub region: String,
    pub log_group: String,
}

impl Console {
    /// The console page of the report's stream, from a minute before its
    /// first error to a minute after its last.
    pub fn link(&self, r: &Report) -> Option<String> {
        let stream = r.sample.stream.as_deref()?;
        let (start, end) = (r.first_seen_ms - 60_000, r.last_seen_ms + 60_000);
        let region = &self.region;
        Some(format!(
            "https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#logsV2:log-groups/log-group/{}/log-events/{}$3Fstart$3D{start}$26end$3D{end}",
            console_escape(&self.log_group),
            console_escape(stream),
        ))
    }
}

/// The console's own encoding inside its `#` fragment: percent-encoding,
/// with `%` itself written `$25`.
fn console_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("$25{b:02X}"));
        }
    }
    out
}

/// RFC 3339, UTC, milliseconds.
pub fn time(ms: i64) -> String {
    use aws_smithy_types::date_time::{DateTime, Format};
    DateTime::from_millis(ms)
        .fmt(Format::DateTime)
        .unwrap_or_else(|_| ms.to_string())
}

/// `1204` as `1,204`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `300000` ms as `5 min`; seconds below a minute or when not whole minutes.
pub fn window(ms: i64) -> String {
    let s = ms / 1000;
    if s >= 60 && s % 60 == 0 {
        format!("{} min", s / 60)
    } else {
        format!("{s} s")
    }
}

/// The task id (the ARN's last part), or `-`.
pub fn task_id(r: &Report) -> &str {
    r.sample
        .task
        .as_deref()
        .and_then(|arn| arn.rsplit('/').next())
        .unwrap_or("-")
}

/// One line that says what a report is: "New error" or "1,204 more like
/// this in 5 min".
pub fn headline(r: &Report, window_ms: i64) -> String {
    if r.overflow {
        return format!(
            "{} errors of other kinds (too many kinds to track one by one)",
            count(r.count)
        );
    }
    match r.kind {
        Kind::First => "New error".to_owned(),
        Kind::Repeats => format!("{} more like this in {}", count(r.count), window(window_ms)),
    }
}

/// The message's title.
pub fn title(m: &Message) -> String {
    match m.reports.as_slice() {
        [r] => format!("{} in {}", headline(r, m.window_ms), r.sample.container),
        rs => format!("{} errors in {} groups", count(m.errors()), rs.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_times_windows() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1204), "1,204");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(time(1_764_452_179_123), "2025-11-29T21:36:19.123Z");
        assert_eq!(
            (window(300_000), window(90_000), window(5_000)),
            ("5 min".into(), "90 s".into(), "5 s".into())
        );
    }

    #[test]
    fn console_links_use_the_consoles_escaping() {
        let c = Console {
            region: "eu-west-1".into(),
            log_group: "/ecs/shop errors".into(),
        };
        assert_eq!(console_escape("/ecs/shop errors"), "$252Fecs$252Fshop$2520errors");
        let e =
            super::super::event::ErrorEvent::new("web".into(), None, "ERROR", 120_000, Some("web-firelens-1".into()));
        let r = Report {
            kind: Kind::First,
            fingerprint: e.fingerprint,
            count: 1,
            first_seen_ms: 120_000,
            last_seen_ms: 120_000,
            sample: e,
            overflow: false,
        };
        assert_eq!(
            c.link(&r).unwrap(),
            "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logsV2:log-groups/log-group/$252Fecs$252Fshop$2520errors/log-events/web-firelens-1$3Fstart$3D60000$26end$3D180000"
        );
    }
}
