//! One walk over a record's top-level members: the structured fields are
//! checked as they pass, and the log line is read where the walk meets it
//! (the first `log` member). The members before the log line (the prefix)
//! and after it (the suffix) come from the memo when they are the same bytes
//! as in a record seen before (see `memo.rs`).

use crate::Class;
use crate::classify::Classifier;
use crate::json::{Member, Members};
use crate::log_line::LogLine;
use crate::memo::{Memo, Span};

/// What a walk over members found: an error field, how many members, and
/// the mark member's value.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Walked {
    pub error: bool,
    pub members: usize,
    pub mark: Option<(usize, usize)>,
}

impl Walked {
    /// Takes in a remembered span that starts at `at` in the record.
    fn add(&mut self, span: &Span, at: usize) {
        self.error |= span.walked.error;
        self.members += span.walked.members;
        if let Some((s, e)) = span.walked.mark {
            self.mark = Some((s + at, e + at));
        }
    }

    fn inspection(&self, close: usize) -> Inspection {
        Inspection {
            class: if self.error { Class::Error } else { Class::Other },
            mark: self.mark,
            close,
            members: self.members,
        }
    }
}

/// What the walk of a whole record found.
pub(crate) struct Inspection {
    pub class: Class,
    /// The value of the mark member, when the record has one.
    pub mark: Option<(usize, usize)>,
    /// Index of the record's closing `}`, and how many members it has.
    pub close: usize,
    pub members: usize,
}

/// Where a walk over members ended.
enum WalkEnd {
    /// At the record's closing `}`.
    Close(usize),
    /// At the log line, a string whose opening quote is here.
    LogLine(usize),
}

impl Classifier {
    /// The record's class, where its mark is and where it ends. A health
    /// checker in the log line ends the walk: the record is dropped whatever
    /// follows. `None` when the record is not a JSON object the walk understands.
    pub(crate) fn inspect(&self, record: &[u8], memo: &mut Memo, scratch: &mut Vec<u8>) -> Option<Inspection> {
        let mut w = Walked::default();
        let open = match self.walk_prefix(record, memo, &mut w)? {
            WalkEnd::Close(close) => return Some(w.inspection(close)),
            WalkEnd::LogLine(open) => open,
        };
        let end = match self.log_line(record, open, w.error, scratch)? {
            LogLine::Health => {
                return Some(Inspection {
                    class: Class::Health,
                    ..w.inspection(0)
                });
            }
            LogLine::Scanned { error, end } => {
                w.error |= error;
                end
            }
        };
        w.members += 1;
        if self.log_is_field && !w.error {
            let m = Member {
                key: &self.log_key,
                key_escaped: false,
                value_start: open,
                value_end: end,
            };
            w.error = self.fields.member_is_error(record, &m);
        }
        let close = self.walk_suffix(record, end, memo, &mut w)?;
        Some(w.inspection(close))
    }

    /// The members up to the log line: remembered, or walked and remembered.
    fn walk_prefix(&self, record: &[u8], memo: &mut Memo, w: &mut Walked) -> Option<WalkEnd> {
        let slot = match memo.prefix_of(record) {
            Ok(span) => {
                w.add(span, 0);
                return Some(WalkEnd::LogLine(span.bytes.len() - 1));
            }
            Err(slot) => slot,
        };
        let open = crate::json::skip_ws(record, 0);
        let end = self.walk(Members::of(record, open)?, record, true, true, w)?;
        if let WalkEnd::LogLine(open) = end {
            memo.remember_prefix(slot, record.get(..=open).unwrap_or_default(), *w);
        }
        Some(end)
    }

    /// The members after the log line, which ends at `end`: remembered, or
    /// walked and remembered. Returns the index of the record's closing `}`.
    fn walk_suffix(&self, record: &[u8], end: usize, memo: &mut Memo, w: &mut Walked) -> Option<usize> {
        let slot = match memo.suffix_of(record, end) {
            Ok(span) => {
                w.add(span, end);
                return Some(end + span.close);
            }
            Err(slot) => slot,
        };
        // Walked on its own, so that what it holds is known alone.
        let mut after = Walked::default();
        let WalkEnd::Close(close) = self.walk(Members::after(record, end), record, false, false, &mut after)? else {
            return None; // a log line was not asked for
        };
        let relative = Walked {
            mark: after.mark.map(|(s, e)| (s - end, e - end)),
            ..after
        };
        memo.remember_suffix(slot, record.get(end..).unwrap_or_default(), relative, close - end);
        w.error |= after.error;
        w.members += after.members;
        w.mark = after.mark.or(w.mark);
        Some(close)
    }

    /// Walks `members` to the closing `}`. With `find_log`, stops at the
    /// first `log` member instead when it holds a string (its value is the
    /// caller's); a first `log` member of another type means no later one is
    /// the log line. `skip_known`: once an error is known, later fields need
    /// no checking.
    fn walk(
        &self,
        mut members: Members<'_>,
        record: &[u8],
        mut find_log: bool,
        skip_known: bool,
        w: &mut Walked,
    ) -> Option<WalkEnd> {
        loop {
            let key = match members.key()? {
                Ok(key) => key,
                Err(close) => return Some(WalkEnd::Close(close)),
            };
            if find_log && same(key.key, &self.log_key) {
                if record.get(key.value_start) == Some(&b'"') {
                    return Some(WalkEnd::LogLine(key.value_start));
                }
                find_log = false;
            }
            let m = members.member(key)?;
            w.members += 1;
            if same(m.key, &self.mark_key) {
                w.mark = Some((m.value_start, m.value_end));
            }
            if !(w.error && skip_known) {
                w.error |= self.fields.member_is_error(record, &m);
            }
        }
    }
}

/// Key equality, rejecting on length and first byte before comparing all.
#[inline(always)]
fn same(key: &[u8], want: &[u8]) -> bool {
    key.len() == want.len() && key.first() == want.first() && key == want
}
