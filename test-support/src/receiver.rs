//! An HTTP receiver on 127.0.0.1 standing in for Slack, a generic webhook,
//! an SNS HTTP subscription or Fluent Bit's HTTP server: it records every
//! request and answers as told (200, a JSON body, 429 with `Retry-After`,
//! 500, or never).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Ok,
    /// 200 with this JSON body.
    Json(&'static str),
    TooMany {
        retry_after_secs: u64,
    },
    ServerError,
    /// Read the request, never answer.
    Hang,
}

#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    pub path: String,
    pub body: Vec<u8>,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

pub struct Receiver {
    pub addr: SocketAddr,
    answer: Arc<Mutex<Answer>>,
    received: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    pub async fn start(answer: Answer) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let answer = Arc::new(Mutex::new(answer));
        let received = Arc::new(Mutex::new(Vec::new()));
        let (a, r) = (answer.clone(), received.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (a, r) = (a.clone(), r.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let (a, r) = (a.clone(), r.clone());
                        async move {
                            let path = req.uri().path().to_owned();
                            let body = req
                                .into_body()
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            r.lock().unwrap().push(Received {
                                at: Instant::now(),
                                path,
                                body: body.to_vec(),
                            });
                            let answer = *a.lock().unwrap();
                            let mut resp = hyper::Response::new(Full::new(Bytes::from_static(b"ok")));
                            match answer {
                                Answer::Ok => {}
                                Answer::Json(body) => {
                                    *resp.body_mut() = Full::new(Bytes::from_static(body.as_bytes()));
                                    resp.headers_mut()
                                        .insert("content-type", "application/json".parse().unwrap());
                                }
                                Answer::TooMany { retry_after_secs } => {
                                    *resp.status_mut() = hyper::StatusCode::TOO_MANY_REQUESTS;
                                    resp.headers_mut()
                                        .insert("retry-after", retry_after_secs.to_string().parse().unwrap());
                                }
                                Answer::ServerError => *resp.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR,
                                Answer::Hang => std::future::pending::<()>().await,
                            }
                            Ok::<_, std::convert::Infallible>(resp)
                        }
                    });
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await;
                });
            }
        });
        Ok(Self {
            addr,
            answer,
            received,
            task,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn set_answer(&self, a: Answer) {
        *self.answer.lock().unwrap() = a;
    }

    pub fn received(&self, path: &str) -> Vec<Received> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    /// Waits (at most `limit`) until `done` holds for what `path` received.
    pub async fn wait_for(&self, path: &str, limit: Duration, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let deadline = Instant::now() + limit;
        loop {
            let got = self.received(path);
            if done(&got) || Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}
