//! The fast path (the scan over the escaped log line, and the memo of the
//! members around it) must answer exactly as the reference does (unescape,
//! reference scan, no memo): same class, same output bytes. Every rule case,
//! written as Fluent Bit writes JSON and wrapped in escapes, then mutated at
//! random (deterministically); one memo lives through each sequence.

use firelens_filter::fluent_bit_json;
use firelens_filter::testkit::{mutate, rule_cases};
use firelens_filter::{Classifier, Memo};
use serde_json::json;

/// A FireLens record holding `log`, as Fluent Bit 4.2 writes it for the
/// filter (`\u` escapes for non-ASCII, surrogate pairs).
fn record(log: &str) -> Vec<u8> {
    fluent_bit_json(&json!({
        "container_id": "4f1c2d3e",
        "container_name": "web",
        "source": "stdout",
        "log": log,
        "ecs_cluster": "c",
    }))
}

fn rule_case_lines() -> Vec<String> {
    rule_cases().into_iter().filter_map(|c| c.line).collect()
}

/// Ways an escape can sit next to what a rule looks at.
fn variants(line: &str) -> Vec<String> {
    vec![
        line.to_owned(),
        format!("\n{line}"),
        format!("{line}\t"),
        format!("é{line}é"),
        format!("😀{line}\r\n"),
        format!("\"{line}\""),
        format!("\\{line}\\"),
        line.replace(' ', "\n"),
        line.replace(' ', "\t"),
        line.replace(' ', "é"),
        line.replace('[', "[\t"),
        line.replace(']', "\n]"),
        line.replace('=', "=\""),
        line.replace('"', "\\\""),
        line.replace("ERROR", "\u{3000}ERROR\u{3000}"),
    ]
}

fn assert_same(fast: &Classifier, memo: &mut Memo, reference: &Classifier, input: &[u8]) {
    let (mut s1, mut o1, mut s2, mut o2) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let a = fast.apply_with(input, memo, &mut s1, &mut o1);
    let b = reference.apply(input, &mut s2, &mut o2);
    assert_eq!(
        (a, o1),
        (b, o2),
        "escaped and reference scans disagree on {:?}",
        String::from_utf8_lossy(input)
    );
}

#[test]
fn rule_cases_wrapped_in_escapes_agree_with_the_reference_scan() {
    let (fast, reference) = (Classifier::builtin(), Classifier::builtin().reference());
    let mut memo = Memo::new();
    let mut n = 0;
    for line in rule_case_lines() {
        for v in variants(&line) {
            assert_same(&fast, &mut memo, &reference, &record(&v));
            n += 1;
        }
    }
    assert!(n > 1500, "only {n} variants");
}

#[test]
fn escapes_next_to_a_match_are_decoded_not_read_as_letters() {
    let c = Classifier::builtin();
    let mut scratch = Vec::new();
    let mut class = |log: &str| c.classify(&record(log), &mut scratch).as_str();
    // `\n` ends a word: the `n` is not a letter before ERROR or after it.
    assert_eq!(class("job failed\nERROR\nretrying"), "error");
    assert_eq!(class("\nlevel=error"), "error");
    assert_eq!(class("\n[error] x"), "error");
    assert_eq!(class("x\t[ error\t] y"), "error");
    assert_eq!(class("\"GET /x HTTP/1.1\" 503 12"), "error");
    assert_eq!(class("\\\"GET /x HTTP/1.1\\\" 503 12"), "other");
    // Non-ASCII is never a word byte, in either form.
    assert_eq!(class("エラーERRORエラー"), "error");
    assert_eq!(class("NO_ERROR"), "other");
}

#[test]
fn mutated_records_agree_with_the_reference_scan() {
    let (fast, reference) = (Classifier::builtin(), Classifier::builtin().reference());
    let mut memo = Memo::new();
    let seeds: Vec<Vec<u8>> = rule_case_lines().iter().map(|l| record(l)).collect();
    const PIECES: &[&[u8]] = &[
        b"\\",
        b"\"",
        b"\\\"",
        b"\\\\",
        b"\\n",
        b"\\t",
        b"\\u",
        b"\\u0041",
        b"\\u00e9",
        b"\\ud83d",
        b"\\ude00",
        b"\\/",
        b"\\q",
        b"[",
        b"]",
        b"=",
        b"ERROR",
        b"[error]",
        b"level=error",
        b"\\\"GET / HTTP/1.1\\\" 503 ",
        b" ",
        b"_",
        b"{",
        b"}",
        b":",
        b",",
    ];
    let mut rng = fastrand::Rng::with_seed(0x2545_F491_4F6C_DD1D);
    let mut next = move || rng.u64(..);
    for round in 0..100_000 {
        let mut input = seeds[round % seeds.len()].clone();
        for _ in 0..=(next() % 3) {
            mutate(&mut input, &mut next, PIECES, b" \\\"nu0aEeR[]=:");
        }
        assert_same(&fast, &mut memo, &reference, &input);
    }
}

/// Records that share the members before or after the log line, with the
/// mark, errors and odd shapes on either side: every hit of the memo must
/// give what a fresh walk gives.
#[test]
fn the_memo_answers_as_a_fresh_walk() {
    let (fast, reference) = (Classifier::builtin(), Classifier::builtin().reference());
    let befores = [
        r#""container_id":"4f1c","source":"stdout","#,
        r#""container_id":"4f1c","source":"stderr","#,
        r#""level":"error","#,
        r#""log_class":"x","#,
        r#""nested":{"log":"not this one","a":[1,{"b":"}"}]},"#,
        "",
        r#" "spaced" : 1 , "#,
    ];
    let afters = [
        r#","ecs_cluster":"c","ecs_task_arn":"arn:aws:ecs:x""#,
        r#","status":503"#,
        r#","log_class":"error""#,
        r#","log":"second log member is not read: ELB-HealthChecker/2.0""#,
        "",
        r#" , "z" : null "#,
        r#","broken":"#,
    ];
    let logs = [
        "GET / 200",
        "ERROR x",
        "ELB-HealthChecker/2.0",
        "level=info",
        r#"{\"level\":\"error\"}"#,
    ];
    let mut memo = Memo::new();
    let mut n = 0;
    for _ in 0..2 {
        for b in befores {
            for a in afters {
                for l in logs {
                    let input = format!(r#"{{{b}"log":"{l}"{a}}}"#);
                    assert_same(&fast, &mut memo, &reference, input.as_bytes());
                    n += 1;
                }
            }
        }
    }
    assert_eq!(n, 2 * 7 * 7 * 5);
}

/// A plain literal may begin inside an escape of the raw bytes (`FATAL` in
/// `\u00FATAL`, a custom `ne` in `\neRROR`): it is not in the text, and the
/// escaped scan must not see it (found by the differential test).
#[test]
fn literals_never_begin_inside_an_escape() {
    let rules = firelens_filter::RulesFile::from_toml("[error]\ncontains = [\"ne\"]\n").unwrap();
    for c in [Classifier::builtin(), Classifier::new(&rules).unwrap()] {
        let reference = c.clone().reference();
        for input in [
            &br#"{"log":"\u00FATAL"}"#[..],
            br#"{"log":"\neRROR"}"#,
            br#"{"log":"x \u00e9ne"}"#,
        ] {
            assert_same(&c, &mut Memo::new(), &reference, input);
        }
    }
    let (mut scratch, mut out) = (Vec::new(), Vec::new());
    let c = Classifier::new(&rules).unwrap();
    assert_eq!(
        c.apply(br#"{"log":"\neRROR"}"#, &mut scratch, &mut out),
        Ok(firelens_filter::Class::Other)
    );
}
