//! The rule-case table, run natively. The same table runs through the
//! Fluent Bit host in wasm-host/tests/module.rs.

use firelens_filter::Classifier;
use firelens_filter::testkit::rule_cases;

#[test]
fn every_rule_case_classifies_as_expected() {
    let c = Classifier::builtin();
    let mut scratch = Vec::new();
    let cases = rule_cases();
    assert!(cases.len() > 100, "the table should not silently shrink");
    let failures: Vec<String> = cases
        .iter()
        .flat_map(|case| {
            // As Fluent Bit writes it (`\u` escapes), and as plain UTF-8.
            [case.input(), case.record.to_string().into_bytes()].map(|input| {
                let got = c.classify(&input, &mut scratch);
                (got != case.class).then(|| format!("want {:?} got {got:?}: {}", case.class, case.text))
            })
        })
        .flatten()
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
    for case in rule_cases() {
        if let Some(line) = &case.line {
            assert_eq!(
                c.classify_line(line.as_bytes()),
                c.classify(&case.input(), &mut scratch),
                "{line}"
            );
        }
    }
}
