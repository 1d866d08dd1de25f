//! The rule-case table, run natively. The same table runs through the
//! Fluent Bit host in wasm-host/tests/module.rs.

use firelens_filter::{Class, Classifier};

fn cases() -> Vec<(Class, String, String)> {
    let text = include_str!("rule_cases.tsv");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (label, rest) = l.split_once('\t').expect("label<TAB>case");
            let class = match label {
                "health" => Class::Health,
                "error" => Class::Error,
                "other" => Class::Other,
                x => panic!("unknown label {x:?}"),
            };
            let record = match rest.strip_prefix("record ") {
                Some(r) => r.to_owned(),
                None => serde_json::json!({"container_name": "web", "source": "stdout", "log": rest}).to_string(),
            };
            (class, rest.to_owned(), record)
        })
        .collect()
}

#[test]
fn every_rule_case_classifies_as_expected() {
    let c = Classifier::builtin();
    let mut scratch = Vec::new();
    let cases = cases();
    assert!(cases.len() > 100, "the table should not silently shrink");
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(want, case, record)| {
            let got = c.classify(record.as_bytes(), &mut scratch);
            (got != *want).then(|| format!("want {want:?} got {got:?}: {case}"))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn bare_lines_classify_like_records_holding_them() {
    let c = Classifier::builtin();
    let mut scratch = Vec::new();
    for (_, case, record) in cases().iter().filter(|(_, case, _)| !case.starts_with("record ")) {
        assert_eq!(
            c.classify_line(case.as_bytes()),
            c.classify(record.as_bytes(), &mut scratch),
            "{case}"
        );
    }
}
