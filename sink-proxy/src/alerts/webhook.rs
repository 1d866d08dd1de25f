//! A message as the generic webhook's JSON (documented in the README's
//! "Alerts"): one object with a `groups` array. Summing `count` over every
//! message sent gives the number of alerting errors.

use super::group::{Kind, Message};
use super::render::{self, Console};
use serde_json::{Value, json};

pub fn payload(m: &Message, console: Option<&Console>) -> Value {
    let groups: Vec<Value> = m
        .reports
        .iter()
        .map(|r| {
            json!({
                "fingerprint": r.fingerprint.to_string(),
                "kind": match r.kind { Kind::First => "first", Kind::Repeats => "repeats" },
                "count": r.count,
                "first_seen": render::time(r.first_seen_ms),
                "last_seen": render::time(r.last_seen_ms),
                "container": r.sample.container,
                "task_arn": r.sample.task,
                "sample": r.sample.sample,
                "sample_truncated": r.sample.truncated,
                "log_stream": r.sample.stream,
                "console_url": console.and_then(|c| c.link(r)),
                "overflow": r.overflow,
                "summary": render::headline(r, m.window_ms),
            })
        })
        .collect();
    json!({
        "source": "sink-proxy",
        "version": 1,
        "title": render::title(m),
        "errors": m.errors(),
        "window_secs": m.window_ms / 1000,
        "folded": m.folded,
        "log_group": console.map(|c| c.log_group.as_str()),
        "groups": groups,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::event::ErrorEvent;
    use crate::alerts::group::Report;

    #[test]
    fn one_object_with_groups_and_their_counts() {
        let e = ErrorEvent::new("web".into(), None, "ERROR \"x\" & <y>", 1_000, None);
        let m = Message {
            reports: vec![Report {
                kind: Kind::Repeats,
                fingerprint: e.fingerprint,
                count: 999,
                first_seen_ms: 1_000,
                last_seen_ms: 9_000,
                sample: e,
                overflow: false,
            }],
            folded: false,
            window_ms: 300_000,
        };
        let v = payload(&m, None);
        assert_eq!(v["errors"], 999);
        let g = &v["groups"][0];
        assert_eq!((g["count"].as_u64(), g["kind"].as_str()), (Some(999), Some("repeats")));
        assert_eq!(g["sample"], "ERROR \"x\" & <y>", "JSON needs no other escaping");
        assert_eq!(g["first_seen"], "1970-01-01T00:00:01Z");
        assert_eq!(g["summary"], "999 more like this in 5 min");
        assert_eq!(v["title"], "999 more like this in 5 min in web");
    }
}
