//! What deploys: the Dockerfile, the ECS task definition, the Terraform
//! module and its two examples agree with each other, with the Fluent Bit
//! include and with sink-proxy. Docker and Terraform cannot run here; everything that can be
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

pub(crate) fn task_definition() -> Value {
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
    // The filter: the include's Wasm_Path is the image's FIRELENS_MODULE,
    // the AOT file; the portable module beside it.
    assert_eq!(include_setting("wasm", "Wasm_Path"), "${FIRELENS_MODULE}");
    let module = dockerfile()
        .iter()
        .find_map(|i| i.strip_prefix("ENV FIRELENS_MODULE=").map(str::to_owned))
        .expect("the image sets FIRELENS_MODULE");
    assert_eq!(copied_to("firelens_filter.aot"), module);
    assert_eq!(copied_to("firelens_filter.wasm"), module.replace(".aot", ".wasm"));
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

/// A Secrets Manager ARN as AWS writes it: the name, `-`, six characters.
fn is_secret_arn(arn: &str) -> bool {
    let Some(rest) = arn.strip_prefix("arn:aws:secretsmanager:") else {
        return false;
    };
    let parts: Vec<&str> = rest.splitn(4, ':').collect();
    let [region, account, kind, name] = parts.as_slice() else {
        return false;
    };
    let suffix = name.rsplit_once('-');
    !region.is_empty()
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && *kind == "secret"
        && suffix.is_some_and(|(n, s)| !n.is_empty() && s.len() == 6 && s.bytes().all(|b| b.is_ascii_alphanumeric()))
}

#[test]
fn the_task_runs_with_read_only_root_filesystems_and_storage_for_its_spool() {
    let td = task_definition();
    let volumes: BTreeSet<&str> = td["volumes"]
        .as_array()
        .expect("task volumes")
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    let mounted = |c: &Value, path: &str| {
        c["mountPoints"].as_array().is_some_and(|m| {
            m.iter()
                .any(|p| p["containerPath"] == path && volumes.contains(p["sourceVolume"].as_str().unwrap_or("")))
        })
    };
    // sink-proxy writes only its spool, on a task volume the image declares
    // (ECS gives the volume the image directory's owner, the proxy's user).
    let proxy = container(&td, "sink-proxy");
    assert_eq!(proxy["readonlyRootFilesystem"], true);
    let env = |name: &str| {
        proxy["environment"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .and_then(|e| e["value"].as_str())
            .unwrap_or_else(|| panic!("sink-proxy has no {name}"))
            .to_owned()
    };
    let spool = env("SINK_PROXY_SPOOL_DIR");
    assert!(mounted(proxy, &spool), "the spool {spool} is on a task volume");
    assert!(
        dockerfile().contains(&format!("VOLUME [\"{spool}\"]")),
        "the image declares the spool a volume"
    );
    assert!(read("Dockerfile").contains(&format!(
        "chown -R {} /var/lib/sink-proxy",
        proxy["user"].as_str().unwrap()
    )));
    // The log router writes only its module check's scratch file, to /tmp.
    let router = container(&td, "log_router");
    assert_eq!(router["readonlyRootFilesystem"], true);
    assert!(mounted(router, "/tmp"));
    // The spool fits Fargate's ephemeral storage (20 GiB unless asked for
    // more), beside a reserve of 10 GiB for the images' layers.
    let spool_gib = env("SINK_PROXY_SPOOL_MAX_BYTES")
        .parse::<u64>()
        .unwrap()
        .div_ceil(1 << 30);
    let storage = td["ephemeralStorage"]["sizeInGiB"].as_u64().unwrap_or(20);
    assert!(storage >= spool_gib + 10, "{storage} GiB for a {spool_gib} GiB spool");
    // The Slack secret is named as IAM grants it: with its suffix.
    let arn = proxy["secrets"][0]["valueFrom"].as_str().unwrap();
    assert!(is_secret_arn(arn), "{arn}");
    assert!(!is_secret_arn(
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:shop-web/slack-webhook"
    ));
}

#[test]
fn the_image_labels_come_from_its_build_args() {
    let steps = dockerfile();
    let label = steps.iter().find(|i| i.starts_with("LABEL ")).expect("a LABEL");
    for (key, arg) in [
        ("com.firelens-router.fluent-bit.version", "FLUENT_BIT_VERSION"),
        ("com.firelens-router.wamr.version", "WAMR_VERSION"),
        ("com.firelens-router.wamr.commit", "WAMR_COMMIT"),
    ] {
        assert!(
            label.contains(&format!("{key}=\"${{{arg}}}\"")),
            "{key} from {arg}: {label}"
        );
        let last_from = steps.iter().rposition(|i| i.starts_with("FROM ")).unwrap();
        assert!(
            steps[last_from..].iter().any(|i| i == &format!("ARG {arg}")),
            "the final stage takes {arg}"
        );
    }
    // The WAMR source is pinned to a commit, which the build checks
    // against the tag; the base's Fluent Bit is checked against the label.
    let commit = steps
        .iter()
        .find_map(|i| i.strip_prefix("ARG WAMR_COMMIT="))
        .expect("ARG WAMR_COMMIT");
    assert!(
        commit.len() == 40 && commit.bytes().all(|b| b.is_ascii_hexdigit()),
        "{commit}"
    );
    let text = read("Dockerfile");
    assert!(text.contains("git fetch -q --depth 1 origin \"${WAMR_COMMIT}\""));
    assert!(text.contains("[ \"$(git rev-parse HEAD)\" = \"${WAMR_COMMIT}\" ]"));
    assert!(text.contains("*\"v${FLUENT_BIT_VERSION}\"*"));
    // The whole workspace goes in, so no member can be left out.
    assert!(steps.iter().any(|i| i == "COPY . ."));
}

fn alert_env() -> [String; 4] {
    use sink_proxy::alerts::config::{SLACK_ENV, SNS_ENV, WEBHOOK_ENV, WINDOW_ENV};
    [SLACK_ENV, WEBHOOK_ENV, SNS_ENV, WINDOW_ENV].map(String::from)
}

/// The Terraform configurations: the module, and the two examples that call it.
const MODULE: &str = "terraform/modules/firelens-router";
const COMPLETE: &str = "examples/terraform/complete";
const EXISTING: &str = "examples/terraform/existing-service";

/// A configuration's `.tf` files, in name order, as one text and one body.
fn tf(dir: &str) -> (String, hcl::Body) {
    let mut files: Vec<_> = std::fs::read_dir(workspace_root().join(dir))
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "tf"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{dir}: no .tf files");
    let text: String = files
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap() + "\n")
        .collect();
    let body = hcl::parse(&text).unwrap_or_else(|e| panic!("{dir} is not valid HCL: {e}"));
    (text, body)
}

fn block<'a>(body: &'a hcl::Body, kind: &str, labels: &[&str]) -> &'a hcl::Block {
    body.blocks()
        .find(|b| b.identifier() == kind && b.labels().iter().map(|l| l.as_str()).collect::<Vec<_>>() == labels)
        .unwrap_or_else(|| panic!("no {kind} {labels:?}"))
}

fn attr(b: &hcl::Block, key: &str) -> hcl::Expression {
    b.body()
        .attributes()
        .find(|a| a.key() == key)
        .unwrap_or_else(|| panic!("{} {:?}: no {key}", b.identifier(), b.labels()))
        .expr()
        .clone()
}

/// An expression written out as HCL, on one line, without spaces.
fn compact(e: &hcl::Expression) -> String {
    hcl::format::to_string(e).unwrap().split_whitespace().collect()
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

/// A policy document's statements: its `statement` blocks and the content
/// of its `dynamic "statement"` blocks.
fn statements(doc: &hcl::Block) -> Vec<&hcl::Body> {
    doc.body()
        .blocks()
        .filter_map(|b| match b.identifier() {
            "statement" => Some(b.body()),
            "dynamic" if b.labels().iter().any(|l| l.as_str() == "statement") => b
                .body()
                .blocks()
                .find(|c| c.identifier() == "content")
                .map(|c| c.body()),
            _ => None,
        })
        .collect()
}

fn body_attr(body: &hcl::Body, key: &str) -> Option<hcl::Expression> {
    body.attributes().find(|a| a.key() == key).map(|a| a.expr().clone())
}

#[test]
fn the_terraform_module_parses_and_grants_only_what_sink_proxy_needs() {
    let (text, body) = tf(MODULE);
    // The task role: PutRecordBatch on the stream, streams and events on the group.
    let doc = block(&body, "data", &["aws_iam_policy_document", "task_logging"]);
    let mut actions = BTreeSet::new();
    for st in statements(doc) {
        actions.extend(strings(&body_attr(st, "actions").unwrap()));
        let r = body_attr(st, "resources").unwrap();
        assert!(!format!("{r:?}").contains("\"*\""), "no wildcard resource");
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
    // The task role's policy (the output) is that document, and the alerts
    // one when chosen; no statement of either has a "*" resource, nor has
    // the execution role's.
    let task = block(&body, "data", &["aws_iam_policy_document", "task"]);
    let sources = hcl::format::to_string(&attr(task, "source_policy_documents")).unwrap();
    assert!(
        sources.contains("data.aws_iam_policy_document.task_logging.json"),
        "{sources}"
    );
    assert!(
        sources.contains("data.aws_iam_policy_document.task_alerts[*].json"),
        "{sources}"
    );
    for name in ["task_alerts", "execution", "execution_secrets"] {
        for st in statements(block(&body, "data", &["aws_iam_policy_document", name])) {
            let r = body_attr(st, "resources").unwrap();
            assert!(!format!("{r:?}").contains("\"*\""), "{name}: no wildcard resource");
        }
    }
    let output = |name: &str| hcl::format::to_string(&attr(block(&body, "output", &[name]), "value")).unwrap();
    assert_eq!(
        output("task_role_policy_json"),
        "data.aws_iam_policy_document.task.json"
    );
    assert_eq!(
        output("execution_role_policy_json"),
        "data.aws_iam_policy_document.execution.json"
    );
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
        assert!(text.contains(needle), "the module lacks {needle}");
    }
    // The include FireLens loads is the variable, the lean one by default.
    let include = block(&body, "variable", &["include"]);
    assert_eq!(
        attr(include, "default"),
        hcl::Expression::String(copied_to("fluent-bit/firelens-lean.conf"))
    );
    assert!(text.contains("config-file-value       = var.include"));
}

#[test]
fn the_terraform_module_keeps_the_archive_cheap_safe_and_queryable() {
    let (_, body) = tf(MODULE);
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
    for out in ["delivery_stream_name", "archive_bucket", "athena_table"] {
        block(&body, "output", &[out]);
    }
    // The roles are the examples': the complete one names them.
    let (_, complete) = tf(COMPLETE);
    for out in ["task_role_arn", "execution_role_arn"] {
        block(&complete, "output", &[out]);
    }
    // `terraform destroy` works once the bucket holds logs: force_destroy,
    // a variable, on the bucket, passed by the complete example.
    let bucket = block(&body, "resource", &["aws_s3_bucket", "archive"]);
    assert_eq!(
        hcl::format::to_string(&attr(bucket, "force_destroy")).unwrap(),
        "var.force_destroy"
    );
    let module = block(&complete, "module", &["logging"]);
    assert_eq!(
        hcl::format::to_string(&attr(module, "force_destroy")).unwrap(),
        "var.force_destroy"
    );
    let repo = block(&complete, "resource", &["aws_ecr_repository", "router"]);
    assert_eq!(
        hcl::format::to_string(&attr(repo, "force_delete")).unwrap(),
        "var.force_destroy"
    );
    for dir in [MODULE, COMPLETE, EXISTING] {
        assert!(
            tf(dir).0.contains("version = \">= 5.0, < 6.0\""),
            "{dir}: the provider has an upper bound"
        );
    }
}

#[test]
fn the_terraform_module_wires_the_alarm_the_topic_and_the_slack_secret() {
    let (text, body) = tf(MODULE);
    // Service-wide: a metric filter on the error group, an alarm on it, a
    // topic with an email subscription.
    let filter = block(&body, "resource", &["aws_cloudwatch_log_metric_filter", "errors"]);
    assert!(format!("{:?}", filter.body()).contains("error_log_group_name"));
    assert!(text.contains("aws_cloudwatch_log_group.errors[0].name : var.existing_error_log_group_name"));
    let alarm = block(&body, "resource", &["aws_cloudwatch_metric_alarm", "errors"]);
    assert!(format!("{:?}", alarm.body()).contains("alerts_topic_arn"));
    assert!(text.contains("alerts_topic_arn = local.create_topic ? aws_sns_topic.alerts[0].arn"));
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
    let execution = block(&body, "data", &["aws_iam_policy_document", "execution"]);
    assert!(
        hcl::format::to_string(&attr(execution, "source_policy_documents"))
            .unwrap()
            .contains("data.aws_iam_policy_document.execution_secrets[*].json")
    );
    assert!(text.contains("valueFrom = local.slack_secret_arn"));
    // Per-task alerts to SNS: sns:Publish on that topic only, when chosen.
    let publish = block(&body, "data", &["aws_iam_policy_document", "task_alerts"]);
    let st = statements(publish)[0];
    assert_eq!(
        strings(&body_attr(st, "actions").unwrap()),
        vec!["sns:Publish".to_owned()]
    );
    for name in alert_env()
        .iter()
        .filter(|n| n.as_str() != "SINK_PROXY_ALERT_WEBHOOK_URL" && n.as_str() != "SINK_PROXY_ALERT_WINDOW_SECS")
    {
        assert!(text.contains(name.as_str()), "the module lacks {name}");
    }
    // The complete example tells Slack and email.
    let (_, complete) = tf(COMPLETE);
    let module = block(&complete, "module", &["logging"]);
    for input in ["alert_email", "slack_webhook_url", "slack_webhook_secret_arn"] {
        assert_eq!(
            hcl::format::to_string(&attr(module, input)).unwrap(),
            format!("var.{input}")
        );
    }
}

/// `root.name` references in an expression written out as HCL (string
/// literals skipped, their interpolations kept).
fn references(expr: &hcl::Expression) -> BTreeSet<(String, String)> {
    let text = hcl::format::to_string(expr).unwrap();
    let mut out = BTreeSet::new();
    let bytes = text.as_bytes();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    let (mut i, mut in_string, mut depth) = (0, false, 0usize);
    while i < bytes.len() {
        let b = bytes[i];
        if in_string && depth == 0 {
            match b {
                b'\\' => i += 1,
                b'"' => in_string = false,
                b'$' if bytes.get(i + 1) == Some(&b'{') => {
                    depth = 1;
                    i += 1;
                }
                _ => {}
            }
            i += 1;
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' if in_string => depth += 1,
            b'}' if in_string => depth -= 1,
            _ if (b.is_ascii_alphabetic() || b == b'_') && (i == 0 || !ident(bytes[i - 1])) => {
                let start = i;
                while i < bytes.len() && ident(bytes[i]) {
                    i += 1;
                }
                if bytes.get(i) == Some(&b'.') {
                    let attr_start = i + 1;
                    let mut j = attr_start;
                    while j < bytes.len() && ident(bytes[j]) {
                        j += 1;
                    }
                    let root = &text[start..i];
                    let attr = &text[attr_start..j];
                    // module.NAME.OUTPUT: the output is what counts.
                    if root == "module" && bytes.get(j) == Some(&b'.') {
                        let mut k = j + 1;
                        while k < bytes.len() && ident(bytes[k]) {
                            k += 1;
                        }
                        out.insert(("module".to_owned(), format!("{attr}.{}", &text[j + 1..k])));
                        i = k;
                        continue;
                    }
                    out.insert((root.to_owned(), attr.to_owned()));
                    i = j;
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// The locals whose value the plan knows: built from variables, literals,
/// the known outputs of the modules called (`module.NAME.OUTPUT`) and other
/// such locals only (no resource or data source attribute).
fn plan_known_locals(body: &hcl::Body, module_outputs: &BTreeSet<String>) -> BTreeSet<String> {
    let defs: Vec<(String, BTreeSet<(String, String)>)> = body
        .blocks()
        .filter(|b| b.identifier() == "locals")
        .flat_map(|b| b.body().attributes())
        .map(|a| (a.key().to_owned(), references(a.expr())))
        .collect();
    let mut known = BTreeSet::new();
    loop {
        let before = known.len();
        for (name, refs) in &defs {
            if refs.iter().all(|(root, attr)| {
                root == "var"
                    || root == "path"
                    || (root == "local" && known.contains(attr))
                    || (root == "module" && module_outputs.contains(attr))
            }) {
                known.insert(name.clone());
            }
        }
        if known.len() == before {
            return known;
        }
    }
}

/// The module's outputs the plan knows, as `logging.NAME` (the examples
/// call it `logging`).
fn plan_known_outputs() -> BTreeSet<String> {
    let (_, body) = tf(MODULE);
    let known = plan_known_locals(&body, &BTreeSet::new());
    body.blocks()
        .filter(|b| b.identifier() == "output")
        .filter(|b| {
            references(&attr(b, "value"))
                .iter()
                .all(|(root, a)| root == "var" || (root == "local" && known.contains(a)))
        })
        .map(|b| format!("logging.{}", b.labels()[0].as_str()))
        .collect()
}

/// Every `count` and `for_each` (resources' and dynamic blocks'), by where it is.
fn counts(dir: &str, body: &hcl::Body) -> Vec<(String, hcl::Expression)> {
    fn walk(at: &str, body: &hcl::Body, out: &mut Vec<(String, hcl::Expression)>) {
        for a in body
            .attributes()
            .filter(|a| a.key() == "count" || a.key() == "for_each")
        {
            out.push((format!("{at}.{}", a.key()), a.expr().clone()));
        }
        for b in body.blocks() {
            let labels: Vec<&str> = b.labels().iter().map(|l| l.as_str()).collect();
            walk(&format!("{at}/{} {}", b.identifier(), labels.join(" ")), b.body(), out);
        }
    }
    let mut out = Vec::new();
    walk(dir, body, &mut out);
    out
}

#[test]
fn the_terraform_configurations_count_only_on_what_the_plan_knows() {
    let (_, body) = tf(MODULE);
    let known = plan_known_locals(&body, &BTreeSet::new());
    for l in [
        "slack_from_url",
        "slack_enabled",
        "create_alerts_key",
        "alerts_key_known",
        "create_error_group",
        "create_bucket",
        "create_stream",
        "create_topic",
        "ephemeral_storage_gib",
        "volumes",
    ] {
        assert!(known.contains(l), "local.{l} is known at plan time");
    }
    // A new secret's ARN is not: counting on it failed the plan with
    // "Invalid count argument" as soon as a Slack URL was given.
    assert!(!known.contains("slack_secret_arn"));
    assert!(!known.contains("alerts_key_arn"));
    assert!(!known.contains("alerts_topic_arn"));
    let outputs = plan_known_outputs();
    for o in ["volumes", "ephemeral_storage", "ephemeral_storage_gib"] {
        assert!(
            outputs.contains(&format!("logging.{o}")),
            "output {o} is known at plan time"
        );
    }
    assert!(!outputs.contains("logging.alerts_topic_arn"));
    let mut all = 0;
    for dir in [MODULE, COMPLETE, EXISTING] {
        let (_, body) = tf(dir);
        let module_outputs = if dir == MODULE {
            BTreeSet::new()
        } else {
            outputs.clone()
        };
        let known = plan_known_locals(&body, &module_outputs);
        let plan_known = |e: &hcl::Expression| {
            references(e).iter().all(|(root, attr)| {
                root == "var"
                    || root == "each"
                    || (root == "local" && known.contains(attr))
                    || (root == "module" && module_outputs.contains(attr))
            })
        };
        let found = counts(dir, &body);
        all += found.len();
        for (at, e) in &found {
            assert!(
                plan_known(e),
                "{at} = {}: not known at plan time",
                hcl::format::to_string(e).unwrap()
            );
        }
        // The check refuses what the plan refused.
        let old: hcl::Body = hcl::parse("x = local.slack_secret_arn == \"\" ? 0 : 1").unwrap();
        assert!(!plan_known(old.attributes().next().unwrap().expr()));
        let from_a_module: hcl::Body = hcl::parse("x = module.logging.alerts_topic_arn == \"\" ? 0 : 1").unwrap();
        assert!(!plan_known(from_a_module.attributes().next().unwrap().expr()));
    }
    assert!(all >= 30, "{all} counts and for_each");
}

#[test]
fn the_terraform_module_encrypts_the_alerts_topic_with_a_key_cloudwatch_may_use() {
    let (_, body) = tf(MODULE);
    // Not alias/aws/sns (CloudWatch cannot use the AWS-managed key): the key
    // created here, or the one given.
    let topic = block(&body, "resource", &["aws_sns_topic", "alerts"]);
    let key_ref = attr(topic, "kms_master_key_id");
    assert!(!matches!(key_ref, hcl::Expression::String(_)), "{key_ref:?}");
    assert!(references(&key_ref).contains(&("local".into(), "alerts_key_arn".into())));
    let key = block(&body, "resource", &["aws_kms_key", "alerts"]);
    assert_eq!(attr(key, "enable_key_rotation"), hcl::Expression::Bool(true));
    assert!(references(&attr(key, "policy")).contains(&("data".into(), "aws_iam_policy_document".into())));
    // Its policy: CloudWatch may encrypt for the topic, for this account only.
    let policy = block(&body, "data", &["aws_iam_policy_document", "alerts_key"]);
    let cloudwatch = statements(policy)
        .into_iter()
        .find(|st| format!("{st:?}").contains("cloudwatch.amazonaws.com"))
        .expect("a statement for cloudwatch.amazonaws.com");
    let actions: BTreeSet<String> = strings(&body_attr(cloudwatch, "actions").unwrap())
        .into_iter()
        .collect();
    assert_eq!(
        actions,
        ["kms:Decrypt", "kms:GenerateDataKey*"].map(String::from).into()
    );
    let condition = cloudwatch
        .blocks()
        .find(|b| b.identifier() == "condition")
        .expect("a condition");
    assert_eq!(
        attr(condition, "variable"),
        hcl::Expression::String("aws:SourceAccount".into())
    );
    // Every alarm publishes to the topic.
    for alarm in ["errors", "delivery_lag", "dead_letters", "throttling"] {
        let a = block(&body, "resource", &["aws_cloudwatch_metric_alarm", alarm]);
        assert_eq!(
            compact(&attr(a, "alarm_actions")),
            "[local.alerts_topic_arn]",
            "{alarm}"
        );
    }
    // The task role, which publishes with proxy_alerts_to_sns, may use the key.
    let task = block(&body, "data", &["aws_iam_policy_document", "task_alerts"]);
    let kms = statements(task)
        .into_iter()
        .find(|st| {
            strings(&body_attr(st, "actions").unwrap())
                .iter()
                .any(|a| a.starts_with("kms:"))
        })
        .expect("a kms statement for the task role");
    let actions: BTreeSet<String> = strings(&body_attr(kms, "actions").unwrap()).into_iter().collect();
    assert_eq!(
        actions,
        ["kms:Decrypt", "kms:GenerateDataKey*"].map(String::from).into()
    );
    assert!(references(&body_attr(kms, "resources").unwrap()).contains(&("local".into(), "alerts_key_arn".into())));
}

/// Every variable of the module and the examples is validated: a
/// `validation` whose message starts with the variable's name, or, for a
/// bool, `nullable = false` (Terraform itself refuses anything but a bool).
#[test]
fn every_terraform_variable_is_validated() {
    let mut seen = 0;
    for dir in [MODULE, COMPLETE, EXISTING] {
        let (_, body) = tf(dir);
        for v in body.blocks().filter(|b| b.identifier() == "variable") {
            let name = v.labels()[0].as_str();
            seen += 1;
            let description = body_attr(v.body(), "description");
            assert!(
                matches!(description, Some(hcl::Expression::String(ref d)) if !d.is_empty()),
                "{dir}: variable {name} has no description"
            );
            if body_attr(v.body(), "type").is_some_and(|t| hcl::format::to_string(&t).unwrap() == "bool") {
                assert_eq!(
                    body_attr(v.body(), "nullable"),
                    Some(hcl::Expression::Bool(false)),
                    "{dir}: {name}"
                );
                continue;
            }
            let validations: Vec<_> = v.body().blocks().filter(|b| b.identifier() == "validation").collect();
            assert!(!validations.is_empty(), "{dir}: variable {name} is not validated");
            for val in validations {
                match attr(val, "error_message") {
                    hcl::Expression::String(m) => {
                        assert!(m.starts_with(&format!("{name}: ")), "{dir}: {name}: {m}")
                    }
                    e => panic!("{dir}: {name}: {e:?}"),
                }
            }
        }
    }
    assert!(seen >= 40, "{seen} variables");
}

/// The container definitions Terraform generates, as pinned by the tests
/// of the module and of both examples (`tests/fixtures` in each).
pub(crate) fn terraform_fixtures() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for dir in [MODULE, COMPLETE, EXISTING] {
        let fixtures = format!("{dir}/tests/fixtures");
        let mut names: Vec<String> = std::fs::read_dir(workspace_root().join(&fixtures))
            .unwrap_or_else(|e| panic!("{fixtures}: {e}"))
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("container-definitions-") && n.ends_with(".json"))
            .collect();
        names.sort();
        for n in names {
            let path = format!("{fixtures}/{n}");
            let v = serde_json::from_str(&read(&path)).unwrap();
            out.push((path, v));
        }
    }
    out
}

#[test]
fn the_terraform_task_is_hardened_as_the_json_example_is() {
    let fixtures = terraform_fixtures();
    assert!(fixtures.len() >= 2, "{fixtures:?}");
    // Each fixture is one a `terraform test` of its configuration compares
    // the generated container definitions with.
    for (path, _) in &fixtures {
        let (dir, name) = path.split_once("/tests/fixtures/").unwrap();
        let tests: String = std::fs::read_dir(workspace_root().join(dir).join("tests"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with(".tftest.hcl"))
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect();
        assert!(
            tests.contains(&format!("file(\"tests/fixtures/{name}\")")) && tests.contains("container_definitions"),
            "no terraform test pins {path}"
        );
    }
    let td = task_definition();
    let mounts = |c: &Value| -> BTreeSet<(String, String)> {
        c["mountPoints"]
            .as_array()
            .map(|m| {
                m.iter()
                    .map(|p| {
                        (
                            p["sourceVolume"].as_str().unwrap().to_owned(),
                            p["containerPath"].as_str().unwrap().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let (text, body) = tf(MODULE);
    // The module's volumes (output `volumes`, the task's volume blocks).
    let volumes = body
        .blocks()
        .filter(|b| b.identifier() == "locals")
        .flat_map(|b| b.body().attributes())
        .find(|a| a.key() == "volumes")
        .expect("local.volumes")
        .expr()
        .clone();
    let tf_volumes: BTreeSet<String> = match volumes {
        hcl::Expression::Array(items) => items
            .iter()
            .map(|v| match v {
                hcl::Expression::Object(o) => o
                    .iter()
                    .find(|(k, _)| format!("{k:?}").contains("name"))
                    .map(|(_, v)| match v {
                        hcl::Expression::String(s) => s.clone(),
                        e => panic!("volume name {e:?}"),
                    })
                    .unwrap(),
                e => panic!("volume {e:?}"),
            })
            .collect(),
        e => panic!("local.volumes = {e:?}"),
    };
    assert_eq!(
        hcl::format::to_string(&attr(block(&body, "output", &["volumes"]), "value")).unwrap(),
        "local.volumes"
    );
    let json_volumes: BTreeSet<String> = td["volumes"]
        .as_array()
        .expect("the JSON example's volumes")
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(tf_volumes, json_volumes);
    // Both examples' task definitions take their volumes and storage from
    // the module.
    for dir in [COMPLETE, EXISTING] {
        let text = tf(dir).0;
        for needle in [
            "for_each = module.logging.volumes",
            "for_each = module.logging.ephemeral_storage",
            "jsonencode(concat(module.logging.container_definitions, [",
            "module.logging.app_container_settings",
        ] {
            assert!(text.contains(needle), "{dir} lacks {needle}");
        }
    }
    for (name, containers) in &fixtures {
        let c = |n: &str| {
            containers
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["name"] == n)
                .unwrap_or_else(|| panic!("{name}: no container {n}"))
                .clone()
        };
        for n in ["sink-proxy", "log_router"] {
            assert_eq!(c(n)["readonlyRootFilesystem"], true, "{name}: {n}");
            assert_eq!(
                mounts(&c(n)),
                mounts(container(&td, n)),
                "{name}: {n}'s mounts as in the JSON example"
            );
            assert!(mounts(&c(n)).iter().all(|(v, _)| tf_volumes.contains(v)), "{name}: {n}");
        }
        assert_eq!(c("sink-proxy")["user"], container(&td, "sink-proxy")["user"], "{name}");
        // The app: the one option the agent gives the log driver, nothing
        // it would turn into a Fluent Bit output without a Name.
        let app = c("app");
        assert_eq!(app["logConfiguration"]["logDriver"], "awsfirelens");
        let options: Vec<&String> = app["logConfiguration"]["options"].as_object().unwrap().keys().collect();
        assert_eq!(options, ["log-driver-buffer-limit"], "{name}");
    }
    // Ephemeral storage from the spool, within Fargate's limits.
    assert!(text.contains(
        "ephemeral_storage_gib = ceil(var.spool_max_bytes / 1073741824) + var.ephemeral_storage_reserve_gib"
    ));
    assert!(text.contains(
        "value       = local.ephemeral_storage_gib > 20 ? [{ size_in_gib = local.ephemeral_storage_gib }] : []"
    ));
    assert!(text.contains("condition     = local.ephemeral_storage_gib <= 200"));
    // Secret ARNs as IAM grants them: with Secrets Manager's 6-character suffix.
    for dir in [MODULE, COMPLETE] {
        let (_, body) = tf(dir);
        let secret = format!("{:?}", block(&body, "variable", &["slack_webhook_secret_arn"]).body());
        assert!(
            secret.contains(":secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$"),
            "{dir}: {secret}"
        );
    }
}

/// The complete example stands up what the original deployment did: a
/// cluster with Container Insights and both Fargate capacity providers, a
/// service behind an ALB with the circuit breaker, ECS Exec and a grace
/// period, the image in ECR.
#[test]
fn the_complete_example_deploys_the_service_behind_its_load_balancer() {
    let (text, body) = tf(COMPLETE);
    let cluster = format!("{:?}", block(&body, "resource", &["aws_ecs_cluster", "main"]).body());
    assert!(cluster.contains("containerInsights") && cluster.contains("enabled"));
    let providers = block(&body, "resource", &["aws_ecs_cluster_capacity_providers", "main"]);
    assert_eq!(
        strings(&attr(providers, "capacity_providers")),
        ["FARGATE", "FARGATE_SPOT"]
    );
    let service = block(&body, "resource", &["aws_ecs_service", "app"]);
    assert_eq!(attr(service, "enable_execute_command"), hcl::Expression::Bool(true));
    assert!(
        matches!(attr(service, "health_check_grace_period_seconds"), hcl::Expression::Number(n) if n.as_u64() >= Some(30))
    );
    let breaker = service
        .body()
        .blocks()
        .find(|b| b.identifier() == "deployment_circuit_breaker")
        .expect("the circuit breaker");
    assert_eq!(attr(breaker, "enable"), hcl::Expression::Bool(true));
    assert_eq!(attr(breaker, "rollback"), hcl::Expression::Bool(true));
    let lifecycle = service
        .body()
        .blocks()
        .find(|b| b.identifier() == "lifecycle")
        .expect("a lifecycle");
    assert_eq!(compact(&attr(lifecycle, "ignore_changes")), "[desired_count]");
    let strategies: Vec<String> = service
        .body()
        .blocks()
        .filter(|b| b.identifier() == "capacity_provider_strategy")
        .map(|b| hcl::format::to_string(&attr(b, "capacity_provider")).unwrap())
        .collect();
    assert_eq!(strategies, ["\"FARGATE\"", "\"FARGATE_SPOT\""]);
    // ECS Exec's channel: the four ssmmessages actions, on the task role.
    let exec = block(&body, "data", &["aws_iam_policy_document", "ecs_exec"]);
    let actions: BTreeSet<String> = strings(&body_attr(statements(exec)[0], "actions").unwrap())
        .into_iter()
        .collect();
    assert_eq!(
        actions,
        [
            "ssmmessages:CreateControlChannel",
            "ssmmessages:CreateDataChannel",
            "ssmmessages:OpenControlChannel",
            "ssmmessages:OpenDataChannel"
        ]
        .map(String::from)
        .into()
    );
    let exec_policy = block(&body, "resource", &["aws_iam_role_policy", "ecs_exec"]);
    assert_eq!(
        hcl::format::to_string(&attr(exec_policy, "role")).unwrap(),
        "aws_iam_role.task.id"
    );
    // The image: an ECR repository, built and pushed for the tasks' CPU.
    let repo = block(&body, "resource", &["aws_ecr_repository", "router"]);
    assert_eq!(
        attr(repo, "image_tag_mutability"),
        hcl::Expression::String("IMMUTABLE".into())
    );
    let build = format!(
        "{:?}",
        block(&body, "resource", &["terraform_data", "router_image"]).body()
    );
    assert!(
        build.contains("build-and-push.sh") && build.contains("PLATFORM"),
        "{build}"
    );
    assert!(text.contains("platform = var.cpu_architecture == \"ARM64\" ? \"linux/arm64\" : \"linux/amd64\""));
    // The load balancer forwards to the app's target group.
    let listener = format!("{:?}", block(&body, "resource", &["aws_lb_listener", "http"]).body());
    assert!(listener.contains("aws_lb_target_group") && listener.contains("forward"));
}

/// The ALB's health check hits a path the sample app answers, and the app
/// logs each check as web servers do, with the ALB's user agent: the
/// filter's health rule (by user agent) drops those lines; the app's
/// errors and traceback are marked. The sample app is run here, and what it
/// logs is classified with the shipped rules file.
#[test]
fn the_complete_examples_health_checks_are_dropped_and_its_errors_marked() {
    use firelens_filter::{Class, Classifier, RulesFile};
    use std::io::{Read, Write};
    let (text, body) = tf(COMPLETE);
    let group = block(&body, "resource", &["aws_lb_target_group", "app"]);
    let check = group
        .body()
        .blocks()
        .find(|b| b.identifier() == "health_check")
        .expect("a health check");
    assert_eq!(
        hcl::format::to_string(&attr(check, "path")).unwrap(),
        "local.health_check_path"
    );
    assert_eq!(attr(check, "matcher"), hcl::Expression::String("200".into()));
    let path = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("health_check_path = "))
        .expect("local.health_check_path")
        .trim_matches('"')
        .to_owned();
    assert!(
        text.contains("command      = [\"python3\", \"-u\", \"-B\", \"-c\", file(\"${path.module}/app/server.py\")]")
    );

    // The app, on a free port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut app = std::process::Command::new("python3")
        .args(["-u", "-B"])
        .arg(workspace_root().join(COMPLETE).join("app/server.py"))
        .env("PORT", port.to_string())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    let get = |path: &str, agent: &str| -> u16 {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut s = loop {
            match std::net::TcpStream::connect(("127.0.0.1", port)) {
                Ok(s) => break s,
                Err(_) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(50))
                }
                Err(e) => panic!("the app does not listen: {e}"),
            }
        };
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: 10.0.1.7:{port}\r\nUser-Agent: {agent}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        answer.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    // What the ALB sends (ELB-HealthChecker/2.0), a visitor, an error.
    assert_eq!(
        get(&path, "ELB-HealthChecker/2.0"),
        200,
        "the health check is answered 200"
    );
    assert_eq!(get("/", "Mozilla/5.0"), 200);
    assert_eq!(get("/error", "curl/8.5.0"), 500);
    app.kill().unwrap();
    let out = app.wait_with_output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();

    let rules = RulesFile::from_toml(&read("fluent-bit/rules.toml")).unwrap();
    let classifier = Classifier::new(&rules).unwrap();
    let class = |line: &str| classifier.classify_line(line.as_bytes());
    let access: Vec<&str> = stdout.lines().collect();
    assert_eq!(access.len(), 3, "{stdout}");
    assert!(
        access[0].contains(&format!("\"GET {path} HTTP/1.1\" 200")),
        "{}",
        access[0]
    );
    assert_eq!(class(access[0]), Class::Health, "dropped: {}", access[0]);
    assert_eq!(class(access[1]), Class::Other, "kept: {}", access[1]);
    assert!(access[2].contains("\" 500 "), "{}", access[2]);
    assert_eq!(class(access[2]), Class::Error, "marked: {}", access[2]);
    // stderr: the start line, the ERROR line, the traceback.
    let error = stderr.lines().find(|l| l.contains(" ERROR ")).expect(&stderr);
    assert_eq!(class(error), Class::Error, "{error}");
    let trace_start = stderr.find("Traceback (most recent call last):").expect(&stderr);
    let trace = stderr[trace_start..].trim_end();
    assert!(trace.ends_with("ZeroDivisionError: division by zero"), "{trace}");
    // As one event (the stack-trace include joins it) and line by line.
    assert_eq!(class(trace), Class::Error, "{trace}");
    assert_eq!(class(trace.lines().next().unwrap()), Class::Error);
    assert_eq!(class(stderr.lines().next().unwrap()), Class::Other, "{stderr}");
}

/// The module goes into a task definition one has in under 30 lines: the
/// existing-service example's logging.tf, and what it marks in its
/// task-definition.tf.
#[test]
fn the_existing_service_example_adds_the_module_in_under_30_lines() {
    let code = |l: &&str| {
        let t = l.trim();
        !t.is_empty() && !t.starts_with('#')
    };
    let logging = read(&format!("{EXISTING}/logging.tf"));
    let task = read(&format!("{EXISTING}/task-definition.tf"));
    let (_, marked) = task
        .split_once("# firelens-router: from here")
        .expect("the mark where the additions start");
    let (marked, _) = marked
        .split_once("# firelens-router: to here")
        .expect("the mark where they end");
    let lines = logging.lines().filter(code).count() + marked.lines().filter(code).count();
    assert!(lines < 30, "{lines} lines");
    assert!(logging.contains("module \"logging\""));
    for needle in [
        "module.logging.container_definitions",
        "module.logging.app_container_settings",
        "module.logging.volumes",
        "module.logging.ephemeral_storage",
    ] {
        assert!(marked.contains(needle), "the marked lines lack {needle}");
    }
    for output in ["task_role_policy_json", "execution_role_policy_json"] {
        assert!(logging.contains(&format!("module.logging.{output}")), "{output}");
    }
}

/// build-and-push.sh, the complete example's build (terraform apply runs
/// it, or a user by hand), run with stand-ins for `aws` and `docker` that
/// record what they are asked.
#[test]
fn the_complete_examples_image_build_logs_in_builds_for_the_platform_and_pushes() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("build-and-push-{}", std::process::id()));
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = dir.join("calls.log");
    let stub = |name: &str, body: &str| {
        let p = bin.join(name);
        std::fs::write(
            &p,
            format!("#!/bin/sh\necho \"{name} $*\" >>\"{}\"\n{body}\n", log.display()),
        )
        .unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    // ECR has no image under the tag at first; docker reads the password.
    stub(
        "aws",
        "case \"$2\" in describe-images) [ -e \"$(dirname \"$0\")/pushed\" ] ;; get-login-password) echo secret ;; esac",
    );
    stub(
        "docker",
        "case \"$1\" in login) read -r p; [ \"$p\" = secret ] ;; buildx) touch \"$(dirname \"$0\")/pushed\" ;; esac",
    );
    let image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop-web/firelens-router:src-0123456789ab";
    let run = |platform: &str| {
        std::process::Command::new(workspace_root().join(COMPLETE).join("build-and-push.sh"))
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .env("IMAGE", image)
            .env("PLATFORM", platform)
            .env_remove("AWS_REGION")
            .env_remove("CONTEXT")
            .output()
            .unwrap()
    };
    let out = run("linux/arm64");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let calls = std::fs::read_to_string(&log).unwrap();
    let calls: Vec<&str> = calls.lines().collect();
    let root = workspace_root().canonicalize().unwrap();
    assert_eq!(calls.len(), 4, "{calls:?}");
    assert_eq!(
        calls[0],
        "aws ecr describe-images --region eu-west-1 --repository-name shop-web/firelens-router --image-ids imageTag=src-0123456789ab"
    );
    // The login's two ends run at once, in either order.
    assert_eq!(
        BTreeSet::from([calls[1], calls[2]]),
        BTreeSet::from([
            "aws ecr get-login-password --region eu-west-1",
            "docker login --username AWS --password-stdin 123456789012.dkr.ecr.eu-west-1.amazonaws.com",
        ])
    );
    assert_eq!(
        calls[3],
        format!(
            "docker buildx build --platform linux/arm64 --provenance=false --tag {image} --push {}",
            root.display()
        )
    );
    // Pushed already (immutable tags): nothing is built again.
    std::fs::write(&log, "").unwrap();
    assert!(run("linux/arm64").status.success());
    assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 1);
    // A platform ECS does not run is refused before anything is called.
    std::fs::write(&log, "").unwrap();
    let out = run("linux/386");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "");
    std::fs::remove_dir_all(&dir).unwrap();
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
