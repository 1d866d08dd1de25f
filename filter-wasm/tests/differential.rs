//! The module's fast path against a naive oracle (`support/oracle.rs`),
//! under random rules files: the escaped scan, the reference scan and the
//! memo must all give the oracle's class and the record it implies. Random
//! rules build every prefilter (`Exact`, `RangePlus`, `Every`), literals the
//! escaped scan cannot take, dotted keys, and a log key that is also a field.
//! Deterministic: fixed seeds.

#[path = "support/oracle.rs"]
mod oracle;

use firelens_filter::{Class, Classifier, Memo, RulesFile, fluent_bit_json};
use oracle::Oracle;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

const RULE_SETS: usize = 400;
const RECORDS_PER_SET: usize = 250;

struct Gen(fastrand::Rng);

impl Gen {
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.0.usize(..items.len())]
    }

    fn chance(&mut self, p: f64) -> bool {
        self.0.f64() < p
    }

    fn subset<S: AsRef<str>>(&mut self, items: &[S], p: f64) -> Vec<String> {
        items
            .iter()
            .filter(|_| self.chance(p))
            .map(|s| s.as_ref().to_owned())
            .collect()
    }

    fn word(&mut self, alphabet: &[u8], len: std::ops::Range<usize>) -> String {
        let n = self.0.usize(len);
        (0..n)
            .map(|_| alphabet[self.0.usize(..alphabet.len())] as char)
            .collect()
    }

    fn random_case(&mut self, s: &str) -> String {
        s.chars()
            .map(|c| {
                if self.chance(0.5) {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect()
    }
}

/// Literals the escaped scan cannot take (not plain ASCII), and short ones
/// over many bytes, which need more than eight trigger bytes.
const ODD_LITERALS: &[&str] = &[
    "say \"hi\"",
    "C:\\temp",
    "ÉCHEC",
    "エラー",
    "q",
    "z7",
    "%%",
    "#!",
    "x",
    "jj",
    "~",
    "w",
];
const DOTTED: &[&str] = &["a.b", "ctx.http.code", "x.y.z", "log.lvl"];

/// Subsets of the built-in lists, plus additions.
fn random_rules(g: &mut Gen) -> RulesFile {
    let d = RulesFile::default();
    let mut r = RulesFile::default();
    if g.chance(0.2) {
        r.log_key = g.pick(&["msg", "message", "log"]).to_owned();
    }
    if g.chance(0.3) {
        r.mark.field = g.pick(&["class", "severity_mark", "é_mark"]).to_owned();
        r.mark.value = g.pick(&["ERR", "bad \"one\"", "エラー"]).to_owned();
    }
    if g.chance(0.6) {
        r.health.user_agents = g.subset(&d.health.user_agents, 0.6);
        r.health
            .user_agents
            .extend(g.subset(&["Pingdom", "probe\"x", "ヘルス"], 0.2));
    }
    let e = &mut r.error;
    if g.chance(0.6) {
        e.words = g.subset(&d.error.words, 0.6);
        e.words.extend(g.subset(&["OOPS", "ÉCHEC", "Err\"or", "E_1"], 0.2));
    }
    if g.chance(0.5) {
        e.levels = g.subset(&d.error.levels, 0.6);
        e.levels.extend(g.subset(&["bad", "X1"], 0.3));
    }
    if g.chance(0.6) {
        e.level_keys = g.subset(&d.error.level_keys, 0.6);
        e.level_keys.extend(g.subset(DOTTED, 0.3));
    }
    if g.chance(0.5) {
        e.numeric_level_keys = g.subset(&["level", "lvl", "a.b", "n"], 0.5);
    }
    if g.chance(0.6) {
        e.status_keys = g.subset(&d.error.status_keys, 0.6);
        e.status_keys.extend(g.subset(DOTTED, 0.3));
    }
    if g.chance(0.3) {
        // The log line's key is also a field key.
        e.level_keys.push(r.log_key.clone());
    }
    e.stack_traces = g.chance(0.7);
    e.numeric_level_min = g.0.i64(-5..80);
    e.access_log = g.chance(0.7);
    if g.chance(0.5) {
        let lo = g.0.u16(100..700);
        (e.status_min, e.status_max) = (lo, g.0.u16(lo..1000));
    }
    if g.chance(0.15) {
        // Many capitals: more than eight trigger bytes, few outside `A`..`\`.
        e.contains = (0..g.0.usize(5..10)).map(|_| g.word(b"BDGJKMNQVWXYZ", 1..3)).collect();
    } else if g.chance(0.4) {
        e.contains = g.subset(ODD_LITERALS, 0.4);
        e.contains.extend(
            (0..g.0.usize(0..8)).map(|_| g.word(b"abcdefghijklmnopqrstuvwxyz0123456789!#%&*+,./:;<>?@^`|~", 1..4)),
        );
    }
    r
}

/// A piece of a log line: something a rule may look at, or not quite.
fn token(g: &mut Gen, rules: &RulesFile) -> String {
    let e = &rules.error;
    let from = |g: &mut Gen, list: &[String], fallback: &str| {
        if list.is_empty() {
            fallback.to_owned()
        } else {
            list[g.0.usize(..list.len())].clone()
        }
    };
    let level = from(g, &e.levels, "error");
    match g.0.u32(0..23) {
        0 => from(g, &rules.health.user_agents, "kube-probe/"),
        1 | 2 => from(g, &e.words, "ERROR"),
        3 => format!(
            "{}{}",
            from(g, &e.words, "ERROR"),
            g.pick(&["S", "_x", "1", "é", ":", ""])
        ),
        4 => from(g, &e.contains, "q"),
        5 => format!("[{}]", g.random_case(&level)),
        6 => format!(
            "[ {}:{} ]",
            g.pick(&["core", "proxy_fcgi", "1", ""]),
            g.random_case(&level)
        ),
        7 => format!("{}[{}]", g.pick(&["matrix", "a", " ", "é"]), level),
        8 if g.chance(0.5) => format!("[{}/Nov/2026:15:00:00 +0000]", g.0.u8(10..31)),
        // Near the 32-byte bracket window.
        8 => format!("[{}{}:{level}]", g.pick(&["a", " b", "é"]), g.word(b"ab: ", 18..30)),
        9 => format!(
            "{}{}={}{}",
            g.pick(&["", "?", " ", ",", "(", "x"]),
            {
                let key = from(g, &e.level_keys, "level");
                g.random_case(&key)
            },
            g.pick(&["", "\""]),
            g.random_case(&level)
        ),
        10 => format!(
            "{}={}{}",
            from(g, &e.status_keys, "status"),
            g.0.u16(100..1000),
            g.pick(&["", "_", "ms", ".5", " "])
        ),
        11 => format!(
            "\"{} /{} HTTP/{}\"{}{}{}",
            g.pick(&["GET", "POST", "PROPFIND", "get", "GE", "X"]),
            g.word(b"abc/?=", 0..6),
            g.pick(&["1.1", "2", "2.0", "x", ""]),
            g.pick(&[" ", "  ", ""]),
            g.0.u16(99..1001),
            g.pick(&[" 12", "", "0", ".5", "ms", " \"-\""])
        ),
        12 => format!("\"-\" {}", g.0.u16(100..600)),
        13 => g
            .pick(&["é", "😀", "エラー", "\u{3000}", "\u{1}", "\u{7f}", "\\", "\"", "/"])
            .to_owned(),
        14 => g.pick(&["\n", "\t", "\r\n", "  ", ""]).to_owned(),
        15 => g
            .pick(&[
                "took 404 ms",
                "200 500",
                "port 503",
                "0 errors",
                "error_count=0",
                "NO_ERROR",
            ])
            .to_owned(),
        16 => g.word(
            b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.:=[]\"' ",
            1..12,
        ),
        17 => format!("{}", g.0.u32(0..100_000)),
        18 => g.random_case(&level),
        19 => format!("{{{}}}", g.word(b"\"abc:=,", 0..5)),
        // Pieces of stack traces, and look-alikes.
        20 => g
            .pick(&[
                "Traceback (most recent call last):",
                "Traceback (most recent call)",
                "Exception in thread \"main\" java.lang.IllegalStateException: boom",
                "Exception in thread main",
                "Caused by: java.io.IOException: gone",
                "\n\tat com.example.Shop.pay(Shop.java:42)",
                "\n    at pay (/app/shop.js:42:7)",
                "\tat",
                "panic: runtime error: index out of range",
                "\n\ngoroutine 1 [running]:\nmain.main()",
                "goroutine 17 [running]:",
                "goroutine x [running]:",
                "goroutine 3 [chan receive]:",
                "C:\\tat ",
            ])
            .to_owned(),
        _ => g
            .pick(&["INFO", "WARN", "debug", "GET /health", "-", "|", ";", "'"])
            .to_owned(),
    }
}

fn log_line(g: &mut Gen, rules: &RulesFile) -> String {
    if g.chance(0.12) {
        // A JSON log line (serde_json writes non-ASCII as is, as apps do).
        let obj = Value::Object(fields(g, rules, 4));
        return format!("{}{obj}", g.pick(&["", " ", "\n"]));
    }
    let n = g.0.usize(1..10);
    let mut line = String::new();
    for _ in 0..n {
        line.push_str(&token(g, rules));
        line.push_str(g.pick(&[" ", " ", " ", "", "\t", ", ", "\n", "é"]));
    }
    if line.trim_start_matches([' ', '\t', '\n', '\r']).starts_with('{') {
        line.insert(0, '>'); // a JSON look-alike is outside the oracle's domain
    }
    line
}

/// A value for a field: levels, statuses and numbers in the forms Fluent Bit
/// writes, and look-alikes.
fn value(g: &mut Gen, rules: &RulesFile, depth: usize) -> Value {
    let level = if rules.error.levels.is_empty() {
        "error".to_owned()
    } else {
        rules.error.levels[g.0.usize(..rules.error.levels.len())].clone()
    };
    match g.0.u32(0..14) {
        0 | 1 => Value::String(g.random_case(&level)),
        2 => Value::String(format!(
            "{}{level}{}",
            g.pick(&[" ", "", "\t", "é"]),
            g.pick(&[" ", "", "\n", "x"])
        )),
        3 => Value::String(g.pick(&["info", "warn", "debug", "", "50", "503 "]).to_owned()),
        4 => Value::String(format!("{}", g.0.u16(100..1000))),
        5 => json!(g.0.i64(-100..1000)),
        6 => json!(g.0.i64(0..100) as f64),
        7 => json!(g.0.i64(0..100) as f64 + 0.5),
        8 => json!(g.0.i64(-1_000_000_000_000..1_000_000_000_000)),
        9 => json!(g.chance(0.5)),
        10 => Value::Null,
        11 => json!([level, 503]),
        _ if depth < 3 => Value::Object(fields(g, rules, depth + 1)),
        _ => Value::String(level),
    }
}

/// Members whose keys are (segments of) configured keys, and others.
fn fields(g: &mut Gen, rules: &RulesFile, depth: usize) -> Map<String, Value> {
    let e = &rules.error;
    let mut keys: Vec<String> = e
        .level_keys
        .iter()
        .chain(&e.numeric_level_keys)
        .chain(&e.status_keys)
        .cloned()
        .collect();
    keys.extend(
        [
            "a", "b", "http", "ctx", "code", "x", "y", "z", "log", "lvl", "res", "msg",
        ]
        .map(String::from),
    );
    let mut m = Map::new();
    for _ in 0..g.0.usize(0..4) {
        let mut k = keys[g.0.usize(..keys.len())].clone();
        if g.chance(0.3) {
            // Only a segment of a dotted key: its value must be an object.
            k = k.split('.').next().unwrap_or("a").to_owned();
        }
        let v = value(g, rules, depth);
        m.insert(k, v);
    }
    m
}

/// A container's members around the log line: the same for all its records,
/// so the memo is used.
struct Container {
    before: Map<String, Value>,
    after: Map<String, Value>,
}

fn container(g: &mut Gen, rules: &RulesFile) -> Container {
    let mut before = Map::new();
    before.insert("container_id".into(), json!(g.word(b"0123456789abcdef", 12..13)));
    before.insert("container_name".into(), json!(g.pick(&["web", "worker", "エラー"])));
    if g.chance(0.5) {
        before.insert("source".into(), json!(g.pick(&["stdout", "stderr"])));
    }
    if g.chance(0.3) {
        before.extend(fields(g, rules, 0));
    }
    let mut after = Map::new();
    after.insert("ecs_cluster".into(), json!("c"));
    if g.chance(0.4) {
        after.extend(fields(g, rules, 0));
    }
    if g.chance(0.2) {
        after.insert(rules.mark.field.clone(), json!(g.pick(&["error", "other", "ERR"])));
    }
    after.remove(&rules.log_key);
    before.remove(&rules.log_key);
    for k in before.keys().cloned().collect::<Vec<_>>() {
        after.remove(&k);
    }
    Container { before, after }
}

fn record(g: &mut Gen, rules: &RulesFile, c: &Container) -> Map<String, Value> {
    let mut m = c.before.clone();
    match g.0.u32(0..20) {
        0 => {}                                               // no log line
        1 => drop(m.insert(rules.log_key.clone(), json!(5))), // not a string
        _ => drop(m.insert(rules.log_key.clone(), Value::String(log_line(g, rules)))),
    }
    for (k, v) in &c.after {
        m.insert(k.clone(), v.clone());
    }
    if g.chance(0.1) {
        // One record of the container with an extra field: the memo misses.
        let extra = fields(g, rules, 0);
        for (k, v) in extra {
            m.entry(k).or_insert(v);
        }
    }
    m
}

fn members(out: &[u8]) -> Vec<(String, Value)> {
    let v: Map<String, Value> = serde_json::from_slice(out)
        .unwrap_or_else(|e| panic!("output is not a JSON object ({e}): {}", String::from_utf8_lossy(out)));
    v.into_iter().collect()
}

#[test]
fn the_fast_path_agrees_with_a_naive_oracle_under_random_rules() {
    let mut g = Gen(fastrand::Rng::with_seed(0x5eed_0ac1e));
    let mut prefilters: BTreeMap<String, usize> = BTreeMap::new();
    let mut classes: BTreeMap<&str, usize> = BTreeMap::new();
    let (mut compared, mut outside, mut refused) = (0usize, 0usize, 0usize);
    let mut sets = 0;
    while sets < RULE_SETS {
        let rules = random_rules(&mut g);
        let Ok(fast) = Classifier::new(&rules) else {
            refused += 1; // e.g. a list left empty of what validation wants
            continue;
        };
        sets += 1;
        let (reference_scan, escaped_scan) = fast.prefilters();
        *prefilters.entry(format!("reference {reference_scan}")).or_default() += 1;
        *prefilters
            .entry(format!("escaped {}", escaped_scan.unwrap_or("off")))
            .or_default() += 1;
        let reference = fast.clone().reference();
        let oracle = Oracle::new(&rules);
        let containers: Vec<Container> = (0..3).map(|_| container(&mut g, &rules)).collect();
        let mut memo = Memo::new();
        let (mut scratch, mut out, mut out2) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..RECORDS_PER_SET {
            let c = &containers[g.0.usize(..containers.len())];
            let rec = record(&mut g, &rules, c);
            let Some(want) = oracle.classify(&rec) else {
                outside += 1;
                continue;
            };
            let input = fluent_bit_json(&Value::Object(rec.clone()));
            let context = || format!("rules {rules:?}\nrecord {}", String::from_utf8_lossy(&input));
            // The module's path: escaped scan and memo.
            let got = fast.apply_with(&input, &mut memo, &mut scratch, &mut out).unwrap();
            assert_eq!(got, want, "fast path vs oracle\n{}", context());
            match oracle.expected(&rec, want) {
                None => assert!(out.is_empty(), "{}", context()),
                Some(expected) if want == Class::Other => {
                    assert_eq!(out, input, "kept records are returned byte for byte\n{}", context());
                    assert_eq!(members(&out), expected);
                }
                Some(expected) => assert_eq!(members(&out), expected, "the marked record\n{}", context()),
            }
            // Without the memo, and with the reference scan: the same bytes.
            for (name, c) in [("no memo", &fast), ("reference scan", &reference)] {
                let got2 = c.apply(&input, &mut scratch, &mut out2).unwrap();
                assert_eq!((got2, &out2), (got, &out), "{name} vs fast path\n{}", context());
            }
            *classes.entry(want.as_str()).or_default() += 1;
            compared += 1;
        }
    }
    eprintln!(
        "{compared} records compared, {outside} outside the oracle's domain, {refused} rules sets refused; {classes:?}; {prefilters:?}"
    );
    assert!(
        compared >= RULE_SETS * RECORDS_PER_SET * 9 / 10,
        "too few compared: {compared}"
    );
    for class in ["health", "error", "other"] {
        assert!(
            classes.get(class).copied().unwrap_or(0) > compared / 50,
            "{class}: {classes:?}"
        );
    }
    for kind in [
        "reference Exact",
        "reference RangePlus",
        "reference Every",
        "escaped Exact",
        "escaped RangePlus",
        "escaped Every",
        "escaped off",
    ] {
        assert!(
            prefilters.get(kind).copied().unwrap_or(0) > 0,
            "never built: {kind}: {prefilters:?}"
        );
    }
}
