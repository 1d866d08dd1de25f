//! AWS clients and what their errors mean for delivery.
//!
//! The SDK's own retries are off: the sinks retry with [`RetryPolicy`] so that
//! every retry is bounded, counted, and (for Firehose) limited to the records
//! that failed.
//!
//! [`RetryPolicy`]: crate::retry::RetryPolicy

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_firehose::config::http::HttpResponse;
use aws_sdk_firehose::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use std::time::Duration;

/// Shared SDK settings: region and credentials from the standard chain (ECS
/// task role; `AWS_ENDPOINT_URL` points it at a local endpoint in tests).
pub async fn sdk_config(region: Option<String>) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(r) = region {
        loader = loader.region(aws_config::Region::new(r));
    }
    loader.load().await
}

/// Timeouts and retry settings of every client the proxy builds: one attempt
/// is bounded by `attempt_timeout`, and the SDK does not retry by itself.
pub fn call_settings(attempt_timeout: Duration) -> (TimeoutConfig, RetryConfig) {
    (
        TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(5))
            .operation_attempt_timeout(attempt_timeout)
            .build(),
        RetryConfig::disabled(),
    )
}

/// A failed AWS call, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallError {
    /// Worth retrying: throttling, 5xx, timeouts, connection errors.
    pub transient: bool,
    /// The service said to slow down.
    pub throttled: bool,
    /// The error code (`ResourceNotFoundException`...), if the service sent one.
    pub code: Option<String>,
    pub message: String,
}

const THROTTLING: [&str; 5] = [
    "ThrottlingException",
    "Throttling",
    "LimitExceededException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
];
const UNAVAILABLE: [&str; 4] = [
    "ServiceUnavailableException",
    "ServiceUnavailable",
    "InternalFailure",
    "InternalServerError",
];

impl CallError {
    pub fn from_sdk<E>(err: &SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let message = DisplayErrorContext(err).to_string();
        match err {
            SdkError::ServiceError(ctx) => {
                let code = ctx.err().code().map(str::to_owned);
                let status = Some(ctx.raw().status().as_u16());
                Self::service(code, status, message)
            }
            // Never sent (a bug or a bad setting): retrying cannot help.
            SdkError::ConstructionFailure(_) => Self {
                transient: false,
                throttled: false,
                code: None,
                message,
            },
            // Timeouts, connection failures, unreadable responses.
            _ => Self {
                transient: true,
                throttled: false,
                code: None,
                message,
            },
        }
    }

    /// Classifies a service error by its code and HTTP status.
    pub fn service(code: Option<String>, status: Option<u16>, message: String) -> Self {
        let c = code.as_deref().unwrap_or("");
        let throttled = THROTTLING.contains(&c) || status == Some(429);
        let transient = throttled || UNAVAILABLE.contains(&c) || status.is_some_and(|s| s >= 500);
        Self {
            transient,
            throttled,
            code,
            message,
        }
    }

    pub fn is(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        let t = CallError::service(Some("ThrottlingException".into()), Some(400), String::new());
        assert!(t.transient && t.throttled);
        let u = CallError::service(Some("ServiceUnavailableException".into()), Some(503), String::new());
        assert!(u.transient && !u.throttled);
        let five = CallError::service(None, Some(502), String::new());
        assert!(five.transient);
        let denied = CallError::service(Some("AccessDeniedException".into()), Some(400), String::new());
        assert!(!denied.transient);
        let nf = CallError::service(Some("ResourceNotFoundException".into()), Some(400), String::new());
        assert!(!nf.transient && nf.is("ResourceNotFoundException"));
        assert!(CallError::service(None, Some(429), String::new()).throttled);
    }
}
