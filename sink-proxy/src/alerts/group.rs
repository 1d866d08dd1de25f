//! Grouping and rate limiting for one alert destination: what to send, and
//! when. Pure (the clock is an argument), so every rule is unit-tested.
//!
//! - The first error of a group is reported at once, with a count of 1.
//! - Repeats are counted; when the group's window ends, one digest reports
//!   their count, and a new window starts. A window without repeats ends
//!   the group: its next error is "first" again.
//! - Each message takes a token from a bucket (`burst`, refilled at
//!   `per_minute`). With more reports due than tokens, all but one token go
//!   to single reports and the last carries every other report, folded.
//!   With no token, reports wait (still counted) for the next one.
//! - Every error is in exactly one report: summing the counts of all
//!   messages gives the number of errors observed.
//! - The table is bounded (`max_groups`); errors of new groups beyond it
//!   are counted in one overflow group, never dropped.

use super::event::ErrorEvent;
use super::fingerprint::Fingerprint;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub window_ms: i64,
    pub per_minute: u32,
    pub burst: u32,
    pub max_groups: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A group's first error (count 1).
    First,
    /// Repeats counted since the last report of the group.
    Repeats,
}

/// One group's part of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub kind: Kind,
    pub fingerprint: Fingerprint,
    /// Errors this report accounts for.
    pub count: u64,
    /// Time of the first and last error counted here (Unix ms).
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    /// The group's first error stands for it.
    pub sample: ErrorEvent,
    /// Not a real group: errors of new groups while the table was full.
    pub overflow: bool,
}

/// What one message to the destination says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub reports: Vec<Report>,
    /// Reports were folded into this message by the rate limit.
    pub folded: bool,
    pub window_ms: i64,
}

impl Message {
    /// Errors the message accounts for.
    pub fn errors(&self) -> u64 {
        self.reports.iter().map(|r| r.count).sum()
    }
}

#[derive(Debug)]
struct Group {
    sample: ErrorEvent,
    /// Arrival order, for a stable order of reports.
    seq: u64,
    /// The first error has been reported.
    announced: bool,
    /// Repeats not yet reported, and their first and last times.
    repeats: u64,
    repeats_first_ms: i64,
    repeats_last_ms: i64,
    window_end_ms: i64,
}

impl Group {
    fn new(e: &ErrorEvent, seq: u64, now_ms: i64, window_ms: i64) -> Self {
        Self {
            sample: e.clone(),
            seq,
            announced: false,
            repeats: 0,
            repeats_first_ms: 0,
            repeats_last_ms: 0,
            window_end_ms: now_ms.saturating_add(window_ms),
        }
    }

    fn repeat(&mut self, at_ms: i64) {
        if self.repeats == 0 {
            self.repeats_first_ms = at_ms;
        }
        self.repeats += 1;
        self.repeats_last_ms = self.repeats_last_ms.max(at_ms);
        self.repeats_first_ms = self.repeats_first_ms.min(at_ms);
    }

    /// The report due now, if any (`force`: regardless of the window).
    fn due(&self, now_ms: i64, force: bool) -> Option<Kind> {
        if !self.announced {
            Some(Kind::First)
        } else if self.repeats > 0 && (force || now_ms >= self.window_end_ms) {
            Some(Kind::Repeats)
        } else {
            None
        }
    }

    /// Takes the report out of the group.
    fn take(&mut self, kind: Kind, fingerprint: Fingerprint, overflow: bool, now_ms: i64, window_ms: i64) -> Report {
        let (count, first, last) = match kind {
            Kind::First => {
                self.announced = true;
                (1, self.sample.timestamp_ms, self.sample.timestamp_ms)
            }
            Kind::Repeats => {
                let r = (self.repeats, self.repeats_first_ms, self.repeats_last_ms);
                self.repeats = 0;
                self.window_end_ms = now_ms.saturating_add(window_ms);
                r
            }
        };
        Report {
            kind,
            fingerprint,
            count,
            first_seen_ms: first,
            last_seen_ms: last,
            sample: self.sample.clone(),
            overflow,
        }
    }
}

/// The overflow group's fingerprint (shown as `ffffffffffffffff`).
pub const OVERFLOW: Fingerprint = Fingerprint(u64::MAX);

#[derive(Debug)]
pub struct Aggregator {
    limits: Limits,
    groups: BTreeMap<Fingerprint, Group>,
    overflow: Option<Group>,
    seq: u64,
    tokens: f64,
    refilled_ms: Option<i64>,
}

impl Aggregator {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            groups: BTreeMap::new(),
            overflow: None,
            seq: 0,
            tokens: f64::from(limits.burst),
            refilled_ms: None,
        }
    }

    /// Counts one error. True when it starts a group (a report is due now).
    pub fn observe(&mut self, e: &ErrorEvent, now_ms: i64) -> bool {
        self.seq += 1;
        if let Some(g) = self.groups.get_mut(&e.fingerprint) {
            g.repeat(e.timestamp_ms);
            return false;
        }
        if self.groups.len() < self.limits.max_groups {
            self.groups
                .insert(e.fingerprint, Group::new(e, self.seq, now_ms, self.limits.window_ms));
            return true;
        }
        match &mut self.overflow {
            Some(g) => {
                g.repeat(e.timestamp_ms);
                false
            }
            None => {
                self.overflow = Some(Group::new(e, self.seq, now_ms, self.limits.window_ms));
                true
            }
        }
    }

    /// Groups being tracked (the overflow group included).
    pub fn len(&self) -> usize {
        self.groups.len() + usize::from(self.overflow.is_some())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The messages to send now, within the rate limit.
    pub fn due(&mut self, now_ms: i64) -> Vec<Message> {
        self.refill(now_ms);
        self.end_quiet_groups(now_ms);
        let mut due = self.candidates(now_ms, false);
        if due.is_empty() {
            return Vec::new();
        }
        let tokens = self.tokens.floor() as usize;
        if tokens == 0 {
            return Vec::new();
        }
        let singles = if due.len() <= tokens { due.len() } else { tokens - 1 };
        let folded = due.split_off(singles);
        let mut messages: Vec<Message> = due.into_iter().map(|c| self.message(vec![c], false, now_ms)).collect();
        if !folded.is_empty() {
            messages.push(self.message(folded, true, now_ms));
        }
        self.tokens -= messages.len() as f64;
        messages
    }

    /// Everything still counted, in one message, whatever the limits: for a
    /// shutdown. `None` if nothing is pending.
    pub fn flush(&mut self, now_ms: i64) -> Option<Message> {
        let mut reports = Vec::new();
        // Twice: a group may owe both its first report and its repeats.
        for _ in 0..2 {
            let due = self.candidates(now_ms, true);
            reports.extend(self.message(due, true, now_ms).reports);
        }
        if reports.is_empty() {
            return None;
        }
        Some(Message {
            folded: reports.len() > 1,
            reports,
            window_ms: self.limits.window_ms,
        })
    }

    fn refill(&mut self, now_ms: i64) {
        let last = *self.refilled_ms.get_or_insert(now_ms);
        let per_ms = f64::from(self.limits.per_minute) / 60_000.0;
        let gained = (now_ms - last).max(0) as f64 * per_ms;
        self.tokens = (self.tokens + gained).min(f64::from(self.limits.burst));
        self.refilled_ms = Some(now_ms.max(last));
    }

    /// A group whose window ended with nothing to report is over.
    fn end_quiet_groups(&mut self, now_ms: i64) {
        let quiet = |g: &Group| g.announced && g.repeats == 0 && now_ms >= g.window_end_ms;
        self.groups.retain(|_, g| !quiet(g));
        if self.overflow.as_ref().is_some_and(quiet) {
            self.overflow = None;
        }
    }

    /// Due reports as (fingerprint, kind, arrival order), oldest group first.
    fn candidates(&self, now_ms: i64, force: bool) -> Vec<(Fingerprint, Kind)> {
        let mut due: Vec<(u64, Fingerprint, Kind)> = self
            .groups
            .iter()
            .filter_map(|(f, g)| g.due(now_ms, force).map(|k| (g.seq, *f, k)))
            .collect();
        if let Some(g) = &self.overflow
            && let Some(k) = g.due(now_ms, force)
        {
            due.push((g.seq, OVERFLOW, k));
        }
        due.sort_unstable_by_key(|(seq, _, _)| *seq);
        due.into_iter().map(|(_, f, k)| (f, k)).collect()
    }

    fn message(&mut self, due: Vec<(Fingerprint, Kind)>, folded: bool, now_ms: i64) -> Message {
        let window = self.limits.window_ms;
        let reports = due
            .into_iter()
            .filter_map(|(f, kind)| {
                let (g, overflow) = if f == OVERFLOW {
                    (self.overflow.as_mut()?, true)
                } else {
                    (self.groups.get_mut(&f)?, false)
                };
                Some(g.take(kind, f, overflow, now_ms, window))
            })
            .collect();
        Message {
            reports,
            folded,
            window_ms: window,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        window_ms: 300_000,
        per_minute: 20,
        burst: 5,
        max_groups: 100,
    };

    fn error(text: &str, at_ms: i64) -> ErrorEvent {
        ErrorEvent::new("web".into(), None, text, at_ms, None)
    }

    fn total(ms: &[Message]) -> u64 {
        ms.iter().map(Message::errors).sum()
    }

    #[test]
    fn a_thousand_identical_errors_are_one_message_then_one_digest() {
        let mut a = Aggregator::new(LIMITS);
        let mut sent = Vec::new();
        for i in 0..1000 {
            let now = i * 10; // 1,000 in 10 s
            a.observe(&error(&format!("ERROR order {i} failed"), now), now);
            sent.extend(a.due(now));
        }
        assert_eq!(sent.len(), 1);
        assert_eq!((sent[0].reports[0].kind, sent[0].errors()), (Kind::First, 1));
        assert!(a.due(299_999).is_empty(), "the window is not over");
        let digest = a.due(300_000);
        assert_eq!(digest.len(), 1);
        let r = &digest[0].reports[0];
        assert_eq!(
            (r.kind, r.count, r.first_seen_ms, r.last_seen_ms),
            (Kind::Repeats, 999, 10, 9990)
        );
        // A quiet window ends the group; the next error is new again.
        assert!(a.due(600_000).is_empty());
        assert!(a.is_empty());
        a.observe(&error("ERROR order 5 failed", 700_000), 700_000);
        assert_eq!(a.due(700_000)[0].reports[0].kind, Kind::First);
    }

    #[test]
    fn over_the_rate_limit_groups_are_folded_and_none_is_lost() {
        let mut a = Aggregator::new(LIMITS);
        let mut sent = Vec::new();
        for i in 0..50 {
            a.observe(&error(&format!("ERROR {} failed", "x".repeat(i + 1)), 0), 0);
        }
        sent.extend(a.due(0));
        // Five tokens: four single messages, then one folding the other 46.
        assert_eq!(sent.len(), 5);
        assert!(sent[..4].iter().all(|m| !m.folded && m.reports.len() == 1));
        assert!(sent[4].folded);
        assert_eq!(sent[4].reports.len(), 46);
        let mut groups: Vec<Fingerprint> = sent
            .iter()
            .flat_map(|m| m.reports.iter().map(|r| r.fingerprint))
            .collect();
        groups.sort_unstable();
        groups.dedup();
        assert_eq!(groups.len(), 50);
        assert_eq!(total(&sent), 50);
        // No tokens left: a new group waits for the next one, counted.
        a.observe(&error("ERROR late", 1000), 1000);
        assert!(a.due(1000).is_empty());
        let later = a.due(4000); // 20 a minute: one token every 3 s
        assert_eq!((later.len(), total(&later)), (1, 1));
    }

    #[test]
    fn the_table_is_bounded_and_overflow_is_counted() {
        let mut a = Aggregator::new(Limits {
            max_groups: 3,
            burst: 100,
            ..LIMITS
        });
        for i in 0..10 {
            a.observe(&error(&format!("ERROR {}", "x".repeat(i + 1)), 0), 0);
        }
        assert_eq!(a.len(), 4);
        let sent = a.due(0);
        assert_eq!(total(&sent), 4);
        assert!(sent.iter().any(|m| m.reports[0].overflow));
        let rest = a.flush(1).unwrap();
        assert_eq!(rest.errors(), 6);
        assert!(rest.reports.iter().all(|r| r.overflow && r.kind == Kind::Repeats));
    }

    #[test]
    fn flush_reports_everything_pending_once() {
        let mut a = Aggregator::new(Limits { burst: 1, ..LIMITS });
        for i in 0..30 {
            let e = error(if i % 2 == 0 { "ERROR a" } else { "ERROR b" }, i);
            a.observe(&e, i);
        }
        let first = a.due(30);
        let last = a.flush(31).unwrap();
        assert_eq!(total(&first) + last.errors(), 30);
        assert!(a.flush(32).is_none());
    }

    #[test]
    fn flush_counts_a_group_whose_first_report_is_still_waiting() {
        let mut a = Aggregator::new(Limits { burst: 1, ..LIMITS });
        a.observe(&error("ERROR a", 0), 0);
        assert_eq!(total(&a.due(0)), 1);
        // No token left: "b" waits with its repeats.
        for i in 1..=10 {
            a.observe(&error("ERROR b", i), i);
        }
        assert!(a.due(11).is_empty());
        let last = a.flush(12).unwrap();
        assert_eq!(last.errors(), 10);
        assert_eq!(
            last.reports.iter().map(|r| (r.kind, r.count)).collect::<Vec<_>>(),
            vec![(Kind::First, 1), (Kind::Repeats, 9)]
        );
    }

    /// Random arrivals, ticks and limits: every error is in exactly one
    /// report, whatever the timing.
    #[test]
    fn every_error_is_reported_exactly_once() {
        let mut rng = fastrand::Rng::with_seed(11);
        for _ in 0..300 {
            let limits = Limits {
                window_ms: rng.i64(1..5_000),
                per_minute: rng.u32(1..120),
                burst: rng.u32(1..6),
                max_groups: rng.usize(1..8),
            };
            let mut a = Aggregator::new(limits);
            let (mut now, mut seen, mut reported) = (0i64, 0u64, 0u64);
            for _ in 0..rng.usize(0..400) {
                now += rng.i64(0..300);
                if rng.bool() {
                    let kind = rng.usize(0..12);
                    a.observe(&error(&format!("ERROR {}", "k".repeat(kind)), now), now);
                    seen += 1;
                } else {
                    reported += total(&a.due(now));
                }
            }
            reported += a.flush(now + 1).map_or(0, |m| m.errors());
            assert_eq!(reported, seen, "{limits:?}");
            assert!(a.flush(now + 2).is_none());
        }
    }
}
