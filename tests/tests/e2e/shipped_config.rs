//! The shipped Fluent Bit include agrees with the module, with sink-proxy's
//! defaults and with the README; a 1 MiB record passes its heap in the host.

use clap::Parser;
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

type Section = BTreeMap<String, String>;

/// The sections of fluent-bit/firelens.conf, keys lower-cased.
fn sections() -> Vec<(String, Section)> {
    let text = std::fs::read_to_string(workspace_root().join("fluent-bit/firelens.conf")).unwrap();
    let mut out: Vec<(String, Section)> = Vec::new();
    for l in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        if l.starts_with('[') {
            out.push((l.to_owned(), Section::new()));
            continue;
        }
        let (k, v) = l.split_once(char::is_whitespace).unwrap();
        out.last_mut()
            .unwrap()
            .1
            .insert(k.to_ascii_lowercase(), v.trim().to_owned());
    }
    out
}

fn section(kind: &str, name: &str) -> Section {
    sections()
        .into_iter()
        .find(|(k, s)| k == kind && s["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in firelens.conf"))
        .1
}

#[test]
fn conf_and_yaml_say_the_same() {
    let yaml = std::fs::read_to_string(workspace_root().join("fluent-bit/firelens.yaml")).unwrap();
    let (filters, outputs) = yaml.split_once("  outputs:").expect("filters, then outputs");
    for (part, (kind, s)) in [
        (filters, ("[FILTER]", section("[FILTER]", "wasm"))),
        (outputs, ("[OUTPUT]", section("[OUTPUT]", "http"))),
    ] {
        for (k, v) in &s {
            let line = format!("{k}: {v}");
            let quoted = format!("{k}: '{v}'");
            assert!(
                part.contains(&line) || part.contains(&quoted),
                "firelens.yaml lacks {kind} {line}"
            );
        }
    }
}

#[test]
fn grace_lets_fluent_bit_flush_before_the_stop_timeout() {
    let conf = sections();
    let service = &conf
        .iter()
        .find(|(k, _)| k == "[SERVICE]")
        .expect("a [SERVICE] section")
        .1;
    let grace: u64 = service["grace"].parse().unwrap();
    let yaml = std::fs::read_to_string(workspace_root().join("fluent-bit/firelens.yaml")).unwrap();
    assert!(yaml.contains(&format!("grace: {grace}")), "firelens.yaml says the same");
    let task: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(workspace_root().join("examples/ecs/task-definition.json")).unwrap(),
    )
    .unwrap();
    let router = task["containerDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "log_router")
        .unwrap();
    let stop = router["stopTimeout"].as_u64().unwrap();
    assert!(
        grace > 5 && grace + 5 <= stop,
        "Grace {grace} s against stopTimeout {stop} s"
    );
}

#[test]
fn the_filter_section_fits_the_module() {
    let s = section("[FILTER]", "wasm");
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
fn the_output_section_matches_sink_proxy() {
    let s = section("[OUTPUT]", "http");
    let cli = sink_proxy::config::Cli::try_parse_from(["sink-proxy", "--delivery-stream", "s"]).unwrap();
    let proxy = sink_proxy::config::Config::new(cli, None, |_| None).unwrap();
    assert_eq!(s["match"], section("[FILTER]", "wasm")["match"]);
    assert_eq!(format!("{}:{}", s["host"], s["port"]), proxy.listen.to_string());
    assert_eq!(s["uri"], proxy.ingest.path);
    assert_eq!(s["header_tag"], proxy.ingest.tag_header);
    assert_eq!(s["json_date_key"], proxy.ingest.date_key);
    assert_eq!(s["json_date_format"], "double", "sink-proxy reads the date as seconds");
    assert_eq!(s["format"], "json_lines", "archived byte for byte");
    assert_eq!(s["compress"], "gzip");
    assert_eq!(s["retry_limit"], "no_limits", "503/429 mean try again");
}

#[test]
fn readme_quotes_the_shipped_sections() {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    for (kind, s) in sections() {
        for (k, v) in s {
            let found = readme.lines().any(|l| {
                let mut words = l.split_whitespace();
                words.next().is_some_and(|w| w.eq_ignore_ascii_case(&k)) && words.next() == Some(v.as_str())
            });
            assert!(
                found,
                "README does not show {kind} `{k} {v}` as in fluent-bit/firelens.conf"
            );
        }
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
        "scripts/demo.sh",
        "cargo run --release -p firelens-e2e --bin proxy-bench -- --mib 512",
        "cargo test --release -p firelens-e2e --test reliability -- --nocapture",
    ] {
        assert!(readme.contains(command), "README lost the command `{command}`");
    }
    for section in [
        "### Through the test host",
        "### In a real Fluent Bit 4.2.2",
        "### sink-proxy throughput and cost",
        "## Proven reliability",
    ] {
        assert!(readme.contains(section), "README lost the section {section}");
    }
}

#[test]
fn readme_documents_every_alert_setting() {
    use sink_proxy::alerts::config::{SLACK_ENV, SNS_ENV, WEBHOOK_ENV, WINDOW_ENV};
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    let section = readme
        .split("\n## Alerts\n")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("README has an Alerts section");
    for name in [SLACK_ENV, WEBHOOK_ENV, SNS_ENV, WINDOW_ENV] {
        assert!(section.contains(name), "the Alerts section lacks {name}");
    }
    let example = std::fs::read_to_string(workspace_root().join("sink-proxy/sink-proxy.example.toml")).unwrap();
    let file: toml::Table = toml::from_str(&example).unwrap();
    for key in file["alerts"].as_table().unwrap().keys() {
        assert!(
            readme.contains(&format!("`{key}`")),
            "README does not mention alerts key `{key}`"
        );
    }
}
