//! The shipped Fluent Bit filter settings agree with the module and the README,
//! and a record of 1 MiB passes them in the host.

use firelens_filter::RULES_DIR;
use std::collections::BTreeMap;
use wasm_host::corpus::{module_path, workspace_root};
use wasm_host::{FilterConfig, WasmFilter, fluent_bit_json};

/// `flb_utils_size_to_bytes`: K, M, G are powers of 1000.
fn fluent_bit_size(v: &str) -> u64 {
    let v = v.trim();
    let (num, mult) = match v.to_ascii_uppercase().trim_end_matches('B').chars().last() {
        Some('K') => (&v[..v.len() - 1], 1_000),
        Some('M') => (&v[..v.len() - 1], 1_000_000),
        Some('G') => (&v[..v.len() - 1], 1_000_000_000),
        _ => (v, 1),
    };
    num.parse::<u64>().unwrap() * mult
}

fn conf_settings() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(workspace_root().join("fluent-bit/filter-wasm.conf")).unwrap();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('['))
        .map(|l| {
            let (k, v) = l.split_once(char::is_whitespace).unwrap();
            (k.to_ascii_lowercase(), v.trim().to_owned())
        })
        .collect()
}

#[test]
fn conf_and_yaml_say_the_same() {
    let conf = conf_settings();
    let yaml = std::fs::read_to_string(workspace_root().join("fluent-bit/filter-wasm.yaml")).unwrap();
    for (k, v) in &conf {
        let line = format!("{k}: {v}");
        let quoted = format!("{k}: '{v}'");
        assert!(
            yaml.contains(&line) || yaml.contains(&quoted),
            "filter-wasm.yaml lacks {line}"
        );
    }
}

#[test]
fn shipped_settings_fit_the_module() {
    let s = conf_settings();
    assert_eq!(s["name"], "wasm");
    assert_eq!(s["function_name"], "firelens_classify");
    assert_eq!(s["event_format"], "json", "msgpack mode truncates at NUL bytes in 4.2");
    assert_eq!(s["accessible_paths"], RULES_DIR);
    assert!(s["match"].contains("-firelens-"));

    // A 1 MiB log line, escaped to twice its size, passes the shipped heap.
    let heap = fluent_bit_size(&s["wasm_heap_size"]);
    let mut f = WasmFilter::from_file(
        &module_path(),
        &FilterConfig {
            heap_size: heap as u32,
            ..FilterConfig::default()
        },
    )
    .unwrap();
    let line = "\u{30a8}".repeat((1 << 20) / 3);
    let record = fluent_bit_json(&serde_json::json!({"container_name": "web", "log": line, "source": "stdout"}));
    assert!(record.len() > 2 << 20);
    assert_eq!(f.call("web-firelens-1", (0, 0), &record).kept(), Some(&record[..]));
    assert_eq!(f.stats.heap_alloc_failures, 0);
}

#[test]
fn readme_quotes_the_shipped_filter_section() {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    for (k, v) in conf_settings() {
        let found = readme.lines().any(|l| {
            let mut words = l.split_whitespace();
            words.next().is_some_and(|w| w.eq_ignore_ascii_case(&k)) && words.next() == Some(v.as_str())
        });
        assert!(
            found,
            "README does not show `{k} {v}` as in fluent-bit/filter-wasm.conf"
        );
    }
    assert!(readme.contains(firelens_filter::RULES_PATH));
}

#[test]
fn fluent_bit_sizes_are_decimal() {
    assert_eq!(fluent_bit_size("1M"), 1_000_000);
    assert_eq!(fluent_bit_size("64K"), 64_000);
    assert_eq!(fluent_bit_size("8192"), 8192);
}

#[test]
fn readme_shows_how_to_reproduce_every_figure() {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    for command in [
        "cargo run --release -p wasm-host --bin filter-bench",
        "bench/fluent-bit-cpu.sh 200000 5",
        "scripts/test.sh",
        "scripts/fuzz.sh",
    ] {
        assert!(readme.contains(command), "README lost the command `{command}`");
    }
    assert!(readme.contains("### Through the test host") && readme.contains("### In a real Fluent Bit 4.2.2"));
}
