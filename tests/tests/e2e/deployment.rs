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
                    out.insert((text[start..i].to_owned(), text[attr_start..j].to_owned()));
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

/// The locals whose value the plan knows: built from variables, literals
/// and other such locals only (no resource or data source attribute).
fn plan_known_locals(body: &hcl::Body) -> BTreeSet<String> {
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
            if refs
                .iter()
                .all(|(root, attr)| root == "var" || (root == "local" && known.contains(attr)))
            {
                known.insert(name.clone());
            }
        }
        if known.len() == before {
            return known;
        }
    }
}

/// Every `count` and `for_each` (resources' and dynamic blocks'), by where it is.
fn counts(body: &hcl::Body) -> Vec<(String, hcl::Expression)> {
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
    walk("main.tf", body, &mut out);
    out
}

#[test]
fn the_terraform_example_counts_only_on_what_the_plan_knows() {
    let body = hcl::parse(&read("examples/terraform/main.tf")).expect("main.tf is valid HCL");
    let known = plan_known_locals(&body);
    for l in [
        "slack_from_url",
        "slack_enabled",
        "create_alerts_key",
        "ephemeral_storage_gib",
    ] {
        assert!(known.contains(l), "local.{l} is known at plan time");
    }
    // A new secret's ARN is not: counting on it failed the plan with
    // "Invalid count argument" as soon as a Slack URL was given.
    assert!(!known.contains("slack_secret_arn"));
    assert!(!known.contains("alerts_key_arn"));
    let plan_known = |e: &hcl::Expression| {
        references(e)
            .iter()
            .all(|(root, attr)| root == "var" || root == "each" || (root == "local" && known.contains(attr)))
    };
    let all = counts(&body);
    assert!(all.len() >= 10, "{all:?}");
    for (at, e) in &all {
        assert!(
            plan_known(e),
            "{at} = {}: not known at plan time",
            hcl::format::to_string(e).unwrap()
        );
    }
    // The check refuses what the plan refused.
    let old: hcl::Body = hcl::parse("x = local.slack_secret_arn == \"\" ? 0 : 1").unwrap();
    assert!(!plan_known(old.attributes().next().unwrap().expr()));
}

#[test]
fn the_terraform_example_encrypts_the_alerts_topic_with_a_key_cloudwatch_may_use() {
    let text = read("examples/terraform/main.tf");
    let body = hcl::parse(&text).expect("main.tf is valid HCL");
    let attr = |b: &hcl::Block, key: &str| {
        b.body()
            .attributes()
            .find(|a| a.key() == key)
            .unwrap_or_else(|| panic!("no {key}"))
            .expr()
            .clone()
    };
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
    let cloudwatch = policy
        .body()
        .blocks()
        .filter(|b| b.identifier() == "statement")
        .find(|st| format!("{:?}", st.body()).contains("cloudwatch.amazonaws.com"))
        .expect("a statement for cloudwatch.amazonaws.com");
    let actions: BTreeSet<String> = strings(&attr(cloudwatch, "actions")).into_iter().collect();
    assert_eq!(
        actions,
        ["kms:Decrypt", "kms:GenerateDataKey*"].map(String::from).into()
    );
    let condition = cloudwatch
        .body()
        .blocks()
        .find(|b| b.identifier() == "condition")
        .expect("a condition");
    assert_eq!(
        attr(condition, "variable"),
        hcl::Expression::String("aws:SourceAccount".into())
    );
    // The task role, which publishes with proxy_alerts_to_sns, may use the key.
    let task = block(&body, "data", &["aws_iam_policy_document", "task_alerts"]);
    let kms = task
        .body()
        .blocks()
        .filter(|b| b.identifier() == "statement")
        .find(|st| strings(&attr(st, "actions")).iter().any(|a| a.starts_with("kms:")))
        .expect("a kms statement for the task role");
    let actions: BTreeSet<String> = strings(&attr(kms, "actions")).into_iter().collect();
    assert_eq!(
        actions,
        ["kms:Decrypt", "kms:GenerateDataKey*"].map(String::from).into()
    );
    assert!(references(&attr(kms, "resources")).contains(&("local".into(), "alerts_key_arn".into())));
}

/// The container definitions Terraform generates, as pinned by its tests.
fn terraform_fixtures() -> Vec<(String, Value)> {
    let dir = workspace_root().join("examples/terraform/tests/fixtures");
    let mut out: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("container-definitions-") && n.ends_with(".json"))
        .map(|n| {
            let v = serde_json::from_str(&read(&format!("examples/terraform/tests/fixtures/{n}"))).unwrap();
            (n, v)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn the_terraform_task_is_hardened_as_the_json_example_is() {
    let fixtures = terraform_fixtures();
    assert!(fixtures.len() >= 2, "{fixtures:?}");
    // Each fixture is one `terraform test` compares the generated
    // container definitions with.
    let tests: String = std::fs::read_dir(workspace_root().join("examples/terraform/tests"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".tftest.hcl"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    for (name, _) in &fixtures {
        assert!(
            tests.contains(&format!(
                "jsondecode(aws_ecs_task_definition.app.container_definitions) == jsondecode(file(\"tests/fixtures/{name}\"))"
            )),
            "no terraform test pins {name}"
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
    let body = hcl::parse(&read("examples/terraform/main.tf")).expect("main.tf is valid HCL");
    let task = block(&body, "resource", &["aws_ecs_task_definition", "app"]);
    let tf_volumes: BTreeSet<String> = task
        .body()
        .blocks()
        .filter(|b| b.identifier() == "volume")
        .map(
            |b| match b.body().attributes().find(|a| a.key() == "name").unwrap().expr() {
                hcl::Expression::String(s) => s.clone(),
                e => panic!("volume name {e:?}"),
            },
        )
        .collect();
    let json_volumes: BTreeSet<String> = td["volumes"]
        .as_array()
        .expect("the JSON example's volumes")
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(tf_volumes, json_volumes);
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
    let text = read("examples/terraform/main.tf");
    assert!(text.contains(
        "ephemeral_storage_gib = ceil(var.spool_max_bytes / 1073741824) + var.ephemeral_storage_reserve_gib"
    ));
    assert!(text.contains("for_each = local.ephemeral_storage_gib > 20 ?"));
    assert!(text.contains("condition     = local.ephemeral_storage_gib <= 200"));
    // Secret ARNs as IAM grants them: with Secrets Manager's 6-character suffix.
    let secret = format!("{:?}", block(&body, "variable", &["slack_webhook_secret_arn"]).body());
    assert!(
        secret.contains(":secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$"),
        "{secret}"
    );
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
