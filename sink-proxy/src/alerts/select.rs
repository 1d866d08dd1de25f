//! Which marked errors alert, and the alert's view of a record.
//!
//! The filter module marks every error its rules find, 4xx statuses
//! included (they go to CloudWatch Logs). Whether one also pages someone is
//! decided here by the same classifier (`firelens_filter`) under the
//! `[alerts.error]` rules: the module's `[error]` keys, with
//! `status_min = 500` by default, so a 4xx alone is stored but does not
//! alert while 5xx and error-or-worse levels do.

use super::event::ErrorEvent;
use crate::fields::Fields;
use firelens_filter::rules::{ErrorRules, HealthRules};
use firelens_filter::{Class, Classifier, RulesFile};

/// The default lowest alerting status: server errors only.
pub const DEFAULT_STATUS_MIN: u16 = 500;

#[derive(Debug, Clone)]
pub struct Selector {
    classifier: Classifier,
    log_key: String,
}

impl Selector {
    pub fn new(log_key: &str, error: ErrorRules) -> Result<Self, String> {
        let rules = RulesFile {
            log_key: log_key.to_owned(),
            // Health checks never reach the proxy: the module dropped them.
            health: HealthRules {
                user_agents: Vec::new(),
            },
            error,
            ..RulesFile::default()
        };
        let classifier = Classifier::new(&rules).map_err(|e| format!("alerts.error: {e}"))?;
        Ok(Self {
            classifier,
            log_key: log_key.to_owned(),
        })
    }

    /// The built-in alert rules: the module's, from status 500.
    pub fn builtin() -> Self {
        let error = ErrorRules {
            status_min: DEFAULT_STATUS_MIN,
            ..ErrorRules::default()
        };
        match Self::new("log", error) {
            Ok(s) => s,
            Err(e) => unreachable!("built-in alert rules are invalid: {e}"),
        }
    }

    /// The alert for a marked record (`json`: the record as JSON), or `None`
    /// if its error does not alert.
    pub fn select(
        &self,
        json: &[u8],
        fields: &Fields<'_>,
        tag: &str,
        timestamp_ms: i64,
        stream: Option<&str>,
    ) -> Option<ErrorEvent> {
        if self.classifier.classify(json, &mut Vec::new()) != Class::Error {
            return None;
        }
        let container = match fields.str("container_name") {
            Some(s) if !s.is_empty() => s.into_owned(),
            // FireLens tags are `<container>-firelens-<task id>`.
            _ => tag.split("-firelens-").next().unwrap_or(tag).to_owned(),
        };
        let task = fields.str("ecs_task_arn").map(std::borrow::Cow::into_owned);
        let message = fields
            .text(&self.log_key)
            .unwrap_or_else(|| String::from_utf8_lossy(json));
        Some(ErrorEvent::new(
            container,
            task,
            message.trim_end_matches(['\n', '\r']),
            timestamp_ms,
            stream.map(str::to_owned),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn select(s: &Selector, record: Value) -> Option<ErrorEvent> {
        let json = record.to_string();
        s.select(
            json.as_bytes(),
            &Fields::parse(json.as_bytes()).unwrap(),
            "web-firelens-abc",
            7,
            Some("web-firelens-abc"),
        )
    }

    #[test]
    fn by_default_5xx_and_error_levels_alert_4xx_does_not() {
        let s = Selector::builtin();
        for (line, alerts) in [
            ("ERROR db down", true),
            ("level=fatal msg=x", true),
            (
                r#"10.0.0.1 - - [29/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 503 12"#,
                true,
            ),
            (
                r#"10.0.0.1 - - [29/Nov/2026:10:00:00 +0000] "GET /x HTTP/1.1" 404 12"#,
                false,
            ),
            ("level=info status=429", false),
            ("level=info status=500", true),
        ] {
            let e = select(&s, json!({"log": line, "log_class": "error", "container_name": "web"}));
            assert_eq!(e.is_some(), alerts, "{line}");
        }
        assert!(select(&s, json!({"log": "x", "status": 502, "log_class": "error"})).is_some());
        assert!(select(&s, json!({"log": "x", "status": 403, "log_class": "error"})).is_none());
    }

    #[test]
    fn filters_are_the_modules_error_rules() {
        let only_fatal = ErrorRules {
            words: vec!["FATAL".into()],
            levels: vec!["fatal".into()],
            status_min: 999,
            status_max: 999,
            ..ErrorRules::default()
        };
        let s = Selector::new("log", only_fatal).unwrap();
        assert!(select(&s, json!({"log": "FATAL x"})).is_some());
        assert!(select(&s, json!({"log": "ERROR x"})).is_none());
        assert!(
            Selector::new(
                "log",
                ErrorRules {
                    status_min: 600,
                    status_max: 500,
                    ..ErrorRules::default()
                }
            )
            .is_err()
        );
    }

    #[test]
    fn the_event_names_container_task_and_line() {
        let s = Selector::builtin();
        let e = select(
            &s,
            json!({"log": "ERROR boom\n", "container_name": "api", "ecs_task_arn": "arn:aws:ecs:eu-west-1:1:task/c/abc"}),
        )
        .unwrap();
        assert_eq!(
            (e.container.as_str(), e.sample.as_str(), e.timestamp_ms),
            ("api", "ERROR boom", 7)
        );
        assert_eq!(e.task.as_deref(), Some("arn:aws:ecs:eu-west-1:1:task/c/abc"));
        // No container_name: the FireLens tag names it; no log key: the record.
        let e = select(&s, json!({"level": "error", "message": "y"})).unwrap();
        assert_eq!(e.container, "web");
        assert_eq!(e.sample, r#"{"level":"error","message":"y"}"#);
    }
}
