//! The `[alerts]` section and the alert environment variables, resolved
//! into validated settings. The destinations come from the environment
//! only: a webhook URL is a secret (ECS injects it from Secrets Manager or
//! SSM), so it is never in the TOML file and never printed.

use super::group::Limits;
use super::select::{DEFAULT_STATUS_MIN, Selector};
use firelens_filter::rules::ErrorRules;
use serde::Deserialize;
use std::time::Duration;

pub use crate::secret::Secret;

pub const SLACK_ENV: &str = "SINK_PROXY_SLACK_WEBHOOK_URL";
pub const WEBHOOK_ENV: &str = "SINK_PROXY_ALERT_WEBHOOK_URL";
pub const SNS_ENV: &str = "SINK_PROXY_ALERT_SNS_TOPIC_ARN";
pub const WINDOW_ENV: &str = "SINK_PROXY_ALERT_WINDOW_SECS";

/// `[alerts]` in the TOML file. Every key optional.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertsFile {
    /// Repeats of a group are sent as one digest per window.
    pub window_secs: u64,
    /// Per destination: messages a minute, and the burst allowed above it.
    pub max_messages_per_minute: u32,
    pub burst: u32,
    /// Groups tracked per destination; errors of more go to one overflow group.
    pub max_groups: usize,
    /// One attempt to send a message, and attempts before it is given up.
    pub timeout_secs: u64,
    pub max_attempts: u32,
    /// The record key holding the log line (as the module's `log_key`).
    pub log_key: String,
    /// Which errors alert: the module's `[error]` keys (see `select`).
    pub error: Option<toml::Table>,
}

impl Default for AlertsFile {
    fn default() -> Self {
        Self {
            window_secs: 300,
            // Slack takes about one message a second per webhook; an alert
            // channel is read by people, who want far fewer.
            max_messages_per_minute: 20,
            burst: 5,
            max_groups: 1000,
            timeout_secs: 10,
            max_attempts: 3,
            log_key: "log".into(),
            error: None,
        }
    }
}

/// Validated alert settings; `None` from [`AlertsFile::resolve`] when no
/// destination is set.
#[derive(Debug, Clone)]
pub struct AlertSettings {
    pub slack: Option<Secret>,
    pub webhook: Option<Secret>,
    pub sns_topic_arn: Option<String>,
    pub limits: Limits,
    pub timeout: Duration,
    pub max_attempts: u32,
    pub selector: Selector,
}

impl AlertsFile {
    pub fn resolve(self, env: &impl Fn(&str) -> Option<String>) -> Result<Option<AlertSettings>, String> {
        let set = |name: &str| env(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let url = |name: &str| -> Result<Option<Secret>, String> {
            match set(name) {
                None => Ok(None),
                // The message never quotes the value: it is a secret.
                Some(v) if !valid_url(&v) => Err(format!(
                    "{name} is not an http:// or https:// URL (the value is not shown: it is a secret)"
                )),
                Some(v) => Ok(Some(Secret::new(v))),
            }
        };
        let slack = url(SLACK_ENV)?;
        let webhook = url(WEBHOOK_ENV)?;
        let sns_topic_arn = set(SNS_ENV);
        if let Some(arn) = &sns_topic_arn
            && !(arn.starts_with("arn:") && arn.split(':').count() >= 6)
        {
            return Err(format!("{SNS_ENV} {arn:?} is not an SNS topic ARN"));
        }
        let window_secs = match set(WINDOW_ENV) {
            Some(v) => v
                .parse::<u64>()
                .map_err(|_| format!("{WINDOW_ENV} {v:?}: a whole number of seconds"))?,
            None => self.window_secs,
        };
        if !(1..=86_400).contains(&window_secs) {
            return Err(format!("alert window {window_secs} s: 1 to 86400"));
        }
        if self.max_messages_per_minute == 0 || self.burst == 0 || self.max_groups == 0 {
            return Err("alerts.max_messages_per_minute, alerts.burst and alerts.max_groups must be above 0".into());
        }
        if self.timeout_secs == 0 || self.max_attempts == 0 {
            return Err("alerts.timeout_secs and alerts.max_attempts must be above 0".into());
        }
        let selector = match self.error {
            None if self.log_key == "log" => Selector::builtin(),
            table => Selector::new(&self.log_key, error_rules(table.unwrap_or_default())?)?,
        };
        if slack.is_none() && webhook.is_none() && sns_topic_arn.is_none() {
            return Ok(None);
        }
        Ok(Some(AlertSettings {
            slack,
            webhook,
            sns_topic_arn,
            limits: Limits {
                window_ms: window_secs as i64 * 1000,
                per_minute: self.max_messages_per_minute,
                burst: self.burst,
                max_groups: self.max_groups,
            },
            timeout: Duration::from_secs(self.timeout_secs),
            max_attempts: self.max_attempts,
            selector,
        }))
    }
}

/// The module's `[error]` keys, with the alert default for `status_min`.
fn error_rules(mut table: toml::Table) -> Result<ErrorRules, String> {
    table
        .entry("status_min")
        .or_insert(toml::Value::Integer(i64::from(DEFAULT_STATUS_MIN)));
    ErrorRules::deserialize(toml::Value::Table(table))
        .map_err(|e| format!("alerts.error: {}", e.to_string().trim_end()))
}

fn valid_url(v: &str) -> bool {
    v.parse::<hyper::Uri>()
        .is_ok_and(|u| matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn no_destination_no_alerts() {
        assert!(AlertsFile::default().resolve(&env(&[])).unwrap().is_none());
    }

    #[test]
    fn destinations_and_window_from_the_environment() {
        let s = AlertsFile::default()
            .resolve(&env(&[
                (SLACK_ENV, "https://hooks.slack.com/services/T0/B0/secret"),
                (SNS_ENV, "arn:aws:sns:eu-west-1:123456789012:alerts"),
                (WINDOW_ENV, "60"),
            ]))
            .unwrap()
            .unwrap();
        assert_eq!(
            s.slack.as_ref().unwrap().expose(),
            "https://hooks.slack.com/services/T0/B0/secret"
        );
        assert!(s.webhook.is_none());
        assert_eq!(s.limits.window_ms, 60_000);
        assert!(!format!("{s:?}").contains("secret"), "Debug must not show the URL");
    }

    #[test]
    fn a_bad_url_is_refused_without_quoting_it() {
        let e = AlertsFile::default()
            .resolve(&env(&[(WEBHOOK_ENV, "hooks.example.com/sekrit")]))
            .unwrap_err();
        assert!(e.contains(WEBHOOK_ENV) && !e.contains("sekrit"), "{e}");
        assert!(AlertsFile::default().resolve(&env(&[(SNS_ENV, "alerts")])).is_err());
        assert!(
            AlertsFile::default()
                .resolve(&env(&[(SNS_ENV, "arn:aws:sns:r:1:t"), (WINDOW_ENV, "0")]))
                .is_err()
        );
    }

    #[test]
    fn error_keys_keep_the_alert_default_status() {
        let file: AlertsFile = toml::from_str("[error]\nwords = [\"FATAL\"]\n").unwrap();
        let r = error_rules(file.error.unwrap()).unwrap();
        assert_eq!(
            (r.words, r.status_min, r.status_max),
            (vec!["FATAL".to_owned()], 500, 599)
        );
        let file: AlertsFile = toml::from_str("[error]\nstatus_min = 400\n").unwrap();
        assert_eq!(error_rules(file.error.unwrap()).unwrap().status_min, 400);
        let file: AlertsFile = toml::from_str("[error]\nwordz = []\n").unwrap();
        assert!(error_rules(file.error.unwrap()).is_err());
    }
}
