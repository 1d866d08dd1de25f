//! Retries for throttling, 5xx and connection errors: exponential backoff
//! with full jitter, bounded in attempts and in total time, so a request
//! loop always ends (the caller then answers 503 and Fluent Bit retries the
//! chunk later).

use std::time::Duration;

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
}
