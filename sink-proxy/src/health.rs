//! Whether the proxy can deliver, for `GET /healthz`.
//!
//! Not ready (503) while a destination's latest delivery failed in a way
//! retrying cannot fix: access denied, a missing stream, bad credentials:
//! a deployment with those should fail its health check and roll back.
//! A transient failure (throttling, 5xx, an AWS outage) is reported in the
//! body but keeps the answer 200: replacing the task would not help, and
//! would throw away what Fluent Bit holds in memory.

use crate::delivered::Destination;
use crate::outcome::Outcome;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;

#[derive(Debug, Default)]
pub struct Health {
    failing: Mutex<BTreeMap<&'static str, Failing>>,
}

#[derive(Debug)]
struct Failing {
    since: Instant,
    error: String,
    permanent: bool,
}

impl Health {
    /// Records a destination's outcome for a chunk (nothing sent: no news).
    pub fn record(&self, dest: Destination, outcome: &Outcome, sent: bool) {
        let Ok(mut failing) = self.failing.lock() else { return };
        match &outcome.result {
            Ok(()) if sent => {
                failing.remove(dest.name());
            }
            Ok(()) => {}
            Err(f) => {
                let since = failing.get(dest.name()).map_or_else(Instant::now, |s| s.since);
                failing.insert(
                    dest.name(),
                    Failing {
                        since,
                        error: f.message.clone(),
                        permanent: f.permanent,
                    },
                );
            }
        }
    }

    /// Ready or not, and a JSON report of the destinations failing now.
    pub fn report(&self) -> (bool, String) {
        let Ok(failing) = self.failing.lock() else {
            return (true, "{\"status\":\"ok\"}".into());
        };
        let ready = !failing.values().any(|f| f.permanent);
        let status = match (ready, failing.is_empty()) {
            (false, _) => "failing",
            (true, false) => "degraded",
            (true, true) => "ok",
        };
        let destinations: Map<String, Value> = failing
            .iter()
            .map(|(name, f)| {
                let v = json!({
                    "failing_for_secs": f.since.elapsed().as_secs(),
                    "permanent": f.permanent,
                    "error": f.error,
                });
                ((*name).to_owned(), v)
            })
            .collect();
        (ready, json!({"status": status, "failing": destinations}).to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Failure;

    fn failed(permanent: bool) -> Outcome {
        Outcome {
            accepted: Vec::new(),
            result: Err(Failure {
                message: "AccessDeniedException".into(),
                permanent,
            }),
        }
    }

    #[test]
    fn permanent_failures_make_it_unready_until_a_success() {
        let h = Health::default();
        assert_eq!(h.report(), (true, r#"{"status":"ok","failing":{}}"#.into()));
        h.record(Destination::Firehose, &failed(false), true);
        let (ready, body) = h.report();
        assert!(ready && body.contains("\"degraded\""), "{body}");
        h.record(Destination::CloudWatch, &failed(true), true);
        let (ready, body) = h.report();
        assert!(
            !ready && body.contains("\"failing\"") && body.contains("cloudwatch_logs"),
            "{body}"
        );
        h.record(Destination::CloudWatch, &Outcome::default(), false);
        assert!(
            !h.report().0,
            "a chunk with nothing for CloudWatch says nothing about it"
        );
        h.record(Destination::CloudWatch, &Outcome::default(), true);
        h.record(Destination::Firehose, &Outcome::default(), true);
        assert!(h.report().0);
        assert!(h.report().1.contains("\"ok\""));
    }
}
