//! What the include's multiline filters hand the module: a long line joined
//! from its 16 KiB parts (the first part's other keys, `log` last, no
//! `partial_*` keys), and stack traces joined with newlines. The module
//! classifies each as a whole, in the host that calls it as Fluent Bit 4.2
//! does. The joining itself is Fluent Bit's, checked in a real one by
//! bench/fluent-bit-multiline.sh.

use serde_json::{Map, Value, json};
use wasm_host::corpus::module_path;
use wasm_host::{FilterConfig, WasmFilter, fluent_bit_json};

/// A record as `ml_create_packer` builds it: the first part's keys but the
/// partial ones, then the joined `log`.
fn joined(log: &str, source: &str) -> Value {
    let mut m = Map::new();
    m.insert("container_id".into(), json!("c0ffee"));
    m.insert("container_name".into(), json!("app"));
    m.insert("source".into(), json!(source));
    m.insert("log".into(), json!(log));
    Value::Object(m)
}

/// The class the module gave: `Some("error")`, `None` (kept unmarked), or
/// a panic if it dropped the record.
fn class_of(f: &mut WasmFilter, record: &Value) -> Option<String> {
    let input = fluent_bit_json(record);
    let out = f
        .call("app-firelens-1", (1_795_532_400, 0), &input)
        .kept()
        .map(<[u8]>::to_vec)
        .expect("kept");
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["log"], record["log"], "the whole line, unchanged");
    assert!(v.as_object().unwrap().keys().all(|k| !k.starts_with("partial_")));
    v.get("log_class").and_then(Value::as_str).map(str::to_owned)
}

#[test]
fn long_lines_are_classified_whole() {
    let mut f = WasmFilter::from_file(&module_path(), &FilterConfig::default()).unwrap();
    let level_first =
        serde_json::to_string(&json!({"level": "error", "msg": "payment failed", "payload": "p".repeat(100_000)}))
            .unwrap();
    let level_last = serde_json::to_string(&json!({"payload": "p".repeat(100_000), "level": "error"})).unwrap();
    let info = serde_json::to_string(&json!({"level": "info", "payload": "ERROR".repeat(20_000)})).unwrap();
    let cases: [(&str, String, Option<&str>); 6] = [
        ("16 KiB + 1", "a".repeat(16 * 1024 + 1), None),
        ("100 KB of JSON, level in the first part", level_first, Some("error")),
        ("100 KB of JSON, level in the last part", level_last, Some("error")),
        ("JSON at level info, ERROR in a field", info, None),
        ("1 MiB", "b".repeat(1 << 20), None),
        (
            "4 MiB, ERROR in the last part",
            format!("{} ERROR", "c".repeat(4 << 20)),
            Some("error"),
        ),
    ];
    for (name, log, class) in cases {
        assert_eq!(class_of(&mut f, &joined(&log, "stdout")).as_deref(), class, "{name}");
    }
    assert_eq!(f.stats.heap_alloc_failures, 0);
}

#[test]
fn joined_stack_traces_are_classified_as_events() {
    let mut f = WasmFilter::from_file(&module_path(), &FilterConfig::default()).unwrap();
    let traces: [(&str, &[&str], Option<&str>); 4] = [
        (
            "java",
            &[
                "Exception in thread \"main\" java.lang.IllegalStateException: boom",
                "\tat com.example.Shop.pay(Shop.java:42)",
                "Caused by: java.io.IOException: disk",
                "\tat com.example.Disk.write(Disk.java:9)",
                "\t... 2 more",
            ],
            Some("error"),
        ),
        (
            "python",
            &[
                "Traceback (most recent call last):",
                "  File \"/app/shop.py\", line 42, in pay",
                "    raise ValueError(\"declined\")",
                "ValueError: declined",
            ],
            Some("error"),
        ),
        (
            "go",
            &[
                "panic: runtime error: index out of range [3] with length 3",
                "",
                "goroutine 1 [running]:",
                "main.pay(...)",
                "\t/app/main.go:42 +0x1d",
            ],
            Some("error"),
        ),
        (
            "node",
            &[
                "Error: card declined",
                "    at pay (/app/shop.js:42:11)",
                "    at main (/app/shop.js:7:3)",
            ],
            None,
        ),
    ];
    for (name, lines, class) in traces {
        let event = lines.join("\n");
        assert_eq!(class_of(&mut f, &joined(&event, "stderr")).as_deref(), class, "{name}");
        // Ordinary lines around it stay ordinary.
        assert_eq!(class_of(&mut f, &joined("GET /after 200", "stdout")), None);
    }
}
