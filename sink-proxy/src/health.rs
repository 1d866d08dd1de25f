//! Whether the proxy can deliver, for `GET /healthz` and the container
//! health check.
//!
//! `/healthz` is 503 while any destination's latest delivery failed:
//! `unavailable` when retrying will fix it (throttling, 5xx, an AWS outage),
//! `failing` when it will not (access denied, a missing stream, bad
//! credentials). The ECS health check (`sink-proxy --check-health`, see
//! [`container_healthy`]) fails only for `failing`: a deployment with a
//! broken role should roll back, but replacing tasks during an AWS outage
//! would not help and would throw away what Fluent Bit holds in memory.

use crate::delivered::Destination;
use crate::outcome::Outcome;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;

const FAILING: &str = "failing";
const UNAVAILABLE: &str = "unavailable";

/// The container health check's verdict on a `/healthz` answer: healthy
/// unless the proxy is unreachable or failing in a way retrying cannot fix.
pub fn container_healthy(status: u16, body: &str) -> bool {
    status == 200 || (status == 503 && body.contains(&format!("\"status\":\"{UNAVAILABLE}\"")))
}

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

    /// Able to deliver or not, and a JSON report of the destinations failing.
    pub fn report(&self) -> (bool, String) {
        let Ok(failing) = self.failing.lock() else {
            return (true, "{\"status\":\"ok\"}".into());
        };
        let ready = failing.is_empty();
        let status = if failing.values().any(|f| f.permanent) {
            FAILING
        } else if ready {
            "ok"
        } else {
            UNAVAILABLE
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
    fn failures_make_it_unready_until_a_success_and_only_permanent_ones_fail_the_container() {
        let h = Health::default();
        assert_eq!(h.report(), (true, r#"{"status":"ok","failing":{}}"#.into()));
        h.record(Destination::Firehose, &failed(false), true);
        let (ready, body) = h.report();
        assert!(!ready && body.contains("\"unavailable\""), "{body}");
        assert!(container_healthy(503, &body), "an outage does not fail the container");
        h.record(Destination::CloudWatch, &failed(true), true);
        let (ready, body) = h.report();
        assert!(
            !ready && body.contains("\"failing\"") && body.contains("cloudwatch_logs"),
            "{body}"
        );
        assert!(!container_healthy(503, &body), "access denied does");
        h.record(Destination::CloudWatch, &Outcome::default(), false);
        assert!(
            !h.report().0,
            "a chunk with nothing for CloudWatch says nothing about it"
        );
        assert!(!container_healthy(404, "") && container_healthy(200, ""));
        h.record(Destination::CloudWatch, &Outcome::default(), true);
        h.record(Destination::Firehose, &Outcome::default(), true);
        assert!(h.report().0);
        assert!(h.report().1.contains("\"ok\""));
    }
}
