//! Whether the proxy can deliver, for `GET /healthz` and the container
//! health check.
//!
//! `/healthz` is 503 while any destination's latest delivery failed:
//! `unavailable` when retrying will fix it (throttling, 5xx, an AWS outage),
//! `failing` when it will not (access denied, a missing stream, bad
//! credentials). It also says what the startup check found (`startup`).
//!
//! The ECS health check (`sink-proxy --check-health`, see
//! [`container_healthy`]) fails only when the startup check found a
//! destination unusable for good: a deployment with a broken role rolls
//! back. Once failed it stays failed (no flapping). Nothing that happens
//! later fails it: replacing tasks would not fix an outage nor a deleted
//! group, would loop, and would throw away what Fluent Bit holds in memory.
//! Those show in `/healthz` and the metrics instead.

use crate::delivered::Destination;
use crate::outcome::Outcome;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;

const FAILING: &str = "failing";
const UNAVAILABLE: &str = "unavailable";

/// The container health check's verdict on a `/healthz` answer: healthy
/// unless the proxy is unreachable or its startup check failed.
pub fn container_healthy(status: u16, body: &str) -> bool {
    (status == 200 || status == 503) && !body.contains(STARTUP_FAILED)
}

const STARTUP_FAILED: &str = "\"startup\":\"failed\"";

/// What the startup check found (see `startup`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Startup {
    /// Not done yet, or AWS did not answer yet (an outage is no verdict).
    #[default]
    Pending,
    Ok,
    /// A destination cannot be used until something is fixed.
    Failed(String),
    /// Not checked (in-process harnesses).
    Skipped,
}

#[derive(Debug, Default)]
pub struct Health {
    failing: Mutex<BTreeMap<&'static str, Failing>>,
    startup: Mutex<Startup>,
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

    /// Records the startup check's verdict. A failure is final: a later
    /// verdict does not undo it.
    pub fn set_startup(&self, s: Startup) {
        if let Ok(mut st) = self.startup.lock()
            && !matches!(*st, Startup::Failed(_))
        {
            *st = s;
        }
    }

    pub fn startup(&self) -> Startup {
        self.startup.lock().map(|s| s.clone()).unwrap_or_default()
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
        let startup = self.startup();
        let mut report = json!({"status": status, "failing": destinations, "startup": match &startup {
            Startup::Pending => "pending",
            Startup::Ok => "ok",
            Startup::Failed(_) => "failed",
            Startup::Skipped => "skipped",
        }});
        if let Startup::Failed(why) = startup {
            report["startup_error"] = json!(why);
        }
        (ready, report.to_string())
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
    fn only_a_failed_startup_check_fails_the_container_and_for_good() {
        let h = Health::default();
        assert!(container_healthy(200, &h.report().1), "pending is healthy");
        h.record(Destination::Firehose, &failed(true), true);
        assert!(
            container_healthy(503, &h.report().1),
            "a later failure does not fail it"
        );
        h.set_startup(Startup::Failed("firehose: AccessDeniedException".into()));
        let body = h.report().1;
        assert!(
            !container_healthy(503, &body) && body.contains("AccessDeniedException"),
            "{body}"
        );
        h.set_startup(Startup::Ok);
        h.record(Destination::Firehose, &Outcome::default(), true);
        assert!(!container_healthy(200, &h.report().1), "no flapping back");
        assert!(!container_healthy(0, ""), "unreachable");
    }

    #[test]
    fn failures_make_it_unready_until_a_success_and_say_whether_retrying_helps() {
        let h = Health::default();
        assert_eq!(
            h.report(),
            (true, r#"{"status":"ok","failing":{},"startup":"pending"}"#.into())
        );
        h.record(Destination::Firehose, &failed(false), true);
        let (ready, body) = h.report();
        assert!(!ready && body.contains("\"unavailable\""), "{body}");
        h.record(Destination::CloudWatch, &failed(true), true);
        let (ready, body) = h.report();
        assert!(
            !ready && body.contains("\"status\":\"failing\"") && body.contains("cloudwatch_logs"),
            "{body}"
        );
        h.record(Destination::CloudWatch, &Outcome::default(), false);
        assert!(
            !h.report().0,
            "a chunk with nothing for CloudWatch says nothing about it"
        );
        assert!(!container_healthy(404, ""));
        h.record(Destination::CloudWatch, &Outcome::default(), true);
        h.record(Destination::Firehose, &Outcome::default(), true);
        assert!(h.report().0);
        assert!(h.report().1.contains("\"ok\""));
    }
}
