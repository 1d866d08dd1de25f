//! `[delivery]`: retries, timeouts and admission limits.

use super::ingest::Ingest;
use crate::retry::RetryPolicy;
use crate::server::{WORKING_SET_FACTOR, working_set};
use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeliveryFile {
    /// Attempts per AWS call before the chunk is answered 503.
    pub max_attempts: u32,
    /// Time per AWS call, retries included, before the chunk is answered 503.
    pub max_retry_secs: u64,
    /// Time for one attempt of an AWS call.
    pub attempt_timeout_secs: u64,
    /// Requests handled at once; more are answered 429.
    pub max_in_flight_requests: usize,
    /// Body bytes held by requests being handled; more are answered 429.
    pub max_in_flight_bytes: usize,
    /// Parts of failed chunks remembered, so a retry skips what was accepted.
    pub remember_parts: usize,
    pub remember_secs: u64,
    /// On SIGTERM: time to finish requests being handled.
    pub shutdown_grace_secs: u64,
}

impl Default for DeliveryFile {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            max_retry_secs: 20,
            attempt_timeout_secs: 10,
            max_in_flight_requests: 8,
            max_in_flight_bytes: 64 << 20,
            remember_parts: 100_000,
            remember_secs: 3600,
            shutdown_grace_secs: 25,
        }
    }
}

/// Validated `[delivery]`.
#[derive(Debug)]
pub struct Delivery {
    pub retry: RetryPolicy,
    pub attempt_timeout: Duration,
    pub max_in_flight_requests: usize,
    pub max_in_flight_bytes: usize,
    pub remember_parts: usize,
    pub remember: Duration,
    pub shutdown_grace: Duration,
}

impl DeliveryFile {
    /// `ingest`: the largest request must fit the in-flight budget.
    pub fn resolve(self, ingest: &Ingest) -> Result<Delivery, String> {
        if self.max_attempts == 0 || self.attempt_timeout_secs == 0 {
            return Err("delivery.max_attempts and delivery.attempt_timeout_secs must be above 0".into());
        }
        // Else the largest request would be answered 429 for ever.
        let largest = working_set(ingest.max_body_bytes, ingest.max_decoded_bytes);
        if self.max_in_flight_requests == 0
            || self.max_in_flight_bytes < largest
            || self.max_in_flight_bytes > u32::MAX as usize
        {
            return Err(format!(
                "delivery.max_in_flight_requests must be above 0, and delivery.max_in_flight_bytes from \
                 ingest.max_body_bytes + {WORKING_SET_FACTOR} x ingest.max_decoded_bytes ({largest}) to {}",
                u32::MAX
            ));
        }
        Ok(Delivery {
            retry: RetryPolicy {
                max_attempts: self.max_attempts,
                max_elapsed: Duration::from_secs(self.max_retry_secs),
                ..RetryPolicy::default()
            },
            attempt_timeout: Duration::from_secs(self.attempt_timeout_secs),
            max_in_flight_requests: self.max_in_flight_requests,
            max_in_flight_bytes: self.max_in_flight_bytes,
            remember_parts: self.remember_parts,
            remember: Duration::from_secs(self.remember_secs),
            shutdown_grace: Duration::from_secs(self.shutdown_grace_secs),
        })
    }
}
