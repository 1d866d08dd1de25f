//! What deploys: the Dockerfile, the ECS task definition and the Terraform
//! example agree with each other, with the Fluent Bit include and with
//! sink-proxy. Docker and Terraform cannot run here; everything that can be
//! checked without them is.

use clap::CommandFactory;
use serde_json::Value;
use std::collections::BTreeSet;
use wasm_host::corpus::workspace_root;

fn read(path: &str) -> String {
    std::fs::read_to_string(workspace_root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Dockerfile instructions, continuation lines joined, comments dropped.
fn dockerfile() -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in read("Dockerfile").lines() {
        let t = line.trim();
        if t.starts_with('#') || (t.is_empty() && current.is_empty()) {
            continue;
        }
        if let Some(head) = t.strip_suffix('\\') {
            current.push_str(head);
            current.push(' ');
            continue;
        }
        current.push_str(t);
        if !current.trim().is_empty() {
            out.push(std::mem::take(&mut current));
        }
    }
    out
}

/// (sources, destination) of every COPY, and whether it copies from a stage.
fn copies() -> Vec<(Vec<String>, String, bool)> {
    dockerfile()
        .iter()
        .filter_map(|i| i.strip_prefix("COPY "))
        .map(|rest| {
            let words: Vec<&str> = rest.split_whitespace().collect();
            let from_stage = words.iter().any(|w| w.starts_with("--from="));
            let paths: Vec<String> = words
                .iter()
                .filter(|w| !w.starts_with("--"))
                .map(|w| w.to_string())
                .collect();
            let (dest, srcs) = paths.split_last().unwrap();
            (srcs.to_vec(), dest.clone(), from_stage)
        })
        .collect()
}

/// Where the final image stage puts a file whose source ends with `src_suffix`.
fn copied_to(src_suffix: &str) -> String {
    let steps = dockerfile();
    let last_from = steps.iter().rposition(|i| i.starts_with("FROM ")).unwrap();
    let final_copies = steps[last_from..].iter().filter(|i| i.starts_with("COPY ")).count();
    let all = copies();
    let skip = all.len() - final_copies;
    all.into_iter()
        .skip(skip)
        .find(|(s, _, _)| s.iter().any(|s| s.ends_with(src_suffix)))
        .unwrap_or_else(|| panic!("the Dockerfile copies no {src_suffix}"))
        .1
}

/// Settings of the include, by section `Name`: key (lower case) -> value.
fn include_setting(name: &str, key: &str) -> String {
    let text = read("fluent-bit/firelens.conf");
    let mut in_section = false;
    let mut found = None;
    for l in text.lines().map(str::trim).filter(|l| !l.starts_with('#')) {
        if l.starts_with('[') {
            in_section = false;
            continue;
        }
        let Some((k, v)) = l.split_once(char::is_whitespace) else {
            continue;
        };
        if k.eq_ignore_ascii_case("name") {
            in_section = v.trim() == name;
        } else if in_section && k.eq_ignore_ascii_case(key) {
            found = Some(v.trim().to_owned());
        }
    }
    found.unwrap_or_else(|| panic!("no {key} in the include's {name} section"))
}

fn task_definition() -> Value {
    serde_json::from_str(&read("examples/ecs/task-definition.json")).unwrap()
}

fn container<'a>(td: &'a Value, name: &str) -> &'a Value {
    td["containerDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no container {name}"))
}

#[test]
fn every_copy_source_exists_and_the_image_is_pinned() {
    for (srcs, dest, from_stage) in copies() {
        if from_stage {
            continue;
        }
        for s in srcs {
            assert!(
                workspace_root().join(&s).exists(),
                "COPY {s} {dest}: {s} does not exist"
            );
        }
    }
    let steps = dockerfile();
    let base = steps.iter().find(|i| i.starts_with("ARG BASE_IMAGE=")).unwrap();
    assert!(
        base.contains("aws-for-fluent-bit:3."),
        "a pinned 3.x tag (Fluent Bit >= 4.1 has the wasm filter): {base}"
    );
    assert!(!base.contains("latest"));
    // wamrc must be the version in the base image's Fluent Bit, as the build
    // script demands too.
    assert!(steps.iter().any(|i| i == "ARG WAMR_VERSION=2.4.1"));
    assert!(read("scripts/build-wasm.sh").contains("2.4.1"));
    assert!(
        steps.iter().any(|i| i.contains("wamrc --target=")),
        "the AOT file is built in the image"
    );
}

#[test]
fn the_image_puts_everything_where_the_include_and_the_task_look() {
    let td = task_definition();
    // The filter: AOT file at the include's Wasm_Path, the portable module beside it.
    assert_eq!(copied_to("firelens_filter.aot"), include_setting("wasm", "Wasm_Path"));
    assert_eq!(
        copied_to("firelens_filter.wasm"),
        include_setting("wasm", "Wasm_Path").replace(".aot", ".wasm")
    );
    // The rules file where the module reads it.
    assert_eq!(copied_to("fluent-bit/rules.toml"), firelens_filter::RULES_PATH);
    assert_eq!(include_setting("wasm", "Accessible_Paths"), firelens_filter::RULES_DIR);
    // The include where FireLens is told to load it.
    let router = container(&td, "log_router");
    let opts = &router["firelensConfiguration"]["options"];
    assert_eq!(router["firelensConfiguration"]["type"], "fluentbit");
    assert_eq!(opts["config-file-type"], "file");
    // The examples load the lean include (classification in sink-proxy).
    assert_eq!(
        opts["config-file-value"],
        copied_to("fluent-bit/firelens-lean.conf").as_str()
    );
    // The proxy binary where the task runs it and checks its health.
    let proxy = container(&td, "sink-proxy");
    let bin = copied_to("/sink-proxy");
    assert_eq!(proxy["entryPoint"][0], bin.as_str());
    assert_eq!(
        proxy["healthCheck"]["command"],
        serde_json::json!(["CMD", bin, "--check-health"])
    );
    assert!(read("Dockerfile").contains(&format!("\"user\": \"{}\"", proxy["user"].as_str().unwrap())));
}

#[test]
fn the_task_definition_orders_and_configures_the_containers() {
    let td = task_definition();
    assert_eq!(td["networkMode"], "awsvpc", "the proxy is on the router's 127.0.0.1");
    let depends = |name: &str| container(&td, name)["dependsOn"][0].clone();
    // Start: proxy healthy, then router, then app; ECS stops in reverse.
    assert_eq!(
        depends("log_router"),
        serde_json::json!({"containerName": "sink-proxy", "condition": "HEALTHY"})
    );
    assert_eq!(
        depends("web"),
        serde_json::json!({"containerName": "log_router", "condition": "START"})
    );
    assert_eq!(container(&td, "web")["logConfiguration"]["logDriver"], "awsfirelens");
    // Fluent Bit's grace and the proxy's drain fit the stop timeout.
    let proxy = container(&td, "sink-proxy");
    let grace = sink_proxy::config::DeliveryFile::default().shutdown_grace_secs;
    assert!(proxy["stopTimeout"].as_u64().unwrap() > grace);
    // Every environment variable is one sink-proxy reads.
    let known: BTreeSet<String> = sink_proxy::config::Cli::command()
        .get_arguments()
        .filter_map(|a| a.get_env().map(|e| e.to_string_lossy().into_owned()))
        .chain(["SINK_PROXY_LOG", "SINK_PROXY_LOG_FORMAT"].map(String::from))
        .chain(alert_env())
        .chain([sink_proxy::emf::INTERVAL_ENV, sink_proxy::emf::NAMESPACE_ENV].map(String::from))
        .collect();
    for e in proxy["environment"].as_array().unwrap() {
        let name = e["name"].as_str().unwrap();
        assert!(known.contains(name), "sink-proxy does not read {name}");
    }
    // The Slack webhook comes from Secrets Manager, never as plain environment.
    let secrets = proxy["secrets"].as_array().unwrap();
    assert_eq!(secrets[0]["name"], sink_proxy::alerts::config::SLACK_ENV);
    assert!(
        secrets[0]["valueFrom"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:secretsmanager:")
    );
}

fn alert_env() -> [String; 4] {
    use sink_proxy::alerts::config::{SLACK_ENV, SNS_ENV, WEBHOOK_ENV, WINDOW_ENV};
    [SLACK_ENV, WEBHOOK_ENV, SNS_ENV, WINDOW_ENV].map(String::from)
}

fn block<'a>(body: &'a hcl::Body, kind: &str, labels: &[&str]) -> &'a hcl::Block {
    body.blocks()
        .find(|b| b.identifier() == kind && b.labels().iter().map(|l| l.as_str()).collect::<Vec<_>>() == labels)
        .unwrap_or_else(|| panic!("no {kind} {labels:?} in main.tf"))
}

fn strings(e: &hcl::Expression) -> Vec<String> {
    match e {
        hcl::Expression::Array(items) => items
            .iter()
            .filter_map(|i| match i {
                hcl::Expression::String(s) => Some(s.clone()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

#[test]
fn the_terraform_example_parses_and_grants_only_what_sink_proxy_needs() {
    let text = read("examples/terraform/main.tf");
    let body = hcl::parse(&text).expect("main.tf is valid HCL");
    // The task role: PutRecordBatch on the stream, streams and events on the group.
    let doc = block(&body, "data", &["aws_iam_policy_document", "task_logging"]);
    let mut actions = BTreeSet::new();
    for st in doc.body().blocks().filter(|b| b.identifier() == "statement") {
        let a = st.body().attributes().find(|a| a.key() == "actions").unwrap();
        actions.extend(strings(a.expr()));
        let r = st.body().attributes().find(|a| a.key() == "resources").unwrap();
        assert!(!format!("{:?}", r.expr()).contains("\"*\""), "no wildcard resource");
    }
    let want: BTreeSet<String> = [
        "firehose:PutRecordBatch",
        "firehose:DescribeDeliveryStream",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "logs:DescribeLogGroups",
    ]
    .map(String::from)
    .into();
    assert_eq!(actions, want);
    // The group with retention, the bucket encrypted, the stream encrypted.
    let group = block(&body, "resource", &["aws_cloudwatch_log_group", "errors"]);
    assert!(group.body().attributes().any(|a| a.key() == "retention_in_days"));
    block(
        &body,
        "resource",
        &["aws_s3_bucket_server_side_encryption_configuration", "archive"],
    );
    block(&body, "resource", &["aws_s3_bucket_public_access_block", "archive"]);
    let stream = block(&body, "resource", &["aws_kinesis_firehose_delivery_stream", "logs"]);
    let sse = stream
        .body()
        .blocks()
        .find(|b| b.identifier() == "server_side_encryption")
        .unwrap();
    assert!(
        sse.body()
            .attributes()
            .any(|a| a.key() == "enabled" && a.expr() == &hcl::Expression::Bool(true))
    );
    // The containers as in the JSON example.
    for needle in [
        "/fluent-bit/firelens/firelens-lean.conf",
        "\"/usr/local/bin/sink-proxy\", \"--check-health\"",
        "condition = \"HEALTHY\"",
        "condition = \"START\"",
        "logDriver = \"awsfirelens\"",
        "user        = \"10001\"",
        "SINK_PROXY_LOG_GROUP",
        "SINK_PROXY_DELIVERY_STREAM",
    ] {
        assert!(text.contains(needle), "main.tf lacks {needle}");
    }
}

#[test]
fn the_terraform_example_keeps_the_archive_cheap_safe_and_queryable() {
    let text = read("examples/terraform/main.tf");
    let body = hcl::parse(&text).expect("main.tf is valid HCL");
    let lifecycle = format!(
        "{:?}",
        block(&body, "resource", &["aws_s3_bucket_lifecycle_configuration", "archive"]).body()
    );
    for needle in ["STANDARD_IA", "GLACIER", "archive_expire_after_days"] {
        assert!(lifecycle.contains(needle), "the lifecycle lacks {needle}");
    }
    let tls = format!(
        "{:?}",
        block(&body, "data", &["aws_iam_policy_document", "archive_tls_only"]).body()
    );
    assert!(tls.contains("aws:SecureTransport") && tls.contains("Deny"));
    block(&body, "resource", &["aws_s3_bucket_policy", "archive"]);
    let stream = format!(
        "{:?}",
        block(&body, "resource", &["aws_kinesis_firehose_delivery_stream", "logs"]).body()
    );
    assert!(stream.contains("cloudwatch_logging_options"));
    let table = format!(
        "{:?}",
        block(&body, "resource", &["aws_glue_catalog_table", "logs"]).body()
    );
    assert!(table.contains("projection.dt.format") && table.contains("yyyy/MM/dd/HH"));
    for out in [
        "task_role_arn",
        "execution_role_arn",
        "delivery_stream_name",
        "archive_bucket",
        "athena_table",
    ] {
        block(&body, "output", &[out]);
    }
    assert!(
        text.contains("version = \">= 5.0, < 6.0\""),
        "the provider has an upper bound"
    );
}

#[test]
fn the_terraform_example_wires_the_alarm_the_topic_and_the_slack_secret() {
    let text = read("examples/terraform/main.tf");
    let body = hcl::parse(&text).expect("main.tf is valid HCL");
    // Service-wide: a metric filter on the error group, an alarm on it, a
    // topic with an email subscription.
    let filter = block(&body, "resource", &["aws_cloudwatch_log_metric_filter", "errors"]);
    assert!(format!("{:?}", filter.body()).contains("aws_cloudwatch_log_group"));
    let alarm = block(&body, "resource", &["aws_cloudwatch_metric_alarm", "errors"]);
    assert!(format!("{:?}", alarm.body()).contains("aws_sns_topic"));
    block(&body, "resource", &["aws_sns_topic", "alerts"]);
    let email = block(&body, "resource", &["aws_sns_topic_subscription", "email"]);
    assert!(format!("{:?}", email.body()).contains("\"email\""));
    for v in [
        "alert_email",
        "slack_webhook_url",
        "slack_webhook_secret_arn",
        "proxy_alerts_to_sns",
    ] {
        block(&body, "variable", &[v]);
    }
    // The secret: created from the variable, read by the execution role
    // (only), injected as the environment variable sink-proxy reads.
    block(&body, "resource", &["aws_secretsmanager_secret", "slack_webhook"]);
    let read_secret = block(&body, "data", &["aws_iam_policy_document", "execution_secrets"]);
    assert!(format!("{:?}", read_secret.body()).contains("secretsmanager:GetSecretValue"));
    assert!(text.contains("valueFrom = local.slack_secret_arn"));
    // Per-task alerts to SNS: sns:Publish on that topic only, when chosen.
    let publish = block(&body, "data", &["aws_iam_policy_document", "task_alerts"]);
    let st = publish.body().blocks().next().unwrap();
    let actions = st.body().attributes().find(|a| a.key() == "actions").unwrap();
    assert_eq!(strings(actions.expr()), vec!["sns:Publish".to_owned()]);
    for name in alert_env()
        .iter()
        .filter(|n| n.as_str() != "SINK_PROXY_ALERT_WEBHOOK_URL" && n.as_str() != "SINK_PROXY_ALERT_WINDOW_SECS")
    {
        assert!(text.contains(name.as_str()), "main.tf lacks {name}");
    }
}

/// The JSON examples are valid ECS API input, by botocore's service model
/// (installed with moto into `.venv` by scripts/python-env.sh).
#[test]
fn the_ecs_json_examples_are_valid_api_input() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = root.join(".venv/bin/python");
    assert!(python.exists(), "run scripts/python-env.sh first");
    let out = std::process::Command::new(python)
        .arg(root.join("examples/ecs/validate.py"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("valid RegisterTaskDefinition") && text.contains("valid CreateService"));
    // The service rolls a deployment back when the startup check fails it.
    let service: Value = serde_json::from_str(&read("examples/ecs/service.json")).unwrap();
    assert_eq!(
        service["deploymentConfiguration"]["deploymentCircuitBreaker"],
        serde_json::json!({"enable": true, "rollback": true})
    );
}
