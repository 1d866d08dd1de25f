//! PutLogEvents batches that hold every limit of the API:
//! at most 10,000 events and 1,048,576 bytes per call, counting each
//! message's UTF-8 bytes plus 26; events in chronological order; a call
//! spans at most 24 hours. An event over the maximum size is split into
//! ordered, marked parts at character boundaries, never truncated.

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

/// Bytes kept free in each part of a split message for its markers.
const MARKER_ROOM: usize = 48;
/// The smallest part size a message is split to (the setting's minimum).
pub const MIN_SPLIT_BYTES: usize = 1024;

/// Splits a message longer than `max_bytes` into ordered parts of at most
/// `max_bytes` (at least [`MIN_SPLIT_BYTES`]), each cut on a UTF-8
/// character boundary and marked so a reader sees one event in pieces: part
/// `k` of `n` ends with ` …[k/n]` when more follows, and starts with
/// `[k/n]… ` when it continues one. Removing the markers and joining the
/// parts gives the message back. All parts keep the event's timestamp, so
/// they stay together and in order.
pub fn split_oversized(event: LogEvent, max_bytes: usize) -> Vec<LogEvent> {
    let max_bytes = max_bytes.max(MIN_SPLIT_BYTES);
    if event.message.len() <= max_bytes {
        return vec![event];
    }
    let room = max_bytes - MARKER_ROOM;
    let mut texts = Vec::with_capacity(event.message.len().div_ceil(room));
    let mut rest = event.message.as_str();
    while !rest.is_empty() {
        let mut cut = room.min(rest.len());
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let (part, tail) = rest.split_at(cut);
        texts.push(part);
        rest = tail;
    }
    let n = texts.len();
    texts
        .into_iter()
        .enumerate()
        .map(|(i, text)| {
            let k = i + 1;
            let mut message = String::with_capacity(text.len() + MARKER_ROOM);
            if k > 1 {
                message.push_str(&continued_prefix(k, n));
            }
            message.push_str(text);
            if k < n {
                message.push_str(&continues_suffix(k, n));
            }
            LogEvent {
                timestamp: event.timestamp,
                message,
            }
        })
        .collect()
}

/// The marker that starts part `k` of `n` (`k` > 1).
pub fn continued_prefix(k: usize, n: usize) -> String {
    format!("[{k}/{n}]… ")
}

/// The marker that ends part `k` of `n` (`k` < `n`).
pub fn continues_suffix(k: usize, n: usize) -> String {
    format!(" …[{k}/{n}]")
}

/// The reader's side of [`split_oversized`]: messages in order, each split
/// one's parts joined and their markers removed. Parts must be complete
/// and consecutive, as one call (or one stream, in order) holds them.
pub fn rejoin<'a>(messages: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let messages: Vec<&str> = messages.into_iter().collect();
    let mut out = String::new();
    let mut i = 0;
    while let Some(first) = messages.get(i) {
        let Some(n) = parts_of(first) else {
            out.push_str(first);
            i += 1;
            continue;
        };
        for k in 1..=n {
            let mut m = *messages.get(i + k - 1)?;
            if k > 1 {
                m = m.strip_prefix(&continued_prefix(k, n))?;
            }
            if k < n {
                m = m.strip_suffix(&continues_suffix(k, n))?;
            }
            out.push_str(m);
        }
        i += n;
    }
    Some(out)
}

/// `n` when `m` is the first part of a message split in `n`.
fn parts_of(m: &str) -> Option<usize> {
    let tail = m.rsplit_once(" …[1/")?.1;
    tail.strip_suffix(']')?.parse().ok()
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
        // Rejoining the parts, markers removed, gives back every message, in
        // timestamp order.
        let mut want: Vec<&LogEvent> = input.iter().collect();
        want.sort_by_key(|e| e.timestamp);
        let joined = rejoin(out.iter().flatten().map(|e| e.message.as_str())).unwrap();
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
    fn oversized_events_split_at_char_boundaries_in_order_with_markers() {
        let msg = format!("{}\u{1F600}{}", "a".repeat(975), "\u{30a8}".repeat(400));
        let parts = split_oversized(ev(5, &msg), 10);
        assert!(
            parts
                .iter()
                .all(|p| p.message.len() <= MIN_SPLIT_BYTES && p.timestamp == 5)
        );
        assert_eq!(parts.len(), 3);
        assert_eq!(
            parts[0].message,
            format!("{} …[1/3]", "a".repeat(975)),
            "the emoji does not fit and is not cut"
        );
        assert!(parts[1].message.starts_with("[2/3]… \u{1F600}") && parts[1].message.ends_with(" …[2/3]"));
        assert!(parts[2].message.starts_with("[3/3]… ") && parts[2].message.ends_with('\u{30a8}'));
        assert_eq!(
            rejoin(parts.iter().map(|e| e.message.as_str())).as_deref(),
            Some(msg.as_str())
        );
        // Up to the limit, one event, unmarked.
        let fits = ev(1, &"b".repeat(2000));
        assert_eq!(split_oversized(fits.clone(), 2000), vec![fits]);

        // A 3 MiB message under the default limit: four parts, nothing lost.
        let big = ev(1, &"z".repeat(3 << 20));
        let out = batches(vec![big.clone(), ev(0, "before"), ev(2, "after")], MAX_EVENT_BYTES).calls;
        assert_valid(&[big, ev(0, "before"), ev(2, "after")], &out, MAX_EVENT_BYTES);
        assert_eq!(out.iter().flatten().count(), 3 + 3);
        // The 256 KiB setting of older partitions.
        let old = 262_144 - EVENT_OVERHEAD;
        let out = batches(vec![ev(0, &"q".repeat(old + 1))], old).calls;
        let sizes: Vec<usize> = out.iter().flatten().map(|e| e.message.len()).collect();
        assert_eq!(sizes.len(), 2);
        assert!(sizes.iter().all(|&s| s <= old), "{sizes:?}");
        assert_eq!(
            rejoin(out.iter().flatten().map(|e| e.message.as_str())),
            Some("q".repeat(old + 1))
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
