//! Classifies one record and builds what the filter returns for it.
//!
//! The walk that decides is in `walk.rs` (members) and `log_line.rs` (the
//! log line). Here: the compiled rules, and the answer built from what the
//! walk found. A kept record is returned as the bytes it came in, never
//! re-serialised; an error gets the mark added, or its mark value replaced.

use crate::fields::FieldMatcher;
use crate::levels::Levels;
use crate::memo::Memo;
use crate::rules::{RulesError, RulesFile};
use crate::text::TextMatcher;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// A health-check request: the record is dropped.
    Health,
    /// The record is kept and gets the error mark.
    Error,
    /// Everything else, including records the classifier could not read:
    /// kept unchanged.
    Other,
}

impl Class {
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Health => "health",
            Class::Error => "error",
            Class::Other => "other",
        }
    }
}

impl std::str::FromStr for Class {
    type Err = String;

    /// The labels `as_str` gives (`health`, `error`, `other`).
    fn from_str(label: &str) -> Result<Self, String> {
        [Class::Health, Class::Error, Class::Other]
            .into_iter()
            .find(|c| c.as_str() == label)
            .ok_or_else(|| format!("unknown class {label:?}"))
    }
}

/// What the filter returns for a record (`Classifier::decide_with`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub class: Class,
    /// The answer is in `out` (the record with the mark); else it is the
    /// record itself, or nothing for a health check.
    pub rewritten: bool,
}

/// Our own buffer could not grow. The caller must pass the record through
/// some other way; see `abi.rs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOfMemory;

/// Compiled rules. Build once, use for every record.
#[derive(Debug, Clone)]
pub struct Classifier {
    pub(crate) log_key: Vec<u8>,
    pub(crate) mark_key: Vec<u8>,
    /// `"error"`, JSON-encoded with its quotes.
    mark_value: Vec<u8>,
    /// `"log_class":"error"`.
    mark_member: Vec<u8>,
    pub(crate) text: TextMatcher,
    pub(crate) fields: FieldMatcher,
    /// The log key is itself a level or status key (`log_key = "msg"` with
    /// `level_keys = ["msg"]`, say).
    pub(crate) log_is_field: bool,
}

impl Classifier {
    pub fn new(rules: &RulesFile) -> Result<Self, RulesError> {
        rules.validate()?;
        let levels = Levels::new(&rules.error.levels);
        let mark_key = crate::fbjson::string_body(&rules.mark.field);
        let mark_value = format!(
            "\"{}\"",
            String::from_utf8_lossy(&crate::fbjson::string_body(&rules.mark.value))
        )
        .into_bytes();
        let mut mark_member = Vec::new();
        mark_member.push(b'"');
        mark_member.extend_from_slice(&mark_key);
        mark_member.extend_from_slice(b"\":");
        mark_member.extend_from_slice(&mark_value);
        Ok(Self {
            log_key: crate::fbjson::string_body(&rules.log_key),
            mark_key,
            mark_value,
            mark_member,
            text: TextMatcher::new(rules, levels.clone()),
            fields: FieldMatcher::new(rules, levels),
            log_is_field: [&rules.error.level_keys, &rules.error.status_keys]
                .iter()
                .any(|keys| keys.contains(&rules.log_key)),
        })
    }

    /// The built-in rules (the README's "What it decides").
    pub fn builtin() -> Self {
        match Self::new(&RulesFile::default()) {
            Ok(c) => c,
            // The defaults are checked by a unit test; this cannot happen.
            Err(e) => unreachable!("built-in rules are invalid: {e}"),
        }
    }

    /// Classifies a record (a JSON object as Fluent Bit hands it over).
    /// `scratch` is reused when the log line must be unescaped.
    pub fn classify(&self, record: &[u8], scratch: &mut Vec<u8>) -> Class {
        self.inspect(record, &mut Memo::off(), scratch)
            .map_or(Class::Other, |found| found.class)
    }

    /// Classifies a bare log line, as if it were a record's `log` value.
    pub fn classify_line(&self, line: &[u8]) -> Class {
        match self.text.scan(line) {
            Class::Other if self.json_line_is_error(line) => Class::Error,
            class => class,
        }
    }

    /// The same rules with the escaped-text scan off: every log line is
    /// unescaped and read by the reference scan. For tests that hold the two
    /// to the same answers.
    #[doc(hidden)]
    pub fn reference(mut self) -> Self {
        self.text.escaped = None;
        self
    }

    /// Which prefilter each scan built (`Exact`, `RangePlus`, `Every`): for
    /// tests that must cover all of them. The escaped scan is `None` when
    /// the rules leave every line to the reference scan.
    #[doc(hidden)]
    pub fn prefilters(&self) -> (&'static str, Option<&'static str>) {
        self.text.prefilters()
    }

    /// Writes into `out` what the filter returns for `record` (without the
    /// terminating NUL): nothing for a health check, the record with the mark
    /// for an error, the record unchanged otherwise.
    pub fn apply(&self, record: &[u8], scratch: &mut Vec<u8>, out: &mut Vec<u8>) -> Result<Class, OutOfMemory> {
        self.apply_with(record, &mut Memo::off(), scratch, out)
    }

    /// `apply`, remembering in `memo` the members around the log line for
    /// the next record (see `memo.rs`): the same answer, at less cost when
    /// records share their metadata, as one container's do.
    pub fn apply_with(
        &self,
        record: &[u8],
        memo: &mut Memo,
        scratch: &mut Vec<u8>,
        out: &mut Vec<u8>,
    ) -> Result<Class, OutOfMemory> {
        let d = self.decide_with(record, memo, scratch, out)?;
        if !d.rewritten && d.class != Class::Health {
            copy_into(out, &[record])?;
        }
        Ok(d.class)
    }

    /// `apply_with` without copying a record that is kept unchanged: `out`
    /// holds the answer only when `rewritten` (the record with the mark);
    /// otherwise the record itself is the answer (nothing, for a health check).
    pub fn decide_with(
        &self,
        record: &[u8],
        memo: &mut Memo,
        scratch: &mut Vec<u8>,
        out: &mut Vec<u8>,
    ) -> Result<Decision, OutOfMemory> {
        out.clear();
        let unchanged = |class| {
            Ok(Decision {
                class,
                rewritten: false,
            })
        };
        let Some(found) = self.inspect(record, memo, scratch) else {
            return unchanged(Class::Other);
        };
        if found.class != Class::Error {
            return unchanged(found.class);
        }
        let parts: [&[u8]; 4] = match found.mark {
            // Already marked as we would mark it: keep it byte for byte.
            Some((s, e)) if record.get(s..e) == Some(self.mark_value.as_slice()) => return unchanged(Class::Error),
            // Marked otherwise: replace the value rather than add a duplicate key.
            Some((s, e)) => [
                record.get(..s).unwrap_or_default(),
                &self.mark_value,
                record.get(e..).unwrap_or_default(),
                b"",
            ],
            None => [
                record.get(..found.close).unwrap_or_default(),
                if found.members > 0 { b"," } else { b"" },
                &self.mark_member,
                record.get(found.close..).unwrap_or_default(),
            ],
        };
        copy_into(out, &parts)?;
        Ok(Decision {
            class: Class::Error,
            rewritten: true,
        })
    }
}

/// Replaces `out` with the concatenation of `parts`, growing it only through
/// `try_reserve` so that running out of memory is an error, not an abort.
fn copy_into(out: &mut Vec<u8>, parts: &[&[u8]]) -> Result<(), OutOfMemory> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    out.clear();
    // +1 for the NUL the ABI shim appends.
    out.try_reserve(len + 1).map_err(|_| OutOfMemory)?;
    for p in parts {
        out.extend_from_slice(p);
    }
    Ok(())
}
