//! A message as an SNS notification: a subject (at most 100 ASCII
//! characters, no line breaks) and a plain-text body, for email, SMS and
//! AWS Chatbot. The body stays far below SNS's 256 KiB: at most
//! [`DETAILED`] groups with their sample, one line each for the rest.

use super::group::Message;
use super::render::{self, Console};

pub const MAX_SUBJECT_CHARS: usize = 100;
const DETAILED: usize = 20;
const SAMPLE_CHARS: usize = 1000;

pub fn subject(m: &Message) -> String {
    let ascii: String = format!("sink-proxy: {}", render::title(m))
        .chars()
        .map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '?' })
        .collect();
    ascii.chars().take(MAX_SUBJECT_CHARS).collect()
}

pub fn body(m: &Message, console: Option<&Console>) -> String {
    let mut out = format!("{}\n", render::title(m));
    if m.folded {
        out.push_str("(folded into one message by the alert rate limit)\n");
    }
    for (i, r) in m.reports.iter().enumerate() {
        out.push('\n');
        out.push_str(&format!(
            "{} (container {}, task {}, {} to {}, fingerprint {})\n",
            render::headline(r, m.window_ms),
            r.sample.container,
            render::task_id(r),
            render::time(r.first_seen_ms),
            render::time(r.last_seen_ms),
            r.fingerprint,
        ));
        if i < DETAILED {
            let sample: String = r.sample.sample.chars().take(SAMPLE_CHARS).collect();
            out.push_str(&sample);
            if sample.len() < r.sample.sample.len() || r.sample.truncated {
                out.push_str(" …");
            }
            out.push('\n');
            if let Some(url) = console.and_then(|c| c.link(r)) {
                out.push_str(&url);
                out.push('\n');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::event::ErrorEvent;
    use crate::alerts::group::{Kind, Report};

    #[test]
    fn subject_is_short_ascii_and_body_is_bounded() {
        let reports: Vec<Report> = (0..1000)
            .map(|i| {
                let e = ErrorEvent::new(
                    "wéb\n".into(),
                    None,
                    &format!("ERROR {}", "z".repeat(5000 + i)),
                    0,
                    None,
                );
                Report {
                    kind: Kind::First,
                    fingerprint: e.fingerprint,
                    count: 1,
                    first_seen_ms: 0,
                    last_seen_ms: 0,
                    sample: e,
                    overflow: false,
                }
            })
            .collect();
        let m = Message {
            reports,
            folded: true,
            window_ms: 60_000,
        };
        let s = subject(&m);
        assert!(
            s.len() <= MAX_SUBJECT_CHARS && s.bytes().all(|b| b.is_ascii_graphic() || b == b' '),
            "{s}"
        );
        assert_eq!(s, "sink-proxy: 1,000 errors in 1000 groups");
        let b = body(&m, None);
        assert!(b.len() < 256 * 1024, "{}", b.len());
        assert_eq!(b.matches("New error").count(), 1000);
    }
}
