//! AWS served locally, for the tests, the demo and the benchmarks: moto's
//! server (PyPI `moto[server]`, installed into the repo's `.venv` by
//! scripts/python-env.sh) on a free loopback port, the S3 archive behind a
//! Firehose stream, and reading back what landed; and [`fake::FakeAws`], a
//! fast stand-in that injects faults and checks every request limit.

pub mod fake;
pub mod tls;

use anyhow::{Context, Result, bail};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// moto's server, stopped when dropped.
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

/// `$MOTO_SERVER`, or `.venv/bin/moto_server` in the repository.
pub fn moto_server() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("MOTO_SERVER") {
        return Ok(p.into());
    }
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/moto_server");
    if !p.exists() {
        bail!(
            "{} not found: run scripts/python-env.sh (scripts/test.sh and scripts/demo.sh do), or set MOTO_SERVER",
            p.display()
        );
    }
    Ok(p)
}

impl Moto {
    /// Starts moto on 127.0.0.1 and waits until it answers (at most 60 s).
    pub async fn start() -> Result<Self> {
        // A free port: bind, read, release (moto binds it right after).
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new(moto_server()?)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting moto_server")?;
        let moto = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        moto.wait_ready(port).await?;
        Ok(moto)
    }

    /// Readiness: an HTTP answer (any status) to a request on the port.
    async fn wait_ready(&self, port: u16) -> Result<()> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
                let _ = s.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n").await;
                let mut head = [0u8; 12];
                let read = tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut head)).await;
                if matches!(read, Ok(Ok(_))) && head.starts_with(b"HTTP/1.") {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                bail!("moto_server did not answer on port {port} within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// SDK settings for a local endpoint: fixed test credentials and region.
pub async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_firehose::config::Credentials::new(
            "test", "test", None, None, "local",
        ))
        .load()
        .await
}

pub fn s3(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(sdk).force_path_style(true).build())
}

/// An S3 bucket and a Firehose delivery stream writing to it.
pub async fn create_archive(sdk: &aws_config::SdkConfig, bucket: &str, stream: &str) -> Result<()> {
    s3(sdk).create_bucket().bucket(bucket).send().await?;
    let dest = aws_sdk_firehose::types::ExtendedS3DestinationConfiguration::builder()
        .bucket_arn(format!("arn:aws:s3:::{bucket}"))
        .role_arn("arn:aws:iam::123456789012:role/firehose-to-s3")
        .build()?;
    aws_sdk_firehose::Client::new(sdk)
        .create_delivery_stream()
        .delivery_stream_name(stream)
        .extended_s3_destination_configuration(dest)
        .send()
        .await?;
    Ok(())
}

/// Every object in `bucket`: (key, bytes).
pub async fn s3_objects(sdk: &aws_config::SdkConfig, bucket: &str) -> Result<Vec<(String, Vec<u8>)>> {
    let s3 = s3(sdk);
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let list = s3
            .list_objects_v2()
            .bucket(bucket)
            .set_continuation_token(token)
            .send()
            .await?;
        for o in list.contents() {
            let key = o.key().unwrap_or_default().to_owned();
            let obj = s3.get_object().bucket(bucket).key(&key).send().await?;
            out.push((key, obj.body.collect().await?.into_bytes().to_vec()));
        }
        token = list.next_continuation_token().map(str::to_owned);
        if token.is_none() {
            return Ok(out);
        }
    }
}

/// The streams of a log group, by name.
pub async fn log_streams(sdk: &aws_config::SdkConfig, group: &str) -> Result<Vec<String>> {
    let logs = aws_sdk_cloudwatchlogs::Client::new(sdk);
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let r = logs
            .describe_log_streams()
            .log_group_name(group)
            .set_next_token(token)
            .send()
            .await?;
        out.extend(
            r.log_streams()
                .iter()
                .filter_map(|s| s.log_stream_name().map(str::to_owned)),
        );
        token = r.next_token().map(str::to_owned);
        if token.is_none() {
            out.sort();
            return Ok(out);
        }
    }
}

/// A stream's events, oldest first: (timestamp ms, message).
pub async fn log_events(sdk: &aws_config::SdkConfig, group: &str, stream: &str) -> Result<Vec<(i64, String)>> {
    let logs = aws_sdk_cloudwatchlogs::Client::new(sdk);
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let r = logs
            .get_log_events()
            .log_group_name(group)
            .log_stream_name(stream)
            .start_from_head(true)
            .set_next_token(token.clone())
            .send()
            .await?;
        let before = out.len();
        out.extend(r.events().iter().map(|e| {
            (
                e.timestamp().unwrap_or_default(),
                e.message().unwrap_or_default().to_owned(),
            )
        }));
        let next = r.next_forward_token().map(str::to_owned);
        // The forward token repeats once the end is reached.
        if out.len() == before || next == token {
            return Ok(out);
        }
        token = next;
    }
}
