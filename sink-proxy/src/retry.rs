//! Retries for throttling, 5xx and connection errors: exponential backoff
//! with full jitter, bounded in attempts and in total time, so a request
//! loop always ends (the caller then answers 503 and Fluent Bit retries the
//! chunk later).

use crate::aws::CallError;
use crate::metrics::{Label, Metrics};
use crate::outcome::Failure;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// No new attempt starts after this much time since the first.
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(5),
            max_elapsed: Duration::from_secs(20),
        }
    }
}

impl RetryPolicy {
    /// The delay before attempt `attempt + 1` (attempt counts from 1), or
    /// `None` when no further attempt may be made. `random` in [0, 1) draws
    /// the jitter: the delay is uniform in [0, min(max, base * 2^(attempt-1))].
    pub fn next_delay(&self, attempt: u32, elapsed: Duration, random: f64) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let exp = self
            .base_delay
            .saturating_mul(1u32.checked_shl(attempt.saturating_sub(1)).unwrap_or(u32::MAX));
        let cap = exp.min(self.max_delay);
        let delay = cap.mul_f64(random.clamp(0.0, 1.0));
        (elapsed + delay < self.max_elapsed).then_some(delay)
    }

    /// As `next_delay`, with the jitter drawn from a fast PRNG.
    pub fn next_delay_jittered(&self, attempt: u32, elapsed: Duration) -> Option<Duration> {
        self.next_delay(attempt, elapsed, fastrand::f64())
    }
}

/// Why an attempt did not finish the job.
#[derive(Debug)]
pub struct Retry {
    pub error: CallError,
    /// Worth another attempt (a transient error, or one the attempt itself
    /// has repaired, like a stream it will create again).
    pub retryable: bool,
    /// Start the next attempt at once: the attempt does its own waiting
    /// (a throttled Firehose stream backs off by itself).
    pub now: bool,
}

impl From<CallError> for Retry {
    fn from(error: CallError) -> Self {
        Self {
            retryable: error.transient,
            now: false,
            error,
        }
    }
}

/// The retry logic of the AWS sinks, in one place: each sink's loop makes
/// an attempt and hands a failure to [`Retrier::after`], which counts
/// throttles and retries, decides whether another attempt may be made,
/// logs it, and waits the jittered delay.
pub struct Retrier<'a> {
    policy: &'a RetryPolicy,
    metrics: &'a Metrics,
    label: &'a Label,
    what: &'a str,
    started: Instant,
    attempt: u32,
}

impl<'a> Retrier<'a> {
    /// `label` counts the throttles and retries; `what` names the call in logs.
    pub fn new(policy: &'a RetryPolicy, metrics: &'a Metrics, label: &'a Label, what: &'a str) -> Self {
        Self {
            policy,
            metrics,
            label,
            what,
            started: Instant::now(),
            attempt: 1,
        }
    }

    /// After a failed attempt: `Ok` once it is time for the next one, or the
    /// failure to report when there is none.
    pub async fn after(&mut self, retry: Retry) -> Result<(), Failure> {
        if retry.error.throttled {
            self.metrics.throttles.get_or_create(self.label).inc();
        }
        if !retry.retryable {
            return Err(Failure {
                message: retry.error.message,
                permanent: true,
            });
        }
        let n = self.attempt;
        let Some(delay) = self.policy.next_delay_jittered(n, self.started.elapsed()) else {
            return Err(Failure {
                message: format!("gave up after {n} attempts: {}", retry.error.message),
                permanent: false,
            });
        };
        tracing::warn!(what = self.what, attempt = n, error = %retry.error.message, "retrying");
        self.metrics.retries.get_or_create(self.label).inc();
        if !retry.now {
            tokio::time::sleep(delay).await;
        }
        self.attempt += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exponentially_up_to_the_cap() {
        let p = RetryPolicy::default();
        let full: Vec<Duration> = (1..6).map(|a| p.next_delay(a, Duration::ZERO, 1.0).unwrap()).collect();
        assert_eq!(full, [100, 200, 400, 800, 1600].map(Duration::from_millis));
        let p = RetryPolicy {
            max_attempts: 40,
            ..RetryPolicy::default()
        };
        assert_eq!(p.next_delay(39, Duration::ZERO, 1.0), Some(Duration::from_secs(5)));
        assert_eq!(p.next_delay(3, Duration::ZERO, 0.0), Some(Duration::ZERO));
    }

    #[test]
    fn bounded_in_attempts_and_time() {
        let p = RetryPolicy::default();
        assert_eq!(p.next_delay(6, Duration::ZERO, 0.5), None);
        assert_eq!(p.next_delay(2, Duration::from_secs(20), 0.0), None);
        assert_eq!(
            p.next_delay(2, Duration::from_millis(19_900), 1.0),
            None,
            "the delay would pass the deadline"
        );
        // Whatever the jitter, a loop driven by the policy ends within its bounds.
        let mut elapsed = Duration::ZERO;
        let mut attempts = 1;
        while let Some(d) = p.next_delay_jittered(attempts, elapsed) {
            elapsed += d;
            attempts += 1;
        }
        assert!(attempts <= p.max_attempts && elapsed < p.max_elapsed);
    }

    fn error(transient: bool, throttled: bool) -> Retry {
        Retry::from(CallError {
            transient,
            throttled,
            code: None,
            message: "boom".into(),
        })
    }

    const LABEL: Label = [("destination", "firehose")];

    /// A loop as the sinks write it: attempts until done or refused.
    async fn run(
        p: &RetryPolicy,
        m: &Metrics,
        mut attempt: impl FnMut(u32) -> Result<u32, Retry>,
    ) -> (Result<u32, Failure>, u32) {
        let mut r = Retrier::new(p, m, &LABEL, "test");
        let mut calls = 0;
        loop {
            calls += 1;
            match attempt(calls) {
                Ok(v) => return (Ok(v), calls),
                Err(e) => {
                    if let Err(f) = r.after(e).await {
                        return (Err(f), calls);
                    }
                }
            }
        }
    }

    #[tokio::test]
    async fn retries_transient_errors_within_the_policy_and_counts_them() {
        let m = Metrics::new();
        let p = RetryPolicy {
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(1),
            ..RetryPolicy::default()
        };
        let (r, calls) = run(&p, &m, |n| if n < 3 { Err(error(true, n == 1)) } else { Ok(n) }).await;
        assert_eq!((r, calls), (Ok(3), 3));
        assert_eq!(m.retries.get_or_create(&LABEL).get(), 2);
        assert_eq!(m.throttles.get_or_create(&LABEL).get(), 1);
        // Permanent: one attempt. Always transient: max_attempts, then out.
        let (r, calls) = run(&p, &m, |_| Err(error(false, false))).await;
        assert!(r.unwrap_err().permanent && calls == 1);
        let (r, calls) = run(&p, &m, |_| Err(error(true, false))).await;
        let f = r.unwrap_err();
        assert!(!f.permanent && f.message.starts_with("gave up after"));
        assert!(calls <= p.max_attempts);
    }
}
