//! The shipped Fluent Bit includes agree with each other, with the module,
//! with sink-proxy's defaults, with the image and with the README; a 16 MiB
//! record reaches the module in the host.

use clap::Parser;
use firelens_filter::RULES_DIR;
use std::collections::BTreeMap;
use wasm_host::corpus::{module_path, workspace_root};
use wasm_host::{FilterConfig, WasmFilter, fluent_bit_json};

type Section = BTreeMap<String, String>;

const INCLUDE: &str = "fluent-bit/firelens.conf";
const STACKTRACES: &str = "fluent-bit/firelens-stacktraces.conf";
const PARSERS: &str = "fluent-bit/firelens-parsers.conf";
const LEAN: &str = "fluent-bit/firelens-lean.conf";

/// The sections of fluent-bit/firelens.conf, keys lower-cased.
fn sections() -> Vec<(String, Section)> {
    sections_of(INCLUDE)
}

/// The sections of a classic Fluent Bit file, keys lower-cased (a key given
/// twice, such as a parser's `Rule`, keeps its values joined by newlines).
fn sections_of(file: &str) -> Vec<(String, Section)> {
    let text = std::fs::read_to_string(workspace_root().join(file)).unwrap();
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
            .entry(k.to_ascii_lowercase())
            .and_modify(|old| *old = format!("{old}\n{}", v.trim()))
            .or_insert_with(|| v.trim().to_owned());
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
    // The YAML filters, one chunk each, in the order of the classic sections.
    let yaml_filters: Vec<&str> = filters.split("    - name: ").skip(1).collect();
    let conf_filters: Vec<Section> = sections()
        .into_iter()
        .filter(|(k, _)| k == "[FILTER]")
        .map(|(_, s)| s)
        .collect();
    assert_eq!(yaml_filters.len(), conf_filters.len(), "the same filters");
    let pairs = yaml_filters
        .iter()
        .map(|y| format!("name: {y}"))
        .zip(conf_filters.into_iter().map(|s| ("[FILTER]", s)))
        .chain([(outputs.to_owned(), ("[OUTPUT]", section("[OUTPUT]", "http")))]);
    for (part, (kind, s)) in pairs {
        for (k, v) in &s {
            let line = format!("{}: {v}", k.to_ascii_lowercase());
            let quoted = format!("{}: '{v}'", k.to_ascii_lowercase());
            assert!(
                part.contains(&line) || part.contains(&quoted),
                "firelens.yaml lacks {kind} {line} (in its {} filter)",
                s["name"]
            );
        }
    }
}

#[test]
fn long_lines_are_joined_before_anything_classifies_them() {
    for file in [INCLUDE, STACKTRACES] {
        let filters: Vec<Section> = sections_of(file)
            .into_iter()
            .filter(|(k, _)| k == "[FILTER]")
            .map(|(_, s)| s)
            .collect();
        let first = &filters[0];
        assert_eq!(first["name"], "multiline", "{file}: the partial join comes first");
        assert_eq!(first["mode"], "partial_message");
        assert_eq!(first["multiline.key_content"], "log", "FireLens's line key");
        assert_eq!(
            first["match"],
            filters.last().unwrap()["match"],
            "{file}: same records as the wasm filter"
        );
        assert_eq!(
            filters.last().unwrap()["name"],
            "wasm",
            "{file}: classification comes last"
        );
        for f in filters.iter().filter(|f| f["name"] == "multiline") {
            // A limit is where Fluent Bit's emitter refuses a flushed record
            // and drops it (fluent-bit issue 12026).
            assert_eq!(
                f["emitter_mem_buf_limit"], "0",
                "{file}: {} unlimited",
                f["emitter_name"]
            );
            let ms: u64 = f["flush_ms"].parse().unwrap();
            assert!((500..=5000).contains(&ms), "{file}: Flush_Ms {ms}");
        }
    }
}

#[test]
fn the_stacktraces_include_is_the_include_plus_stack_trace_joining() {
    let mut with = sections_of(STACKTRACES);
    let parsers_file = with[0].1.remove("parsers_file").expect("a Parsers_File in [SERVICE]");
    assert_eq!(parsers_file, "/fluent-bit/firelens/firelens-parsers.conf");
    let at = with
        .iter()
        .position(|(k, s)| k == "[FILTER]" && s.contains_key("multiline.parser"))
        .expect("a multiline filter in parser mode");
    let (_, stack) = with.remove(at);
    assert_eq!(with, sections(), "everything else as in firelens.conf");
    assert!(with[at - 1].1["mode"] == "partial_message" && with[at].1["name"] == "wasm");
    assert_eq!(stack["multiline.key_content"], "log");
    let parsers: Vec<&str> = stack["multiline.parser"].split(',').map(str::trim).collect();
    // Not the built-in `python`: from Fluent Bit 5.0.4 on it emits a
    // traceback's last line twice (once joined, once as a record of its
    // own), because its last rule flushes the trace from inside that line.
    assert_eq!(parsers, ["java", "firelens_python", "go", "firelens_node"]);
    // The ones that are not built in are defined in the parsers file.
    let defined = sections_of(PARSERS);
    for name in ["firelens_python", "firelens_node"] {
        assert!(
            defined
                .iter()
                .any(|(k, s)| k == "[MULTILINE_PARSER]" && s["name"] == name),
            "{name} in the parsers file"
        );
    }
    // firelens_python ends a trace in a state no line matches: the next line
    // (or Flush_Timeout) flushes it, as java and go traces are, so no rule
    // goes back to start_state from inside the trace.
    let python = std::fs::read_to_string(workspace_root().join(PARSERS)).unwrap();
    let rules: Vec<(String, String, String)> = python
        .split("[MULTILINE_PARSER]")
        .find(|s| {
            s.lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["Name", "firelens_python"])
        })
        .expect("firelens_python")
        .lines()
        .filter_map(|l| {
            let l = l.trim().strip_prefix("Rule")?;
            let q: Vec<&str> = l.split('"').collect();
            Some((q.get(1)?.to_string(), q.get(3)?.to_string(), q.get(5)?.to_string()))
        })
        .collect();
    assert!(
        rules
            .iter()
            .all(|(from, _, to)| from == "start_state" || to != "start_state"),
        "{rules:?}"
    );
    let (_, never, _) = rules
        .iter()
        .find(|(from, _, to)| from == "python_end" && to == "python_end")
        .expect("a python_end state");
    assert_eq!(never, "/(?!)/", "python_end matches no line");
    assert_ne!(
        stack["emitter_name"],
        with[at - 1].1["emitter_name"],
        "one emitter each"
    );
}

/// firelens-lean.conf is firelens.conf without the Wasm filter, its output
/// sending msgpack and asking sink-proxy to classify.
#[test]
fn the_lean_include_is_the_include_with_classification_moved_to_the_proxy() {
    let mut lean = sections_of(LEAN);
    let mut want = sections();
    want.retain(|(k, s)| !(k == "[FILTER]" && s["name"] == "wasm"));
    let out = |s: &mut Vec<(String, Section)>| {
        let i = s
            .iter()
            .position(|(k, s)| k == "[OUTPUT]" && s["name"] == "http")
            .unwrap();
        s.remove(i).1
    };
    let (mut lean_out, want_out) = (out(&mut lean), out(&mut want));
    assert_eq!(
        lean, want,
        "everything but the Wasm filter and the output as in firelens.conf"
    );
    let header = lean_out.remove("header").unwrap();
    let (name, value) = header.split_once(char::is_whitespace).unwrap();
    assert!(name.eq_ignore_ascii_case(sink_proxy::config::CLASSIFY_HEADER) && value.trim() == "on");
    assert_eq!(lean_out, want_out, "the same output otherwise");
}

#[test]
fn the_image_carries_both_includes_where_the_readme_says() {
    let dockerfile = std::fs::read_to_string(workspace_root().join("Dockerfile")).unwrap();
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    for file in [INCLUDE, STACKTRACES, LEAN, PARSERS, "fluent-bit/firelens.yaml"] {
        let name = file.trim_start_matches("fluent-bit/");
        let copy = format!("COPY {file} /fluent-bit/firelens/{name}");
        assert!(dockerfile.contains(&copy), "the Dockerfile lacks `{copy}`");
        assert!(
            readme.contains(&format!("/fluent-bit/firelens/{name}")),
            "README lacks {name}"
        );
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
    // The image's command holds SIGTERM back this long before Fluent Bit
    // gets it (fluent-bit/router-start.sh).
    let delay = firelens_e2e::router_stop_delay_secs();
    assert!(
        grace > 5 && delay + grace + 2 <= stop,
        "stop delay {delay} s + Grace {grace} s against stopTimeout {stop} s"
    );
}

#[test]
fn the_filter_section_fits_the_module() {
    let s = section("[FILTER]", "wasm");
    assert_eq!(s["function_name"], "firelens_classify");
    assert_eq!(s["event_format"], "json", "msgpack mode truncates at NUL bytes in 4.2");
    assert_eq!(s["accessible_paths"], RULES_DIR);
    assert!(s["match"].contains("-firelens-"));

    // No Wasm_Heap_Size: the module exports malloc and free, so WAMR sizes
    // no app heap and a record of any size reaches the module.
    assert!(
        !s.contains_key("wasm_heap_size"),
        "Wasm_Heap_Size has no effect on this module"
    );
    let mut f = WasmFilter::from_file(&module_path(), &FilterConfig::default()).unwrap();
    assert_eq!(f.heap_size(), None, "the module allocates its inputs");
    let line = "\u{30a8}".repeat((16 << 20) / 3);
    let record = fluent_bit_json(&serde_json::json!({"container_name": "web", "log": line, "source": "stdout"}));
    assert!(record.len() > 32 << 20);
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
    assert_eq!(
        s["format"], "msgpack",
        "measured the cheapest end to end: no JSON encoding in Fluent Bit"
    );
    assert!(
        !s.contains_key("compress"),
        "no gzip on loopback: it costs both sides CPU and saves nothing"
    );
    assert_eq!(s["retry_limit"], "no_limits", "503/429 mean try again");
}

#[test]
fn readme_quotes_the_shipped_sections() {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    let all = sections_of(STACKTRACES)
        .into_iter()
        .chain(sections_of(PARSERS))
        .chain(sections_of(LEAN));
    for (kind, s) in all {
        for (k, v) in s
            .iter()
            .flat_map(|(k, v)| v.lines().map(move |v| (k.clone(), v.to_owned())))
        {
            let found = readme.lines().any(|l| {
                let mut words = l.split_whitespace();
                words.next().is_some_and(|w| w.eq_ignore_ascii_case(&k))
                    && words.collect::<Vec<_>>().join(" ") == v.split_whitespace().collect::<Vec<_>>().join(" ")
            });
            assert!(found, "README does not show {kind} `{k} {v}` as in the shipped files");
        }
    }
    assert!(readme.contains(firelens_filter::RULES_PATH));
}

#[test]
fn readme_shows_how_to_reproduce_every_figure() {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    for command in [
        "cargo run --release -p wasm-host --bin filter-bench",
        "bench/fluent-bit-cpu.sh 200000 5",
        "bench/fluent-bit-multiline.sh 30",
        "bench/fluent-bit-router-load.sh 1,4,8 20",
        "bench/fluent-bit-pipeline.sh 100000 5",
        "cargo run --release -p firelens-e2e --bin proxy-bench -- --mib 128 --include shipped",
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
        "### The whole pipeline against the classic setup",
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
