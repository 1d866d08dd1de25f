//! A moto server (PyPI `moto[server]`, installed into the repo's `.venv` by
//! scripts/test.sh) on a free loopback port, stopped when dropped.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Moto {
    child: Child,
    pub endpoint: String,
}

fn moto_server() -> PathBuf {
    if let Some(p) = std::env::var_os("MOTO_SERVER") {
        return p.into();
    }
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/moto_server");
    assert!(
        p.exists(),
        "{} not found: run scripts/test.sh, which installs moto[server] into .venv (or set MOTO_SERVER)",
        p.display()
    );
    p
}

impl Moto {
    pub async fn start() -> Self {
        // A free port: bind, read, release (moto binds it right after).
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(moto_server())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let moto = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        moto.wait_ready().await;
        moto
    }

    /// Readiness: the server answers HTTP (any status).
    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let addr = self.endpoint.trim_start_matches("http://").parse().unwrap();
        loop {
            if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(2), super::try_get(addr, "/")).await {
                return;
            }
            assert!(Instant::now() < deadline, "moto_server did not become ready in 60 s");
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
