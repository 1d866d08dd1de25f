//! Test support for the crates that test the rules: the rule-case table
//! (`tests/rule_cases.tsv`), parsed once for every test that runs it
//! (natively, through the Fluent Bit host, wrapped in escapes), and the
//! random edits the mutation tests make.

use crate::Class;
use crate::fbjson::fluent_bit_json;
use serde_json::{Value, json};

/// One row: the class the default rules must give, and the case.
#[derive(Debug, Clone)]
pub struct RuleCase {
    pub class: Class,
    /// The row as written: a log line, or `record {…}`.
    pub text: String,
    /// A bare log line; `None` for a row that is a whole record.
    pub line: Option<String>,
    /// The FireLens record, as a JSON value.
    pub record: Value,
}

impl RuleCase {
    /// The record as Fluent Bit hands it to the filter.
    pub fn input(&self) -> Vec<u8> {
        fluent_bit_json(&self.record)
    }
}

/// A FireLens record holding `log`, with the members FireLens adds.
pub fn firelens_record(log: &str) -> Value {
    json!({
        "container_id": "4f1c2d3e5a6b7c8d9e0f0001",
        "container_name": "web",
        "ecs_cluster": "shop-cluster",
        "ecs_task_arn": "arn:aws:ecs:ap-northeast-1:123456789012:task/shop-cluster/0123",
        "ecs_task_definition": "shop-web:12",
        "log": log,
        "source": "stdout",
    })
}

/// Every row of the table. A malformed row is a bug in the table: it panics
/// with the row.
pub fn rule_cases() -> Vec<RuleCase> {
    include_str!("../tests/rule_cases.tsv")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let parsed = l.split_once('\t').and_then(|(label, text)| {
                let class = label.parse().ok()?;
                let (line, record) = match text.strip_prefix("record ") {
                    Some(r) => (None, serde_json::from_str(r).ok()?),
                    None => (Some(text.to_owned()), firelens_record(text)),
                };
                Some(RuleCase {
                    class,
                    text: text.to_owned(),
                    line,
                    record,
                })
            });
            #[allow(clippy::panic)] // test data, read by tests only
            parsed.unwrap_or_else(|| panic!("rule_cases.tsv: not `label<TAB>case`: {l}"))
        })
        .collect()
}

/// One random edit of `input`, as the mutation tests make them: cut it
/// short, insert one of `pieces`, replace a byte with one of `bytes`, or
/// remove a byte. `next` is the test's (seeded) random source.
pub fn mutate(input: &mut Vec<u8>, next: &mut impl FnMut() -> u64, pieces: &[&[u8]], bytes: &[u8]) {
    let at = (next() as usize) % (input.len() + 1);
    let pick = |n: u64, len: usize| (n as usize) % len.max(1);
    match next() % 4 {
        0 => input.truncate(at),
        1 => {
            if let Some(piece) = pieces.get(pick(next(), pieces.len())) {
                input.splice(at..at, piece.iter().copied());
            }
        }
        2 if at < input.len() => {
            if let (Some(&b), Some(slot)) = (bytes.get(pick(next(), bytes.len())), input.get_mut(at)) {
                *slot = b;
            }
        }
        _ if at < input.len() => {
            input.remove(at);
        }
        _ => {}
    }
}
