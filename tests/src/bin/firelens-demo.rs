//! The main job on one machine, no AWS account: sample FireLens logs through
//! the Wasm filter and sink-proxy into CloudWatch Logs and Firehose → S3
//! (served locally by moto), then a summary. Run it with scripts/demo.sh.

use anyhow::Result;
use clap::Parser;
use firelens_e2e::{BUCKET, DELIVERY_STREAM, LOG_GROUP, units_one_record_per_line};
use sink_proxy::firehose::batch::BILLING_UNIT_BYTES;
use std::path::PathBuf;

#[derive(Parser)]
#[command(about = "Runs sample FireLens logs through the filter and sink-proxy, AWS served locally by moto")]
struct Args {
    /// FireLens records, one JSON object per line.
    #[arg(long, default_value_os_t = wasm_host::corpus::workspace_root().join("examples/sample-firelens-logs.jsonl"))]
    records: PathBuf,
    /// The filter module (scripts/build-wasm.sh builds it).
    #[arg(long, default_value_os_t = wasm_host::corpus::module_path())]
    module: PathBuf,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let records = firelens_e2e::read_records(&args.records)?;
    let shown = args.records.canonicalize().unwrap_or_else(|_| args.records.clone());
    let moto = local_aws::Moto::start().await?;
    let sdk = local_aws::sdk_config(&moto.endpoint).await;
    // A local receiver stands in for Slack and for a generic webhook.
    let receiver = test_support::receiver::Receiver::start(test_support::receiver::Answer::Ok).await?;
    let (slack_url, hook_url) = (receiver.url("/slack"), receiver.url("/webhook"));
    let run = firelens_e2e::run_with_env(&args.module, &records, &sdk, |k| match k {
        "SINK_PROXY_SLACK_WEBHOOK_URL" => Some(slack_url.clone()),
        "SINK_PROXY_ALERT_WEBHOOK_URL" => Some(hook_url.clone()),
        _ => None,
    })
    .await?;

    let n = run.filtered.records_in;
    let dropped = run.filtered.dropped.len();
    let kept = run.filtered.kept.len();
    let pct = |x: usize| 100.0 * x as f64 / n.max(1) as f64;
    let lines: usize = run.landed.objects.iter().map(|(_, l)| l.len()).sum();
    let events: usize = run.landed.streams.iter().map(|(_, e)| e.len()).sum();
    let bytes: usize = run.filtered.kept.iter().map(|k| k.line.len() + 1).sum();
    let metric = |name: &str| sink_proxy::metrics::sample(&run.metrics, name);
    let fh_records = metric("sink_proxy_firehose_records_total");
    let fh_units = metric("sink_proxy_firehose_billed_units_total");
    let classic_units = units_one_record_per_line(run.filtered.kept.iter().map(|k| k.line.len()));

    println!();
    println!(
        "FireLens demo: {} through the Wasm filter and sink-proxy",
        shown.display()
    );
    println!("(AWS served locally by moto; nothing left this machine)");
    println!();
    println!("  records in                      {n:>8}");
    println!(
        "  health checks dropped           {dropped:>8}  ({:.1} %)",
        pct(dropped)
    );
    println!(
        "  records kept                    {kept:>8}  in {} Fluent Bit chunks",
        run.chunks
    );
    println!();
    println!("  errors -> CloudWatch Logs       {events:>8}  events in group {LOG_GROUP}");
    for (stream, ev) in &run.landed.streams {
        println!("      {:>8}  {stream}", ev.len());
    }
    println!();
    println!("  all kept -> Firehose -> S3      {lines:>8}  lines, stream {DELIVERY_STREAM}");
    for (key, l) in &run.landed.objects {
        println!("      {:>8}  s3://{BUCKET}/{key}", l.len());
    }
    println!();
    println!(
        "  Firehose billing ({} KiB units, {:.1} KB of log lines):",
        BILLING_UNIT_BYTES / 1024,
        bytes as f64 / 1000.0
    );
    println!("      {fh_records:>8}  records sent by sink-proxy, billed as {fh_units} units");
    println!("      {kept:>8}  records one per line (Fluent Bit's kinesis_firehose), billed as {classic_units} units");
    println!(
        "      {:>7.1}x  fewer billed units",
        classic_units as f64 / fh_units.max(1) as f64
    );
    let alerting = metric("sink_proxy_alert_errors_total");
    let reported = print_alerts(&receiver, alerting);
    if reported != alerting {
        anyhow::bail!("{alerting} errors alerted but the webhook's messages count {reported}");
    }
    let dead = metric(r#"sink_proxy_dead_letter_records_total{reason="unparseable"}"#);
    println!();
    println!(
        "  dead letters: {dead}; every record accounted for: {}",
        if lines == kept { "yes" } else { "NO" }
    );
    if lines != kept {
        anyhow::bail!("{kept} records kept but {lines} lines in S3");
    }
    Ok(())
}

/// What the alert destinations received: the webhook's groups, and the
/// Slack messages' titles.
/// Returns the errors the webhook's messages count.
fn print_alerts(receiver: &test_support::receiver::Receiver, alerting: u64) -> u64 {
    let hook = receiver.received("/webhook");
    let slack = receiver.received("/slack");
    let groups: Vec<serde_json::Value> = hook
        .iter()
        .flat_map(|m| m.json()["groups"].as_array().cloned().unwrap_or_default())
        .collect();
    let reported: u64 = groups.iter().filter_map(|g| g["count"].as_u64()).sum();
    println!();
    println!("  alerts (errors at error level or worse, or 5xx; 4xx only stored)");
    println!(
        "      {alerting:>8}  errors alerted, reported in {} webhook messages ({reported} counted) and {} Slack messages",
        hook.len(),
        slack.len()
    );
    for m in hook.iter().take(8) {
        let v = m.json();
        println!("        webhook: {}", v["title"].as_str().unwrap_or("?"));
        let mut groups = v["groups"].as_array().cloned().unwrap_or_default();
        groups.sort_by_key(|g| std::cmp::Reverse(g["count"].as_u64()));
        for g in groups.iter().take(4) {
            let sample: String = g["sample"].as_str().unwrap_or("").chars().take(60).collect();
            println!(
                "          {:>5} x {:<8} {sample}",
                g["count"],
                g["container"].as_str().unwrap_or("?")
            );
        }
    }
    if hook.len() > 8 {
        println!("        ... and {} more messages", hook.len() - 8);
    }
    if let Some(first) = slack.first() {
        println!(
            "        Slack, first message: {:?}",
            first.json()["text"].as_str().unwrap_or("?")
        );
    }
    reported
}
