//! The task definitions a user deploys, checked against the ECS agent's
//! FireLens rules (`firelens_e2e::ecs_firelens`): the JSON example and the
//! container definitions the Terraform module and its examples generate
//! (pinned to fixtures by `terraform test`) each yield a Fluent Bit config the agent would write,
//! with the include last among the filters; an option set the agent
//! refuses fails here, not at task start.

use firelens_e2e::ecs_firelens::*;
use serde_json::{Value, json};

fn task(app_options: Value) -> Value {
    json!([
        {"name": "log_router", "memoryReservation": 100,
         "firelensConfiguration": {"type": "fluentbit", "options": {
             "config-file-type": "file", "config-file-value": "/fluent-bit/firelens/firelens-lean.conf"}}},
        {"name": "web", "logConfiguration": {"logDriver": "awsfirelens", "options": app_options}}
    ])
}

#[test]
fn options_without_a_name_are_refused_as_the_agent_refuses_them() {
    let ctx = Context::ecs("shop");
    let err = generate(
        &task(json!({"mode": "non-blocking", "max-buffer-size": "25m"})),
        "awsvpc",
        &ctx,
    )
    .unwrap_err();
    assert_eq!(
        err,
        Refused::MissingName {
            container: "web".into()
        }
    );
    assert!(
        err.to_string()
            .contains("missing output key Name which is required for firelens configuration of type fluentbit")
    );
    // The log driver's own option is taken out first, and patterns are filters.
    let ok = generate(
        &task(json!({"log-driver-buffer-limit": "2097152", "exclude-pattern": "^DEBUG"})),
        "awsvpc",
        &ctx,
    )
    .unwrap();
    assert_eq!(ok.buffer_limits["web"], 2_097_152);
    assert!(ok.outputs.is_empty());
    assert!(ok.text.contains("Exclude log ^DEBUG"));
    assert!(!ok.text.contains("buffer"));
    // With a Name, the other options are the output's.
    let named = generate(
        &task(json!({"Name": "cloudwatch", "region": "eu-west-1"})),
        "awsvpc",
        &ctx,
    )
    .unwrap();
    assert_eq!(named.outputs, ["web"]);
    assert!(
        named
            .text
            .ends_with("[OUTPUT]\n    Name cloudwatch\n    Match web-firelens*\n    region eu-west-1\n")
    );
}

#[test]
fn the_shape_is_the_agents_inputs_metadata_include_then_outputs() {
    let g = generate(&task(json!({})), "awsvpc", &Context::ecs("shop")).unwrap();
    let at = |needle: &str| {
        g.text
            .find(needle)
            .unwrap_or_else(|| panic!("no {needle} in\n{}", g.text))
    };
    assert_eq!(g.mem_buf_limit_mb, 50, "half the memoryReservation");
    assert!(at("Mem_Buf_Limit 50MB") < at("Port 24224"));
    assert!(at("Port 24224") < at("Tag firelens-healthcheck"));
    assert!(at("Tag firelens-healthcheck") < at("Record ecs_cluster default"));
    assert!(at("Record ecs_task_definition shop:1") < at("@INCLUDE /fluent-bit/firelens/firelens-lean.conf"));
    assert!(at("@INCLUDE") < at("Name null"));
    // No reservation and no memory: 25MB; bridge binds every address.
    let mut bare = task(json!({}));
    bare[0].as_object_mut().unwrap().remove("memoryReservation");
    let g = generate(&bare, "bridge", &Context::ecs("shop")).unwrap();
    assert_eq!(g.mem_buf_limit_mb, DEFAULT_MEM_BUF_LIMIT_MB);
    assert!(g.text.contains("Listen 0.0.0.0"));
    // Metadata off: no record_modifier.
    let mut off = task(json!({}));
    off[0]["firelensConfiguration"]["options"]["enable-ecs-log-metadata"] = json!("false");
    assert!(
        !generate(&off, "awsvpc", &Context::ecs("shop"))
            .unwrap()
            .text
            .contains("record_modifier")
    );
}

#[test]
fn a_task_without_its_router_or_with_two_is_refused() {
    let app_only = json!([{"name": "web", "logConfiguration": {"logDriver": "awsfirelens"}}]);
    assert_eq!(
        generate(&app_only, "awsvpc", &Context::ecs("x")).unwrap_err(),
        Refused::NoLogRouter
    );
    let mut two = task(json!({}));
    let router = two[0].clone();
    two.as_array_mut().unwrap().push(router);
    assert_eq!(
        generate(&two, "awsvpc", &Context::ecs("x")).unwrap_err(),
        Refused::TwoLogRouters
    );
}

/// Every task definition a user deploys: the JSON example, and the
/// container definitions Terraform generates for each fixture case of the
/// module (terraform/modules/firelens-router/tests/fixtures) and of both
/// examples (examples/terraform/*/tests/fixtures, the complete example's
/// sample app among them).
fn shipped_tasks() -> Vec<(String, Value)> {
    let mut out = vec![];
    out.push((
        "examples/ecs/task-definition.json".to_owned(),
        crate::deployment::task_definition(),
    ));
    let fixtures = crate::deployment::terraform_fixtures();
    assert!(
        fixtures.len() >= 2,
        "Terraform's container definitions are pinned for at least two cases: {:?}",
        fixtures.iter().map(|(n, _)| n).collect::<Vec<_>>()
    );
    for dir in [
        "terraform/modules/firelens-router",
        "examples/terraform/complete",
        "examples/terraform/existing-service",
    ] {
        assert!(
            fixtures.iter().any(|(n, _)| n.starts_with(&format!("{dir}/"))),
            "no container definitions pinned for {dir}"
        );
    }
    for (name, containers) in fixtures {
        // Terraform's task definitions are awsvpc (Fargate), as asserted by its tests.
        out.push((
            name,
            json!({"networkMode": "awsvpc", "containerDefinitions": containers}),
        ));
    }
    out
}

#[test]
fn every_shipped_task_definition_is_one_the_agent_accepts() {
    for (name, task) in shipped_tasks() {
        assert_eq!(task["networkMode"], "awsvpc", "{name}");
        let g = generate_for_task(&task, &Context::ecs("shop-web")).unwrap_or_else(|e| panic!("{name}: {e}"));
        // The include, and no output of the agent's for the app: the
        // include's outputs deliver everything.
        assert!(
            g.text.contains("\n@INCLUDE /fluent-bit/firelens/"),
            "{name}: {}",
            g.text
        );
        assert!(g.outputs.is_empty(), "{name}: per-container outputs {:?}", g.outputs);
        assert!(!g.logging.is_empty(), "{name}: no container logs through FireLens");
        // Each app container asks its log driver for a bounded buffer, in
        // lines, through the one option FireLens passes to the driver.
        for app in &g.logging {
            let limit = g
                .buffer_limits
                .get(app)
                .unwrap_or_else(|| panic!("{name}: {app} sets no {LOG_DRIVER_BUFFER_LIMIT}"));
            assert!((1..536_870_912).contains(limit), "{name}: {app}: {limit}");
        }
        // FireLens needs its router up before the apps that log to it, and
        // the router's input holds at most this much before it pauses.
        let containers = task["containerDefinitions"].as_array().unwrap();
        for app in &g.logging {
            let c = containers.iter().find(|c| c["name"] == app.as_str()).unwrap();
            let deps = c["dependsOn"].as_array().cloned().unwrap_or_default();
            assert!(
                deps.iter().any(|d| d["containerName"] == "log_router"
                    && (d["condition"] == "START" || d["condition"] == "HEALTHY")),
                "{name}: {app} does not wait for the log router"
            );
        }
        assert!(
            g.mem_buf_limit_mb >= DEFAULT_MEM_BUF_LIMIT_MB,
            "{name}: Mem_Buf_Limit {} MB",
            g.mem_buf_limit_mb
        );
    }
}

#[test]
fn the_examples_before_the_fix_would_not_have_started() {
    // What examples/ecs/task-definition.json gave its app before: Docker's
    // options, which FireLens passes to Fluent Bit as an output with no Name.
    let mut task = crate::deployment::task_definition();
    let web = task["containerDefinitions"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|c| c["logConfiguration"]["logDriver"] == "awsfirelens")
        .unwrap();
    web["logConfiguration"]["options"] = json!({"mode": "non-blocking", "max-buffer-size": "25m"});
    let err = generate_for_task(&task, &Context::ecs("shop-web")).unwrap_err();
    assert!(matches!(err, Refused::MissingName { .. }), "{err}");
}
