//! PutLogEvents batches that hold every limit of the API:
//! at most 10,000 events and 1,048,576 bytes per call, counting each
//! message's UTF-8 bytes plus 26; events in chronological order; a call
//! spans at most 24 hours. An event over the maximum size is split into
//! ordered parts at character boundaries, never truncated.

/// Per-call limits of PutLogEvents.
pub const MAX_BATCH_EVENTS: usize = 10_000;
pub const MAX_BATCH_BYTES: usize = 1_048_576;
/// Bytes AWS adds to every event's message when counting a batch.
pub const EVENT_OVERHEAD: usize = 26;
pub const MAX_BATCH_SPAN_MS: i64 = 24 * 60 * 60 * 1000;
/// The largest message that fits in a call: current AWS documentation allows
/// 1 MB events, and an event must still fit a batch with its overhead.
/// Partitions with the older 256 KiB limit need `262_144 - EVENT_OVERHEAD`.
pub const MAX_EVENT_BYTES: usize = MAX_BATCH_BYTES - EVENT_OVERHEAD;

/// CloudWatch Logs rejects events older than 14 days (or the group's
/// retention) and more than 2 hours in the future.
pub const MAX_AGE_MS: i64 = 14 * 24 * 60 * 60 * 1000;
pub const MAX_AHEAD_MS: i64 = 2 * 60 * 60 * 1000;
/// Kept off both edges: an event accepted now must still be when it arrives.
const WINDOW_MARGIN_MS: i64 = 5 * 60 * 1000;

/// Whether CloudWatch Logs would take an event with this timestamp now.
pub fn in_window(timestamp: i64, now_ms: i64, retention_days: Option<u32>) -> bool {
    let max_age = retention_days.map_or(MAX_AGE_MS, |d| MAX_AGE_MS.min(i64::from(d) * 24 * 60 * 60 * 1000));
    timestamp >= now_ms - max_age + WINDOW_MARGIN_MS && timestamp <= now_ms + MAX_AHEAD_MS - WINDOW_MARGIN_MS
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    /// Milliseconds since the Unix epoch.
    pub timestamp: i64,
    pub message: String,
}

impl LogEvent {
    /// Bytes this event counts toward a batch.
    pub fn batch_bytes(&self) -> usize {
        self.message.len() + EVENT_OVERHEAD
    }
}

/// Splits a message longer than `max_bytes` into ordered parts of at most
/// `max_bytes`, each ending on a UTF-8 character boundary. All parts keep the
/// event's timestamp, so they stay together and in order.
pub fn split_oversized(event: LogEvent, max_bytes: usize) -> Vec<LogEvent> {
    // A part must hold at least one character (4 bytes at most).
    let max_bytes = max_bytes.max(4);
    if event.message.len() <= max_bytes {
        return vec![event];
    }
    let mut parts = Vec::with_capacity(event.message.len().div_ceil(max_bytes));
    let mut rest = event.message.as_str();
    while !rest.is_empty() {
        let mut cut = max_bytes.min(rest.len());
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let (part, tail) = rest.split_at(cut);
        parts.push(LogEvent {
            timestamp: event.timestamp,
            message: part.to_owned(),
        });
        rest = tail;
    }
    parts
}

/// PutLogEvents calls planned for a set of events.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Planned {
    pub calls: Vec<Vec<LogEvent>>,
    /// Events with an empty message: AWS requires at least one character and
    /// would fail the whole call, so they are left out, and counted.
    pub empty: usize,
}

/// Splits and sorts `events` and packs them into calls, each within every
/// PutLogEvents limit. Order: by timestamp, ties in arrival order (parts of a
/// split event stay consecutive).
pub fn batches(events: Vec<LogEvent>, max_event_bytes: usize) -> Planned {
    let max_event_bytes = max_event_bytes.min(MAX_EVENT_BYTES);
    let empty = events.iter().filter(|e| e.message.is_empty()).count();
    let mut events: Vec<LogEvent> = events
        .into_iter()
        .filter(|e| !e.message.is_empty())
        .flat_map(|e| split_oversized(e, max_event_bytes))
        .collect();
    events.sort_by_key(|e| e.timestamp); // stable: arrival order within a timestamp
    let mut out: Vec<Vec<LogEvent>> = Vec::new();
    let mut current: Vec<LogEvent> = Vec::new();
    let mut bytes = 0;
    for e in events {
        let fits = current.len() < MAX_BATCH_EVENTS
            && bytes + e.batch_bytes() <= MAX_BATCH_BYTES
            && current
                .first()
                .is_none_or(|first| e.timestamp - first.timestamp <= MAX_BATCH_SPAN_MS);
        if !fits && !current.is_empty() {
            out.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += e.batch_bytes();
        current.push(e);
    }
    if !current.is_empty() {
        out.push(current);
    }
    Planned { calls: out, empty }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_acceptance_window_is_14_days_or_the_retention_back_and_2_hours_ahead() {
        let now = 1_800_000_000_000;
        let day = 24 * 60 * 60 * 1000;
        assert!(in_window(now, now, None));
        assert!(in_window(now - 13 * day, now, None));
        assert!(!in_window(now - 14 * day, now, None));
        assert!(!in_window(now - 2 * day, now, Some(1)));
        assert!(in_window(now + MAX_AHEAD_MS / 2, now, None));
        assert!(!in_window(now + MAX_AHEAD_MS, now, None));
    }

    fn ev(ts: i64, msg: &str) -> LogEvent {
        LogEvent {
            timestamp: ts,
            message: msg.to_owned(),
        }
    }

    /// Every limit, checked on every batch, and nothing lost or reordered.
    fn assert_valid(input: &[LogEvent], out: &[Vec<LogEvent>], max_message: usize) {
        for b in out {
            assert!(!b.is_empty());
            assert!(b.len() <= MAX_BATCH_EVENTS, "{} events", b.len());
            let bytes: usize = b.iter().map(LogEvent::batch_bytes).sum();
            assert!(bytes <= MAX_BATCH_BYTES, "{bytes} bytes");
            assert!(
                b.windows(2).all(|w| w[0].timestamp <= w[1].timestamp),
                "not chronological"
            );
            assert!(
                b.last().unwrap().timestamp - b[0].timestamp <= MAX_BATCH_SPAN_MS,
                "span"
            );
            assert!(b.iter().all(|e| e.message.len() <= max_message.min(MAX_EVENT_BYTES)));
        }
        // Rejoining the parts gives back every message, in timestamp order.
        let mut want: Vec<&LogEvent> = input.iter().collect();
        want.sort_by_key(|e| e.timestamp);
        let joined: String = out.iter().flatten().map(|e| e.message.as_str()).collect();
        let expected: String = want.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(joined, expected);
        let flat: Vec<&LogEvent> = out.iter().flatten().collect();
        assert!(flat.windows(2).all(|w| w[0].timestamp <= w[1].timestamp));
    }

    #[test]
    fn exactly_10000_events_fit_one_call_and_10001_need_two() {
        let input: Vec<LogEvent> = (0..10_000).map(|i| ev(i, "x")).collect();
        assert_eq!(batches(input.clone(), MAX_EVENT_BYTES).calls.len(), 1);
        let mut more = input;
        more.push(ev(10_000, "x"));
        let out = batches(more.clone(), MAX_EVENT_BYTES).calls;
        assert_eq!(out.iter().map(Vec::len).collect::<Vec<_>>(), vec![10_000, 1]);
        assert_valid(&more, &out, MAX_EVENT_BYTES);
    }

    #[test]
    fn byte_limit_counts_26_per_event_to_the_byte() {
        // 4 events whose messages fill the batch exactly with overhead.
        let msg_len = MAX_BATCH_BYTES / 4 - EVENT_OVERHEAD;
        let input: Vec<LogEvent> = (0..4).map(|i| ev(i, &"a".repeat(msg_len))).collect();
        assert_eq!(batches(input.clone(), MAX_EVENT_BYTES).calls.len(), 1);
        // One byte more in any message and it no longer fits.
        let mut over = input;
        over[3].message.push('a');
        let out = batches(over.clone(), MAX_EVENT_BYTES).calls;
        assert_eq!(out.len(), 2);
        assert_valid(&over, &out, MAX_EVENT_BYTES);
    }

    #[test]
    fn unicode_is_counted_in_utf8_bytes() {
        // 3-byte characters: 1,048,576 / (3 * 1000 + 26) events per call.
        let msg = "\u{30a8}".repeat(1000);
        let input: Vec<LogEvent> = (0..400).map(|i| ev(i, &msg)).collect();
        let out = batches(input.clone(), MAX_EVENT_BYTES).calls;
        assert_eq!(out[0].len(), MAX_BATCH_BYTES / (3000 + EVENT_OVERHEAD));
        assert_valid(&input, &out, MAX_EVENT_BYTES);
    }

    #[test]
    fn oversized_events_split_at_char_boundaries_in_order() {
        let msg = format!("{}\u{1F600}{}", "a".repeat(9), "\u{30a8}".repeat(10));
        let parts = split_oversized(ev(5, &msg), 10);
        assert!(parts.iter().all(|p| p.message.len() <= 10 && p.timestamp == 5));
        assert_eq!(parts.iter().map(|p| p.message.as_str()).collect::<String>(), msg);
        assert_eq!(parts[0].message, "a".repeat(9), "the emoji does not fit and is not cut");

        // A 3 MiB message under the default limit: four parts, nothing lost.
        let big = ev(1, &"z".repeat(3 << 20));
        let out = batches(vec![big.clone(), ev(0, "before"), ev(2, "after")], MAX_EVENT_BYTES).calls;
        assert_valid(&[big, ev(0, "before"), ev(2, "after")], &out, MAX_EVENT_BYTES);
        assert_eq!(out.iter().flatten().count(), 3 + 3);
        // The 256 KiB setting of older partitions.
        let old = 262_144 - EVENT_OVERHEAD;
        let out = batches(vec![ev(0, &"q".repeat(old + 1))], old).calls;
        assert_eq!(
            out.iter().flatten().map(|e| e.message.len()).collect::<Vec<_>>(),
            vec![old, 1]
        );
        // A limit above what a call can carry is capped to it.
        let out = batches(vec![ev(0, &"q".repeat(MAX_BATCH_BYTES))], usize::MAX).calls;
        assert_valid(&[ev(0, &"q".repeat(MAX_BATCH_BYTES))], &out, MAX_EVENT_BYTES);
    }

    #[test]
    fn events_are_sorted_and_a_call_spans_at_most_24_hours() {
        let day = MAX_BATCH_SPAN_MS;
        let input = vec![ev(day + 1, "late"), ev(0, "first"), ev(day, "edge"), ev(5, "second")];
        let out = batches(input.clone(), MAX_EVENT_BYTES).calls;
        let msgs: Vec<Vec<&str>> = out
            .iter()
            .map(|b| b.iter().map(|e| e.message.as_str()).collect())
            .collect();
        assert_eq!(msgs, vec![vec!["first", "second", "edge"], vec!["late"]]);
        assert_valid(&input, &out, MAX_EVENT_BYTES);
    }

    #[test]
    fn equal_timestamps_keep_arrival_order() {
        let input: Vec<LogEvent> = (0..50).map(|i| ev(7, &i.to_string())).collect();
        let out = batches(input.clone(), MAX_EVENT_BYTES).calls;
        assert_eq!(out[0], input);
    }

    #[test]
    fn empty_input_means_no_calls_and_empty_messages_are_counted_not_sent() {
        assert_eq!(batches(Vec::new(), MAX_EVENT_BYTES), Planned::default());
        let planned = batches(vec![ev(0, ""), ev(1, "x"), ev(2, "")], 10);
        assert_eq!(planned.empty, 2);
        assert_eq!(planned.calls, vec![vec![ev(1, "x")]]);
    }
}
