//! `[cloudwatch]`: where error records go.

use crate::cloudwatch::RETENTION_DAYS;
use crate::cloudwatch::batch::{EVENT_OVERHEAD, MAX_EVENT_BYTES, MIN_SPLIT_BYTES};
use crate::route::{MessageFormat, StreamTemplate};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CloudWatchFile {
    pub log_group: Option<String>,
    pub log_stream: String,
    /// Set on groups this proxy creates.
    pub retention_days: Option<u32>,
    /// Send only this key's value as the message (e.g. `log`)...
    pub message_key: Option<String>,
    /// ...or the record without these keys (default: the ECS metadata keys).
    pub remove_keys: Option<Vec<String>>,
    /// Largest message in bytes before it is split (256 KiB partitions: 262118).
    pub max_event_bytes: usize,
}

impl Default for CloudWatchFile {
    fn default() -> Self {
        Self {
            log_group: None,
            log_stream: StreamTemplate::DEFAULT.into(),
            retention_days: None,
            message_key: None,
            remove_keys: None,
            max_event_bytes: MAX_EVENT_BYTES,
        }
    }
}

/// Validated `[cloudwatch]`: there is a log group.
#[derive(Debug)]
pub struct CloudWatch {
    pub log_group: String,
    pub log_stream: StreamTemplate,
    pub retention_days: Option<u32>,
    pub message: MessageFormat,
    pub max_event_bytes: usize,
}

impl CloudWatchFile {
    /// `group`, `stream`: the command line's, which win over the file's.
    /// `None` when no log group is set: errors go to Firehose only.
    pub fn resolve(self, group: Option<String>, stream: Option<String>) -> Result<Option<CloudWatch>, String> {
        let Some(log_group) = group.or(self.log_group) else {
            return Ok(None);
        };
        if log_group.is_empty()
            || log_group.len() > 512
            || !log_group
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-/#".contains(&b))
        {
            return Err(format!(
                "log group {log_group:?}: 1-512 characters of A-Z a-z 0-9 . _ - / #"
            ));
        }
        if let Some(d) = self.retention_days
            && !RETENTION_DAYS.contains(&d)
        {
            return Err(format!("cloudwatch.retention_days {d}: one of {RETENTION_DAYS:?}"));
        }
        let message = match (self.message_key, self.remove_keys) {
            (Some(_), Some(_)) => {
                return Err("cloudwatch.message_key and cloudwatch.remove_keys exclude each other".into());
            }
            (Some(k), None) => MessageFormat::Key(k),
            (None, Some(keys)) => MessageFormat::RecordWithout(keys),
            (None, None) => MessageFormat::default(),
        };
        let max_event_bytes = self.max_event_bytes;
        if !(MIN_SPLIT_BYTES..=MAX_EVENT_BYTES).contains(&max_event_bytes) {
            return Err(format!(
                "cloudwatch.max_event_bytes {max_event_bytes}: {MIN_SPLIT_BYTES} to {MAX_EVENT_BYTES} (a call is 1,048,576 bytes with {EVENT_OVERHEAD} per event)"
            ));
        }
        Ok(Some(CloudWatch {
            log_group,
            log_stream: StreamTemplate::parse(&stream.unwrap_or(self.log_stream))?,
            retention_days: self.retention_days,
            message,
            max_event_bytes,
        }))
    }
}
