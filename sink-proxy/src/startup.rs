//! The startup check: can this proxy use each destination? One call each,
//! made in the background so that the proxy takes chunks meanwhile:
//! `DescribeDeliveryStream` per Firehose stream (the records' and the dead
//! letters'), and `DescribeLogGroups` for the error group, which is
//! created now if missing (as delivery would).
//!
//! - Every destination answers: `ok`.
//! - One refuses for good (access denied, no such stream, bad
//!   credentials): `failed`, logged once at error level with what to fix,
//!   and the container health check fails from then on (see `health`).
//! - AWS does not answer (throttling, 5xx, an outage): no verdict; the
//!   check is made again, backing off, at most [`MAX_ROUNDS`] times.

use crate::delivered::Destination;
use crate::health::Startup;
use crate::proxy::Proxy;
use std::sync::Arc;
use std::time::Duration;

/// Rounds of the check before it stops asking (about an hour in all).
pub const MAX_ROUNDS: u32 = 70;
const FIRST_WAIT: Duration = Duration::from_secs(2);
const MAX_WAIT: Duration = Duration::from_secs(60);

/// Runs the check until a verdict, then records it in the proxy's health.
pub async fn run(proxy: Arc<Proxy>) {
    let mut wait = FIRST_WAIT;
    for round in 1..=MAX_ROUNDS {
        match check(&proxy).await {
            Ok(()) => {
                tracing::info!("startup check: every destination answers");
                proxy.health.set_startup(Startup::Ok);
                return;
            }
            Err((dest, e)) if !e.transient => {
                let why = format!("{}: {}", dest.name(), e.message);
                tracing::error!(
                    destination = dest.name(),
                    error = %e.message,
                    "startup check failed: this destination cannot be used until its name or the task role's \
                     permissions are fixed; the container health check fails"
                );
                proxy.health.set_startup(Startup::Failed(why));
                return;
            }
            Err((dest, e)) => {
                tracing::warn!(destination = dest.name(), round, error = %e.message, "startup check: no answer yet, trying again");
            }
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(MAX_WAIT);
    }
    tracing::warn!("startup check: AWS did not answer; giving up the check (delivery goes on)");
}

async fn check(proxy: &Proxy) -> Result<(), (Destination, crate::aws::CallError)> {
    if let Some(f) = &proxy.firehose {
        f.check().await.map_err(|e| (Destination::Firehose, e))?;
    }
    if let Some(d) = &proxy.dead_letter {
        d.check().await.map_err(|e| (Destination::DeadLetter, e))?;
    }
    if let Some(c) = &proxy.cloudwatch {
        c.check().await.map_err(|e| (Destination::CloudWatch, e))?;
    }
    Ok(())
}
