//! The filter module, exercised only through a host that calls it the way
//! Fluent Bit 4.2 does. Build the module first: scripts/build-wasm.sh.

use firelens_filter::testkit::{firelens_record, mutate, rule_cases};
use firelens_filter::{Class, Classifier, RULES_DIR};
use std::path::Path;
use wasm_host::corpus::{self, Corpus};
use wasm_host::{DropReason, Execution, FilterConfig, Outcome, Returned, WasmFilter, fluent_bit_json};

const TAG: &str = "web-firelens-4f1c2d3e";
const TIME: (u32, u32) = (1_795_532_400, 123_456_789);
const MARK: &[u8] = br#""log_class":"error""#;

fn module() -> Vec<u8> {
    let path = corpus::module_path();
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e}. Build the module first: scripts/build-wasm.sh", path.display()))
}

fn filter(config: &FilterConfig) -> WasmFilter {
    WasmFilter::new(&module(), config).expect("module loads")
}

fn default_filter() -> WasmFilter {
    filter(&FilterConfig::default())
}

/// What the filter must return for `input` of class `class`.
fn expected_output(input: &[u8], class: Class) -> Option<Vec<u8>> {
    match class {
        Class::Health => None,
        Class::Other => Some(input.to_vec()),
        Class::Error => {
            let mut out = input[..input.len() - 1].to_vec();
            out.push(b',');
            out.extend_from_slice(MARK);
            out.push(b'}');
            Some(out)
        }
    }
}

fn run_corpus(execution: Execution, n: usize, seed: u64) {
    let dir = tempfile::tempdir().unwrap();
    let Corpus { records, labels } = corpus::generate(n, seed, dir.path()).expect("corpus");
    let mut f = filter(&FilterConfig {
        execution,
        ..FilterConfig::default()
    });
    let native = Classifier::builtin();
    let reference = Classifier::builtin().reference();
    let (mut scratch, mut native_out, mut reference_out) = (Vec::new(), Vec::new(), Vec::new());
    let mut disagreements = Vec::new();
    let mut counts = [0usize; 3];
    for (record, label) in records.iter().zip(&labels) {
        let input = fluent_bit_json(record);
        let want = expected_output(&input, label.parse().unwrap());
        let got = f.call(TAG, TIME, &input);
        let got_bytes = got.kept().map(<[u8]>::to_vec);
        if got_bytes != want {
            disagreements.push(format!("{label}: {} -> {got:?}", String::from_utf8_lossy(&input)));
        }
        // The native build of the same rules must agree on every record.
        let native_class = native.apply(&input, &mut scratch, &mut native_out).unwrap();
        let native_bytes = (native_class != Class::Health).then(|| native_out.clone());
        assert_eq!(
            native_bytes,
            got_bytes,
            "native and Wasm disagree on {}",
            String::from_utf8_lossy(&input)
        );
        // The scan over escaped text answers as the reference scan over the
        // unescaped line does.
        let reference_class = reference.apply(&input, &mut scratch, &mut reference_out).unwrap();
        assert_eq!(
            (reference_class, &reference_out),
            (native_class, &native_out),
            "escaped and reference scans disagree on {}",
            String::from_utf8_lossy(&input)
        );
        counts[native_class as usize] += 1;
    }
    assert!(
        disagreements.is_empty(),
        "{} of {n} records disagree with expected.txt, first: {:#?}",
        disagreements.len(),
        &disagreements[..disagreements.len().min(5)]
    );
    assert_eq!(f.stats.traps, 0);
    assert_eq!(f.stats.calls, n as u64);
    // The corpus really has all three classes in it.
    assert!(counts.iter().all(|&c| c > n / 20), "{counts:?}");
}

/// WAMR warns "a module with WASI apis should be either a command or a
/// reactor" at every Fluent Bit start unless the module exports `_start`
/// or `_initialize`; a filter is a reactor.
#[test]
fn the_module_is_a_wasi_reactor() {
    let engine = wasm_host::engine(Execution::Compiled, false).unwrap();
    let m = wasmtime::Module::new(&engine, module()).unwrap();
    let exports: Vec<&str> = m.exports().map(|e| e.name()).collect();
    assert!(exports.contains(&"_initialize"), "{exports:?}");
    assert!(!exports.contains(&"_start"), "{exports:?}");
    let ty = m.get_export("_initialize").and_then(|e| e.func().cloned()).unwrap();
    assert_eq!((ty.params().len(), ty.results().len()), (0, 0));
    // And a host that calls it, as WAMR does, then filters as before.
    let mut f = default_filter();
    assert_eq!(
        f.call(TAG, TIME, br#"{"log":"ERROR x"}"#).kept().map(<[u8]>::to_vec),
        Some(br#"{"log":"ERROR x","log_class":"error"}"#.to_vec())
    );
}

#[test]
fn the_corpus_agrees_100_percent_compiled() {
    run_corpus(Execution::Compiled, 20_000, 1);
    run_corpus(Execution::Compiled, 20_000, 7);
}

#[test]
fn the_corpus_agrees_100_percent_interpreted() {
    run_corpus(Execution::Interpreted, 3_000, 3);
}

#[test]
fn every_rule_case_through_the_host() {
    let mut f = default_filter();
    let cases = rule_cases();
    assert!(cases.len() > 100);
    for case in cases {
        let input = case.input();
        let got = f.call(TAG, TIME, &input);
        assert_eq!(
            got.kept().map(<[u8]>::to_vec),
            expected_output(&input, case.class),
            "{}",
            case.text
        );
    }
}

#[test]
fn escaped_unicode_is_matched_unescaped() {
    let mut f = default_filter();
    // Fluent Bit sends these as \u escapes and surrogate pairs.
    for (log, class) in [
        (
            "\u{6c7a}\u{6e08}\u{306b}\u{5931}\u{6557}\u{3057}\u{307e}\u{3057}\u{305f} ERROR code=E042",
            Class::Error,
        ),
        ("\u{1F600}ERROR\u{1F600}", Class::Error),
        ("\u{1F600} ELB-HealthChecker/2.0 \u{1F600}", Class::Health),
        ("\u{30a8}\u{30e9}\u{30fc} \u{1F600} info", Class::Other),
    ] {
        let input = fluent_bit_json(&firelens_record(log));
        assert!(input.windows(2).any(|w| w == b"\\u"), "the host escapes non-ASCII");
        assert_eq!(
            f.call(TAG, TIME, &input).kept().map(<[u8]>::to_vec),
            expected_output(&input, class),
            "{log}"
        );
    }
    // Hand-escaped ASCII, as a JSON encoder other than Fluent Bit's might write.
    let input = br#"{"log":"\u0045RROR: \u0022GET / HTTP/1.1\u0022 200 0","source":"stdout"}"#;
    assert_eq!(
        f.call(TAG, TIME, input).kept().map(<[u8]>::to_vec),
        expected_output(input, Class::Error)
    );
}

#[test]
fn an_existing_mark_is_replaced_not_duplicated() {
    let mut f = default_filter();
    let input = br#"{"log":"ERROR x","log_class":"info"}"#;
    assert_eq!(
        f.call(TAG, TIME, input).kept().unwrap(),
        br#"{"log":"ERROR x","log_class":"error"}"#
    );
    let input = br#"{"log":"ERROR x","log_class":"error"}"#;
    assert_eq!(f.call(TAG, TIME, input).kept().unwrap(), input);
    let input = br#"{"log_class":"other","log":"fine"}"#;
    assert_eq!(f.call(TAG, TIME, input).kept().unwrap(), input);
}

/// Inputs the classifier cannot make sense of come back exactly as they went
/// in: no trap, no drop by the module.
#[test]
fn bad_input_passes_through_unchanged_without_traps() {
    let mut f = default_filter();
    let deep = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_obj = format!("{{\"log\":\"ERROR\",\"x\":{}}}", deep);
    let inputs: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"{".to_vec(),
        b"}".to_vec(),
        b"[1,2]".to_vec(),
        b"\"log\"".to_vec(),
        b"null".to_vec(),
        b"{\"log\":\"ERROR".to_vec(),
        b"{\"log\":\"ERROR\\".to_vec(),
        b"{\"log\":ERROR}".to_vec(),
        b"{\"log\" \"ERROR\"}".to_vec(),
        b"{log:\"ERROR\"}".to_vec(),
        b"{\"log\":\"ERROR\",}".to_vec(),
        b"{\"log\":\"x\"}}}}".to_vec(),
        b"{\"source\":\"stdout\"}".to_vec(),
        b"{\"log\":123}".to_vec(),
        b"{\"log\":[\"ERROR\"]}".to_vec(),
        b"{\"log\":\"\\ud800\\ud800\\udfff \\uZZZZ \\u12 \\x \\\"\"}".to_vec(),
        b"{\"log\":\"\\u0000\\u0000 ok\"}".to_vec(),
        b"{\"log\":\"\xff\xfe raw invalid utf-8\"}".to_vec(),
        b"{\"\xff\":\"\xc3\x28\"}".to_vec(),
        deep.clone().into_bytes(),
    ];
    for input in &inputs {
        match f.call_raw(TAG, TIME, input) {
            Returned::Text(out) => assert_eq!(out, *input, "{:?}", String::from_utf8_lossy(input)),
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(input)),
        }
    }
    // A deeply nested value does not stop the log line being classified.
    // (call_raw: the host's own JSON check has a nesting limit Fluent Bit lacks.)
    match f.call_raw(TAG, TIME, deep_obj.as_bytes()) {
        Returned::Text(out) => assert!(out.ends_with(b",\"log_class\":\"error\"}")),
        other => panic!("{other:?}"),
    }
    assert_eq!(f.stats.traps, 0);
}

/// Deterministic mutation fuzzing through the host: corrupted records never
/// trap, and whatever comes back is the input, the input with the mark, or a drop.
#[test]
fn mutated_records_never_trap() {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus::generate(500, 11, dir.path()).unwrap();
    let mut f = default_filter();
    let reference = Classifier::builtin().reference();
    let (mut scratch, mut reference_out) = (Vec::new(), Vec::new());
    let mut next = corpus::xorshift(0x9E37_79B9_7F4A_7C15u64);
    const NASTY: &[&[u8]] = &[
        b"\\",
        b"\"",
        b"{",
        b"}",
        b"[",
        b"\\u",
        b"\\ud83d",
        b"\xff",
        b"\0",
        b"ERROR",
        b",",
        b":",
        b"\\n",
        b"\\\"",
        b"\\u0041",
        b"\\u00e9",
        b"\\/",
        b"[error]",
        b"level=",
        b"\\\"GET / HTTP/1.1\\\" 503 ",
    ];
    for round in 0..20_000 {
        let mut input = fluent_bit_json(&c.records[round % c.records.len()]);
        let any_byte: Vec<u8> = (0..=255).collect();
        for _ in 0..=(next() % 4) {
            mutate(&mut input, &mut next, NASTY, &any_byte);
        }
        // Fluent Bit never passes an embedded NUL (its JSON escapes it); the host
        // copies the record as a C string would be read.
        match f.call_raw(TAG, TIME, &input) {
            Returned::Text(out) => {
                // The module's answer is the reference scan's on the same
                // bytes, read back as a C string.
                let class = reference.apply(&input, &mut scratch, &mut reference_out).unwrap();
                let want: &[u8] = if class == Class::Health { b"" } else { &reference_out };
                assert_eq!(
                    out,
                    want.split(|&b| b == 0).next().unwrap(),
                    "module and reference scan disagree on {:?}",
                    String::from_utf8_lossy(&input)
                );
                let c_input = input.split(|&b| b == 0).next().unwrap();
                let unmarked = rfind(&out, b",\"log_class\":\"error\"")
                    .map(|at| [&out[..at], &out[at + MARK.len() + 1..]].concat());
                let ok = out.is_empty() || out == input || out == c_input || unmarked.as_deref() == Some(c_input);
                assert!(
                    ok,
                    "unexpected output for {:?}: {:?}",
                    String::from_utf8_lossy(&input),
                    String::from_utf8_lossy(&out)
                );
            }
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(&input)),
        }
    }
    assert_eq!(f.stats.traps, 0);
}

#[test]
fn a_record_of_any_size_reaches_the_module_whatever_the_heap_setting() {
    // The module exports malloc and free, so WAMR creates no app heap and
    // allocates the record with them: the default 8 KiB `Wasm_Heap_Size`
    // passes 16 MiB.
    let mut f = filter(&FilterConfig::default());
    assert_eq!(f.heap_size(), None, "no app heap: the module allocates its inputs");
    for size in [1 << 20, 16 << 20] {
        let input = fluent_bit_json(&firelens_record(&"x".repeat(size)));
        assert_eq!(f.call(TAG, TIME, &input).kept(), Some(&input[..]), "{size} bytes");
    }
    // A 1 MiB line that escaping doubles, marked as an error.
    let cjk = "\u{30a8}".repeat((1 << 20) / 3);
    let cjk_input = fluent_bit_json(&firelens_record(&format!("{cjk} ERROR")));
    assert!(cjk_input.len() > 2 << 20);
    assert_eq!(
        f.call(TAG, TIME, &cjk_input).kept().map(<[u8]>::to_vec),
        expected_output(&cjk_input, Class::Error)
    );
    assert_eq!(f.stats.heap_alloc_failures, 0);
    // The inputs are freed after each call: once the allocator has its
    // layout, memory is reused, not grown per record.
    let input = fluent_bit_json(&firelens_record(&"x".repeat(16 << 20)));
    assert!(f.call(TAG, TIME, &input).kept().is_some());
    let grown = f.memory_size();
    for _ in 0..3 {
        assert!(f.call(TAG, TIME, &input).kept().is_some());
    }
    assert_eq!(f.memory_size(), grown);
}

#[test]
fn a_record_the_module_cannot_allocate_is_lost_loudly() {
    // Linear memory capped just above what the module starts with: its
    // malloc returns 0, and Fluent Bit calls with a null record.
    let start = filter(&FilterConfig::default()).memory_size() as usize;
    let mut f = filter(&FilterConfig {
        max_memory_bytes: Some(start + (1 << 20)),
        ..FilterConfig::default()
    });
    let input = fluent_bit_json(&firelens_record(&"x".repeat(4 << 20)));
    assert_eq!(f.call(TAG, TIME, &input), Outcome::Dropped(DropReason::Empty));
    assert_eq!(f.stats.heap_alloc_failures, 1);
    assert!(f.stderr().contains("did not reach the filter"), "{}", f.stderr());
    // Smaller records still pass afterwards.
    let small = fluent_bit_json(&firelens_record("GET /index.html 200"));
    assert_eq!(f.call(TAG, TIME, &small).kept(), Some(&small[..]));
}

#[test]
fn linear_memory_stays_flat_over_a_million_calls() {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus::generate(1000, 5, dir.path()).unwrap();
    let inputs: Vec<Vec<u8>> = c.records.iter().map(fluent_bit_json).collect();
    let mut f = default_filter();
    // Warm up with one whole cycle of what the run will see (the largest
    // record, the small ones, the largest again), so buffers reach their size
    // and the allocator its layout: the records themselves are allocated in
    // the module's memory too, between its own buffers.
    let big = fluent_bit_json(&firelens_record(&format!("ERROR {}", "y".repeat(300_000))));
    for _ in 0..2 {
        f.call(TAG, TIME, &big);
        for input in &inputs {
            f.call(TAG, TIME, input);
        }
    }
    let before = f.memory_size();
    for i in 0..1_000_000 {
        f.call(TAG, TIME, &inputs[i % inputs.len()]);
    }
    f.call(TAG, TIME, &big);
    assert_eq!(f.memory_size(), before, "linear memory grew over 1M calls");
    assert_eq!(f.stats.traps, 0);
    assert_eq!(f.stats.calls, 1_000_000 + 2 * inputs.len() as u64 + 3);
}

fn rules_dir(text: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    if let Some(t) = text {
        std::fs::write(dir.path().join("rules.toml"), t).unwrap();
    }
    dir
}

fn filter_with_rules(dir: &Path) -> WasmFilter {
    filter(&FilterConfig {
        accessible_paths: vec![(dir.to_path_buf(), RULES_DIR.to_owned())],
        ..FilterConfig::default()
    })
}

#[test]
fn a_rules_file_read_through_wasi_changes_the_rules() {
    let dir = rules_dir(Some(
        r#"
[mark]
field = "severity_class"
value = "alert"
[health]
user_agents = ["Pingdom.com_bot"]
[error]
contains = ["Traceback (most recent call last)"]
"#,
    ));
    let mut f = filter_with_rules(dir.path());
    let out = |f: &mut WasmFilter, log: &str| f.call(TAG, TIME, &fluent_bit_json(&firelens_record(log)));
    assert_eq!(
        out(&mut f, "GET / Pingdom.com_bot_version_1.4"),
        Outcome::Dropped(DropReason::Empty)
    );
    // ELB is no longer in the list: kept.
    assert!(out(&mut f, "GET /health ELB-HealthChecker/2.0").kept().is_some());
    let marked = out(&mut f, "Traceback (most recent call last):");
    assert!(marked.kept().unwrap().ends_with(br#","severity_class":"alert"}"#));
    assert!(
        out(&mut f, "ERROR x")
            .kept()
            .unwrap()
            .ends_with(br#","severity_class":"alert"}"#)
    );
    assert!(
        f.stderr()
            .contains("rules loaded from /fluent-bit/firelens-rules/rules.toml"),
        "{}",
        f.stderr()
    );
}

#[test]
fn an_invalid_rules_file_keeps_the_built_in_rules_and_says_so() {
    let dir = rules_dir(Some("[health]\nuser_agent = [\"typo\"]\n"));
    let mut f = filter_with_rules(dir.path());
    let health = fluent_bit_json(&firelens_record("GET /health ELB-HealthChecker/2.0"));
    assert_eq!(f.call(TAG, TIME, &health), Outcome::Dropped(DropReason::Empty));
    let err = f.stderr();
    assert!(
        err.contains("ERROR: invalid rules file") && err.contains("user_agent"),
        "{err}"
    );
    // Said once, at load, not per record.
    f.call(TAG, TIME, &health);
    assert_eq!(f.stderr().matches("invalid rules file").count(), 1);
}

#[test]
fn without_a_rules_file_the_built_in_rules_apply() {
    for dir in [Some(rules_dir(None)), None] {
        let mut f = match &dir {
            Some(d) => filter_with_rules(d.path()),
            // Directory not in Accessible_Paths at all.
            None => default_filter(),
        };
        let err = fluent_bit_json(&firelens_record("ERROR boom"));
        assert_eq!(
            f.call(TAG, TIME, &err).kept().map(<[u8]>::to_vec),
            expected_output(&err, Class::Error)
        );
        assert!(f.stderr().contains("using the built-in rules"), "{}", f.stderr());
    }
}

#[test]
fn shipped_sample_rules_file_is_valid_and_equals_the_defaults() {
    let path = corpus::workspace_root().join("fluent-bit/rules.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let parsed = firelens_filter::RulesFile::from_toml(&text).unwrap();
    assert_eq!(parsed, firelens_filter::RulesFile::default());
    let dir = rules_dir(Some(&text));
    let mut f = filter_with_rules(dir.path());
    f.call(TAG, TIME, b"{}");
    assert!(f.stderr().contains("rules loaded"), "{}", f.stderr());
}

#[test]
fn null_and_odd_arguments_do_not_trap() {
    let mut f = default_filter();
    // An empty tag and a huge one.
    for tag in ["", &"t".repeat(5000)] {
        let input = fluent_bit_json(&firelens_record("ERROR x"));
        assert!(f.call(tag, (0, 0), &input).kept().is_some());
    }
    assert_eq!(f.stats.traps, 0);
}

fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}
