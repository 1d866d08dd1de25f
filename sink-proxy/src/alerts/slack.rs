//! A message as Slack Block Kit, for an incoming webhook.
//!
//! Slack's limits, kept here: a header's text at most 150 characters, a
//! section's 3,000, at most 50 blocks; `&`, `<` and `>` escaped in every
//! text (else `<!channel>` in a log line would ping a whole channel).
//! A sample is shown in a code block, so a backtick in it is replaced by a
//! look-alike (U+02CB) that cannot close the block.

use super::group::{Message, Report};
use super::render::{self, Console};
use serde_json::{Value, json};

pub const MAX_HEADER_CHARS: usize = 150;
pub const MAX_TEXT_CHARS: usize = 3000;
pub const MAX_BLOCKS: usize = 50;
/// Groups shown one by one in a folded message; the rest are summed.
const SHOWN_GROUPS: usize = 10;

pub fn payload(m: &Message, console: Option<&Console>) -> Value {
    let title = render::title(m);
    let mut blocks = vec![json!({
        "type": "header",
        "text": {"type": "plain_text", "text": truncate_plain(&format!("🚨 {title}"), MAX_HEADER_CHARS)}
    })];
    let single = m.reports.len() == 1;
    // A folded message shows less of each sample, so that ten fit.
    let sample_chars = if single { 2500 } else { 600 };
    for r in m.reports.iter().take(SHOWN_GROUPS) {
        let mut text = String::new();
        if !single {
            text.push_str(&format!(
                "*{}* · {}\n",
                escape_limited(&r.sample.container, 200),
                escape_limited(&render::headline(r, m.window_ms), 200)
            ));
        }
        text.push_str("```");
        text.push_str(&escape_limited(&r.sample.sample.replace('`', "ˋ"), sample_chars));
        if r.sample.truncated {
            text.push_str(" …");
        }
        text.push_str("```");
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": text}}));
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": context(r)}]}));
        if let Some(url) = console.and_then(|c| c.link(r)) {
            blocks.push(json!({
                "type": "actions",
                "elements": [{
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Open in CloudWatch Logs"},
                    "url": url
                }]
            }));
        }
    }
    if m.reports.len() > SHOWN_GROUPS {
        let rest = &m.reports[SHOWN_GROUPS..];
        let errors: u64 = rest.iter().map(|r| r.count).sum();
        blocks.push(
            json!({"type": "context", "elements": [{"type": "mrkdwn", "text": format!(
                "…and {} more groups ({} errors), folded by the alert rate limit",
                rest.len(), render::count(errors)
            )}]}),
        );
    } else if m.folded {
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn",
            "text": "Folded into one message by the alert rate limit"}]}));
    }
    json!({
        // The notification's text (and the fallback where blocks don't show).
        "text": escape_limited(&title, MAX_HEADER_CHARS),
        "blocks": blocks,
    })
}

fn context(r: &Report) -> String {
    let when = if r.first_seen_ms == r.last_seen_ms {
        format!("at {}", render::time(r.first_seen_ms))
    } else {
        format!(
            "first at {}, last at {}",
            render::time(r.first_seen_ms),
            render::time(r.last_seen_ms)
        )
    };
    escape_limited(
        &format!(
            "{} · task {} · {when} · fingerprint {}",
            r.sample.container,
            render::task_id(r),
            r.fingerprint
        ),
        MAX_TEXT_CHARS,
    )
}

/// Slack's escaping, cut (at a character) so that the escaped text is at
/// most `max` characters, `…` included.
pub fn escape_limited(s: &str, max: usize) -> String {
    let escaped = |c: char| match c {
        '&' => "&amp;".len(),
        '<' | '>' => "&lt;".len(),
        _ => 1,
    };
    let whole: usize = s.chars().map(escaped).sum();
    let budget = if whole <= max { whole } else { max.saturating_sub(1) };
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        used += escaped(c);
        if used > budget {
            out.push('…');
            return out;
        }
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(c),
        }
    }
    out
}

fn truncate_plain(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::event::ErrorEvent;
    use crate::alerts::group::Kind;

    fn report(line: &str, count: u64) -> Report {
        let e = ErrorEvent::new(
            "web".into(),
            Some("arn:aws:ecs:r:1:task/c/abc".into()),
            line,
            1_000,
            Some("s".into()),
        );
        Report {
            kind: if count == 1 { Kind::First } else { Kind::Repeats },
            fingerprint: e.fingerprint,
            count,
            first_seen_ms: 1_000,
            last_seen_ms: 2_000,
            sample: e,
            overflow: false,
        }
    }

    /// Every Block Kit limit this module promises.
    fn assert_valid_block_kit(v: &Value) {
        let blocks = v["blocks"].as_array().unwrap();
        assert!(!blocks.is_empty() && blocks.len() <= MAX_BLOCKS);
        for b in blocks {
            match b["type"].as_str().unwrap() {
                "header" => {
                    assert_eq!(b["text"]["type"], "plain_text");
                    assert!(b["text"]["text"].as_str().unwrap().chars().count() <= MAX_HEADER_CHARS);
                }
                "section" => {
                    assert_eq!(b["text"]["type"], "mrkdwn");
                    assert!(b["text"]["text"].as_str().unwrap().chars().count() <= MAX_TEXT_CHARS);
                }
                "context" => {
                    let els = b["elements"].as_array().unwrap();
                    assert!(!els.is_empty() && els.len() <= 10);
                    for e in els {
                        assert!(e["text"].as_str().unwrap().chars().count() <= MAX_TEXT_CHARS);
                    }
                }
                "actions" => {
                    let btn = &b["elements"][0];
                    assert_eq!(btn["type"], "button");
                    assert!(btn["url"].as_str().unwrap().len() <= 3000);
                    assert!(btn["text"]["text"].as_str().unwrap().chars().count() <= 75);
                }
                other => panic!("unexpected block {other}"),
            }
        }
        assert!(v["text"].as_str().unwrap().chars().count() <= MAX_HEADER_CHARS);
        // A webhook payload well under Slack's 40,000-character message cap.
        assert!(v.to_string().len() < 40_000);
    }

    #[test]
    fn a_one_mib_line_stays_within_slacks_limits_and_is_escaped() {
        let line = format!("ERROR <!channel> a & b > c `x` {}", "<&>".repeat(350_000));
        let m = Message {
            reports: vec![report(&line, 1)],
            folded: false,
            window_ms: 300_000,
        };
        let console = Console {
            region: "eu-west-1".into(),
            log_group: "/ecs/errors".into(),
        };
        let v = payload(&m, Some(&console));
        assert_valid_block_kit(&v);
        let section = v["blocks"][1]["text"]["text"].as_str().unwrap();
        assert!(
            section.starts_with("```ERROR &lt;!channel&gt; a &amp; b &gt; c ˋxˋ "),
            "{section}"
        );
        assert!(!section.contains("<!") && section.ends_with("… …```"));
        assert!(v.to_string().contains("Open in CloudWatch Logs"));
    }

    #[test]
    fn a_folded_digest_of_many_groups_stays_within_the_block_limit() {
        let reports: Vec<Report> = (0..300)
            .map(|i| report(&format!("ERROR kind {}", "y".repeat(i)), 7))
            .collect();
        let m = Message {
            reports,
            folded: true,
            window_ms: 300_000,
        };
        let v = payload(&m, None);
        assert_valid_block_kit(&v);
        let s = v.to_string();
        assert!(s.contains("2,100 errors in 300 groups"), "{s}");
        assert!(s.contains("…and 290 more groups (2,030 errors)"));
    }

    #[test]
    fn escaping_never_exceeds_the_limit() {
        for s in ["", "abc", "<<<<", "&&&&&&&&", "héllo wörld"] {
            for max in 1..12 {
                let e = escape_limited(s, max);
                assert!(e.chars().count() <= max.max(1), "{s:?} {max} -> {e:?}");
            }
        }
        assert_eq!(escape_limited("a<b", 10), "a&lt;b");
    }
}
