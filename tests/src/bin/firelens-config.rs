//! Prints the Fluent Bit config the ECS agent would generate for a task
//! definition (`firelens_e2e::ecs_firelens`), with its listening addresses
//! and the include's path moved for a local run. The real-Fluent-Bit
//! benches (bench/*.py) run Fluent Bit on it, as FireLens does.
//!
//!   firelens-config [--task examples/ecs/task-definition.json] [--include PATH]
//!                   [--socket PATH] [--forward-port N] [--health-port N]

use clap::Parser;
use firelens_e2e::ecs_firelens::{Context, generate_for_task};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
struct Args {
    /// A task definition (RegisterTaskDefinition JSON).
    #[arg(long, default_value = "examples/ecs/task-definition.json")]
    task: PathBuf,
    /// Where Fluent Bit finds the include (default: the task's config-file-value).
    #[arg(long)]
    include: Option<String>,
    #[arg(long, default_value = ecs_socket())]
    socket: String,
    #[arg(long, default_value_t = 24224)]
    forward_port: u16,
    #[arg(long, default_value_t = 8877)]
    health_port: u16,
}

const fn ecs_socket() -> &'static str {
    firelens_e2e::ecs_firelens::SOCKET_PATH
}

fn main() -> ExitCode {
    let args = Args::parse();
    let task: serde_json::Value = match std::fs::read_to_string(&args.task)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
    {
        Ok(v) => v,
        Err(e) => {
            eprintln!("firelens-config: {}: {e}", args.task.display());
            return ExitCode::from(2);
        }
    };
    let family = task["family"].as_str().unwrap_or("task");
    let ctx = Context {
        socket_path: args.socket,
        forward_port: args.forward_port,
        health_port: args.health_port,
        include_path: args.include,
        ..Context::ecs(family)
    };
    match generate_for_task(&task, &ctx) {
        Ok(g) => {
            print!("{}", g.text);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("firelens-config: the ECS agent refuses this task: {e}");
            ExitCode::FAILURE
        }
    }
}
