//! One error that alerts, as the alert destinations need it.

use super::fingerprint::{Fingerprint, fingerprint};

/// The sample line kept per error: enough to recognise it, bounded so that
/// a 1 MiB line costs no more than a short one.
pub const SAMPLE_BYTES: usize = 2048;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorEvent {
    pub fingerprint: Fingerprint,
    /// ECS container name (FireLens `container_name`).
    pub container: String,
    /// ECS task ARN (FireLens `ecs_task_arn`), when the record has it.
    pub task: Option<String>,
    /// The head of the log line, cut at a character boundary.
    pub sample: String,
    /// Whether `sample` is the whole line.
    pub truncated: bool,
    pub timestamp_ms: i64,
    /// The CloudWatch Logs stream the error went to, if any.
    pub stream: Option<String>,
}

impl ErrorEvent {
    pub fn new(
        container: String,
        task: Option<String>,
        message: &str,
        timestamp_ms: i64,
        stream: Option<String>,
    ) -> Self {
        let fingerprint = fingerprint(&container, message);
        let truncated = message.len() > SAMPLE_BYTES;
        let mut end = message.len().min(SAMPLE_BYTES);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        Self {
            fingerprint,
            container,
            task,
            sample: message[..end].to_owned(),
            truncated,
            timestamp_ms,
            stream,
        }
    }
}
