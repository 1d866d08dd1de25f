//! The Fluent Bit config the ECS agent generates for a FireLens task, from
//! its container definitions, as aws/amazon-ecs-agent does it
//! (`agent/taskresource/firelens/firelensconfig_unix.go` `generateConfig`,
//! `agent/api/task/task.go` `collectFirelensLogOptions` and
//! `initializeFirelensResource`, rendered by the vendored
//! go-config-generator-for-fluentd-and-fluentbit template). Fargate's agent
//! is not public; it is assumed to do the same.
//!
//! The deployment tests derive it from every shipped task definition (and
//! so catch an option set the agent refuses at task start); the
//! real-Fluent-Bit benches run it, with the include, instead of the include
//! alone (`firelens-config`).

use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The one `awsfirelens` option meant for the log driver, not Fluent Bit:
/// the agent removes it before building the config.
pub const LOG_DRIVER_BUFFER_LIMIT: &str = "log-driver-buffer-limit";
/// Where the agent tells Fluent Bit the apps' log driver connects.
pub const SOCKET_PATH: &str = "/var/run/fluent.sock";
/// Mem_Buf_Limit when the log router has neither memoryReservation nor memory.
pub const DEFAULT_MEM_BUF_LIMIT_MB: u64 = 25;

/// What the agent knows besides the task definition, and where a local run
/// moves the listening addresses (the agent's own are fixed).
#[derive(Debug, Clone)]
pub struct Context {
    pub cluster: String,
    pub task_arn: String,
    /// `family:revision`.
    pub task_definition: String,
    pub socket_path: String,
    pub forward_port: u16,
    pub health_port: u16,
    /// The external config's path as Fluent Bit will read it (the image's
    /// path, or where a local run put the include).
    pub include_path: Option<String>,
}

impl Context {
    /// What ECS itself would use, for a task of `family`.
    pub fn ecs(family: &str) -> Self {
        Self {
            cluster: "default".into(),
            task_arn: "arn:aws:ecs:eu-west-1:123456789012:task/default/0123456789abcdef0123456789abcdef".into(),
            task_definition: format!("{family}:1"),
            socket_path: SOCKET_PATH.into(),
            forward_port: 24224,
            health_port: 8877,
            include_path: None,
        }
    }
}

/// Why the agent refuses the task (it fails to start), in its words where
/// it has them.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    NoLogRouter,
    TwoLogRouters,
    /// `addOutputSection`'s error, for this container.
    MissingName {
        container: String,
    },
    Invalid(String),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::NoLogRouter => write!(
                f,
                "a container logs with awsfirelens but no container has firelensConfiguration"
            ),
            Refused::TwoLogRouters => write!(f, "more than one container has firelensConfiguration"),
            Refused::MissingName { container } => write!(
                f,
                "unable to apply log options of container {container} to firelens config: missing output key Name which is required for firelens configuration of type fluentbit"
            ),
            Refused::Invalid(why) => write!(f, "{why}"),
        }
    }
}

impl std::error::Error for Refused {}

/// The generated config, and what a test wants to know of it.
#[derive(Debug)]
pub struct Generated {
    pub text: String,
    pub mem_buf_limit_mb: u64,
    /// Containers whose logs get an `[OUTPUT]` of their own (they named one).
    pub outputs: Vec<String>,
    /// Containers that log through FireLens.
    pub logging: Vec<String>,
    /// The log driver's buffer limit per container, where given (in lines).
    pub buffer_limits: BTreeMap<String, u64>,
}

fn string_map(v: &Value, what: &str) -> Result<BTreeMap<String, String>, Refused> {
    match v {
        Value::Null => Ok(BTreeMap::new()),
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                other => Err(Refused::Invalid(format!("{what}: option {k} is {other}, not a string"))),
            })
            .collect(),
        other => Err(Refused::Invalid(format!("{what}: {other} is not an object"))),
    }
}

fn memory_mib(c: &Value, key: &str) -> Option<u64> {
    c.get(key).and_then(Value::as_u64).filter(|&m| m > 0)
}

/// The config the agent writes to /fluent-bit/etc/fluent-bit.conf for
/// `containers` (the `containerDefinitions` array) in a task of `network_mode`.
pub fn generate(containers: &Value, network_mode: &str, ctx: &Context) -> Result<Generated, Refused> {
    let containers = containers
        .as_array()
        .ok_or_else(|| Refused::Invalid("containerDefinitions is not an array".into()))?;
    let routers: Vec<&Value> = containers
        .iter()
        .filter(|c| c.get("firelensConfiguration").is_some_and(|f| !f.is_null()))
        .collect();
    let router = match routers.as_slice() {
        [] => {
            let logs = containers
                .iter()
                .any(|c| c["logConfiguration"]["logDriver"] == "awsfirelens");
            return Err(if logs {
                Refused::NoLogRouter
            } else {
                Refused::Invalid("no FireLens in this task".into())
            });
        }
        [one] => *one,
        _ => return Err(Refused::TwoLogRouters),
    };
    let firelens = &router["firelensConfiguration"];
    if firelens["type"] != "fluentbit" {
        return Err(Refused::Invalid(format!(
            "firelensConfiguration type {} is not fluentbit",
            firelens["type"]
        )));
    }
    let options = string_map(&firelens["options"], "firelensConfiguration")?;

    // Mem_Buf_Limit: half the router's memoryReservation, else of its
    // memory, in MiB (initializeFirelensResource, resolveMemBufLimit).
    let mem_buf_limit_mb = memory_mib(router, "memoryReservation")
        .or_else(|| memory_mib(router, "memory"))
        .map(|m| m / 2)
        .filter(|&m| m > 0)
        .unwrap_or(DEFAULT_MEM_BUF_LIMIT_MB);

    // Each awsfirelens container's options (plain and secret), less the
    // log driver's own.
    let mut per_container: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut buffer_limits = BTreeMap::new();
    for c in containers {
        let log = &c["logConfiguration"];
        if log["logDriver"] != "awsfirelens" {
            continue;
        }
        let name = c["name"]
            .as_str()
            .ok_or_else(|| Refused::Invalid("a container without a name".into()))?
            .to_owned();
        let mut opts = string_map(&log["options"], &name)?;
        if let Some(limit) = opts.remove(LOG_DRIVER_BUFFER_LIMIT) {
            let lines = limit.parse::<u64>().map_err(|_| {
                Refused::Invalid(format!("{name}: {LOG_DRIVER_BUFFER_LIMIT} {limit:?} is not a number"))
            })?;
            buffer_limits.insert(name.clone(), lines);
        }
        // secretOptions become options whose value Fluent Bit reads from
        // the environment (collectFirelensLogEnvOptions).
        if let Some(secrets) = log["secretOptions"].as_array() {
            for s in secrets {
                let key = s["name"]
                    .as_str()
                    .ok_or_else(|| Refused::Invalid(format!("{name}: a secretOption without a name")))?;
                opts.insert(key.to_owned(), format!("${{{key}_{name}}}"));
            }
        }
        per_container.insert(name, opts);
    }

    let mut text = String::new();
    // Inputs (Go templates print a map's keys in sorted order).
    let _ = write!(
        text,
        "\n[INPUT]\n    Name forward\n    Mem_Buf_Limit {mem_buf_limit_mb}MB\n    unix_path {}\n",
        ctx.socket_path
    );
    let bind = match network_mode {
        "awsvpc" => Some("127.0.0.1"),
        "bridge" => Some("0.0.0.0"),
        _ => None,
    };
    if let Some(bind) = bind {
        let _ = write!(
            text,
            "\n[INPUT]\n    Name forward\n    Listen {bind}\n    Port {}\n\n[INPUT]\n    Name tcp\n    Tag firelens-healthcheck\n    Listen 127.0.0.1\n    Port {}\n",
            ctx.forward_port, ctx.health_port
        );
    }
    // Filters: grep per container pattern, then the metadata.
    let mut outputs_text = String::new();
    let mut outputs = Vec::new();
    let mut includes = String::new();
    let mut excludes = String::new();
    for (name, opts) in &per_container {
        let tag = format!("{name}-firelens*");
        let mut plugin = BTreeMap::new();
        for (k, v) in opts {
            match k.as_str() {
                "Name" => {}
                "include-pattern" => {
                    let _ = write!(
                        includes,
                        "\n[FILTER]\n    Name   grep\n    Match {tag}\n    Regex  log {v}\n"
                    );
                }
                "exclude-pattern" => {
                    let _ = write!(
                        excludes,
                        "\n[FILTER]\n    Name   grep\n    Match {tag}\n    Exclude log {v}\n"
                    );
                }
                _ => {
                    plugin.insert(k, v);
                }
            }
        }
        match opts.get("Name") {
            Some(output) => {
                let _ = write!(outputs_text, "\n[OUTPUT]\n    Name {output}\n    Match {tag}\n");
                for (k, v) in plugin {
                    let _ = writeln!(outputs_text, "    {k} {v}");
                }
                outputs.push(name.clone());
            }
            None if !plugin.is_empty() => {
                return Err(Refused::MissingName {
                    container: name.clone(),
                });
            }
            None => {}
        }
    }
    text.push_str(&includes);
    text.push_str(&excludes);
    if options.get("enable-ecs-log-metadata").is_none_or(|v| v != "false") {
        let _ = write!(
            text,
            "\n[FILTER]\n    Name record_modifier\n    Match *\n    Record ecs_cluster {}\n    Record ecs_task_arn {}\n    Record ecs_task_definition {}\n",
            ctx.cluster, ctx.task_arn, ctx.task_definition
        );
    }
    // The user's config, after the filters.
    match options.get("config-file-type").map(String::as_str) {
        None => {}
        Some(kind @ ("file" | "s3")) => {
            let value = options
                .get("config-file-value")
                .ok_or_else(|| Refused::Invalid("config-file-type without config-file-value".into()))?;
            let path = match (&ctx.include_path, kind) {
                (Some(p), _) => p.clone(),
                (None, "s3") => "/fluent-bit/etc/external.conf".to_owned(),
                (None, _) => value.clone(),
            };
            let _ = write!(text, "\n@INCLUDE {path}\n");
        }
        Some(other) => {
            return Err(Refused::Invalid(format!(
                "config-file-type {other} is neither file nor s3"
            )));
        }
    }
    if bind.is_some() {
        text.push_str("\n[OUTPUT]\n    Name null\n    Match firelens-healthcheck\n");
    }
    text.push_str(&outputs_text);
    Ok(Generated {
        text,
        mem_buf_limit_mb,
        outputs,
        logging: per_container.into_keys().collect(),
        buffer_limits,
    })
}

/// [`generate`] for a whole task definition (the RegisterTaskDefinition JSON).
pub fn generate_for_task(task: &Value, ctx: &Context) -> Result<Generated, Refused> {
    let mode = task["networkMode"].as_str().unwrap_or("bridge");
    generate(&task["containerDefinitions"], mode, ctx)
}
