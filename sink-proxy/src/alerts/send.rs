//! Sending one message to one destination: Slack or a generic webhook over
//! HTTP(S), or an SNS topic. Each attempt is bounded in time; a message is
//! tried at most `max_attempts` times, and a 429's `Retry-After` is waited
//! out (up to [`MAX_RETRY_AFTER`]) before the next attempt.

use super::config::Secret;
use super::group::Message;
use super::render::Console;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

/// A longer `Retry-After` than this gives the message up.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

pub type Https = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// An HTTPS (or plain HTTP, for loopback tests) client with the system's roots.
pub fn https_client() -> std::io::Result<Https> {
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())?
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(connector))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Slack,
    Webhook,
    Sns,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Slack => "slack",
            Kind::Webhook => "webhook",
            Kind::Sns => "sns",
        }
    }

    /// Least time between two messages (Slack: about one a second per webhook).
    pub fn spacing(self) -> Duration {
        match self {
            Kind::Slack => Duration::from_secs(1),
            Kind::Webhook | Kind::Sns => Duration::ZERO,
        }
    }
}

pub enum Target {
    Http {
        kind: Kind,
        url: Secret,
        client: Box<Https>,
    },
    Sns {
        topic_arn: String,
        client: aws_sdk_sns::Client,
    },
}

/// Why an attempt failed. Never holds the URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// 429: try again after this long.
    RetryAfter(Duration),
    /// Anything else: what happened, for the log.
    Other(String),
}

impl Target {
    pub fn kind(&self) -> Kind {
        match self {
            Target::Http { kind, .. } => *kind,
            Target::Sns { .. } => Kind::Sns,
        }
    }

    /// One attempt, within `timeout`.
    pub async fn attempt(&self, m: &Message, console: Option<&Console>, timeout: Duration) -> Result<(), Failure> {
        match tokio::time::timeout(timeout, self.send(m, console)).await {
            Ok(r) => r,
            Err(_) => Err(Failure::Other(format!("no answer within {} s", timeout.as_secs()))),
        }
    }

    async fn send(&self, m: &Message, console: Option<&Console>) -> Result<(), Failure> {
        match self {
            Target::Http { kind, url, client } => {
                let body = match kind {
                    Kind::Slack => super::slack::payload(m, console),
                    _ => super::webhook::payload(m, console),
                };
                post(client, url, body.to_string()).await
            }
            Target::Sns { topic_arn, client } => client
                .publish()
                .topic_arn(topic_arn)
                .subject(super::sns::subject(m))
                .message(super::sns::body(m, console))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| Failure::Other(aws_sdk_sns::error::DisplayErrorContext(e).to_string())),
        }
    }
}

async fn post(client: &Https, url: &Secret, body: String) -> Result<(), Failure> {
    let request = hyper::Request::post(url.expose())
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .header(
            hyper::header::USER_AGENT,
            concat!("sink-proxy/", env!("CARGO_PKG_VERSION")),
        )
        .body(Full::new(Bytes::from(body)))
        .map_err(|_| Failure::Other("the URL cannot be used".into()))?;
    // Errors are described by kind only: their Display may hold the URL.
    let response = client
        .request(request)
        .await
        .map_err(|e| Failure::Other(connect_failure(&e)))?;
    let status = response.status();
    let retry_after = response
        .headers()
        .get(hyper::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    // Read (a bounded part of) the answer so the connection can be reused.
    let _ = http_body_util::Limited::new(response.into_body(), 64 * 1024)
        .collect()
        .await;
    if status.is_success() {
        Ok(())
    } else if status == hyper::StatusCode::TOO_MANY_REQUESTS {
        Err(Failure::RetryAfter(retry_after.unwrap_or(Duration::from_secs(30))))
    } else {
        Err(Failure::Other(format!("answered {status}")))
    }
}

fn connect_failure(e: &hyper_util::client::legacy::Error) -> String {
    if e.is_connect() {
        "cannot connect".into()
    } else {
        "the connection failed".into()
    }
}
