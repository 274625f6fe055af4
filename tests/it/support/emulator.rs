//! The project's AWS emulator (`tests/emulator/`), one process per test:
//! started on an ephemeral loopback port, killed when dropped.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::repo_root;

/// Region the tests' fleets and tables live in.
pub const REGION: &str = "us-west-2";

/// A running emulator.
pub struct Emulator {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
    port: u16,
    _dir: tempfile::TempDir,
}

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("TIERCTL_EMULATOR_PYTHON") {
        return PathBuf::from(p);
    }
    repo_root().join(".venv/bin/python")
}

impl Emulator {
    /// Starts an emulator and waits until it answers (at most 60 s).
    ///
    /// Panics with set-up instructions when the venv is missing: never skips.
    pub fn start() -> Emulator {
        let py = python();
        assert!(
            py.exists(),
            "the AWS emulator's Python venv is missing ({}): run `make venv` (or `make test`, which does it)",
            py.display()
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let port_file = dir.path().join("port");
        let log = std::fs::File::create(dir.path().join("emulator.log")).expect("log file");
        let child = Command::new(&py)
            .args(["-m", "tierctl_emulator", "--port", "0", "--port-file"])
            .arg(&port_file)
            .arg("--parent-pid")
            .arg(std::process::id().to_string())
            .env("PYTHONPATH", repo_root().join("tests/emulator"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting the emulator with {}: {e}", py.display()));
        let mut emu = Emulator {
            child,
            endpoint: String::new(),
            port: 0,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(text) = std::fs::read_to_string(&port_file)
                && let Ok(port) = text.trim().parse::<u16>()
            {
                emu.port = port;
                emu.endpoint = format!("http://127.0.0.1:{port}");
                break;
            }
            if let Ok(Some(status)) = emu.child.try_wait() {
                let log = std::fs::read_to_string(emu._dir.path().join("emulator.log"))
                    .unwrap_or_default();
                panic!("the emulator exited ({status}) before listening:\n{log}");
            }
            assert!(
                Instant::now() < deadline,
                "the emulator did not start within 60 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(emu.admin("GET", "health", None)["ok"], true);
        emu
    }

    /// Calls the admin API; panics on an HTTP error (tests want to know).
    pub fn admin(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, value) = self.admin_raw(method, path, body);
        assert!(status < 300, "admin {method} {path} -> {status}: {value}");
        value
    }

    /// Calls the admin API and returns (status, JSON body).
    pub fn admin_raw(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to emulator");
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        write!(
            stream,
            "{method} /_tierctl/{path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).expect("read admin answer");
        let text = String::from_utf8_lossy(&raw);
        let (head, payload) = text.split_once("\r\n\r\n").expect("HTTP answer");
        assert!(
            !head
                .to_ascii_lowercase()
                .contains("transfer-encoding: chunked"),
            "chunked admin answer"
        );
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let value = if payload.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(payload).expect("JSON admin answer")
        };
        (status, value)
    }

    /// Seeds a fleet (see tests/emulator/README.md) and returns the answer.
    pub fn seed(&self, spec: Value) -> Value {
        self.admin("POST", "seed", Some(spec))
    }

    /// The call log, optionally filtered like `service=ec2&action=StopInstances`.
    pub fn calls(&self, filter: &str) -> Vec<Value> {
        let path = if filter.is_empty() {
            "calls".to_string()
        } else {
            format!("calls?{filter}")
        };
        self.admin("GET", &path, None)["calls"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Calls per `service:Action`.
    pub fn counts(&self) -> Value {
        self.admin("GET", "calls/counts", None)
    }

    /// Forgets the call log.
    pub fn clear_calls(&self) {
        self.admin("DELETE", "calls", None);
    }

    /// Sets the EC2 transition times (ms).
    pub fn transitions(&self, stop_ms: u64, start_ms: u64) {
        self.admin(
            "POST",
            "config",
            Some(json!({"stopDelayMs": stop_ms, "startDelayMs": start_ms})),
        );
    }

    /// Injects a fault (see the README for fields).
    pub fn fault(&self, fault: Value) {
        self.admin("POST", "faults", Some(fault));
    }

    /// Environment for anything that talks to this emulator: endpoint, region,
    /// dummy credentials, and nothing from the user's AWS configuration.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_REGION", REGION.into()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
            ("AWS_CONFIG_FILE", "/dev/null".into()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".into()),
        ]
    }

    /// `tierctl` in `dir`, pointed at this emulator.
    pub fn tierctl_in(&self, dir: &std::path::Path) -> assert_cmd::Command {
        let mut cmd = super::tierctl_in(dir);
        for var in [
            "AWS_PROFILE",
            "AWS_DEFAULT_REGION",
            "AWS_SESSION_TOKEN",
            "AWS_MAX_ATTEMPTS",
            "AWS_RETRY_MODE",
        ] {
            cmd.env_remove(var);
        }
        cmd.envs(self.env());
        cmd
    }

    /// `tierctl` in the repository root, pointed at this emulator.
    pub fn tierctl(&self) -> assert_cmd::Command {
        self.tierctl_in(&repo_root())
    }

    /// The SDK configuration a test uses to call the emulator directly.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(aws_config::Region::new(REGION))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "testing", "testing", None, None, "tests",
            ))
            .retry_config(
                aws_smithy_types::retry::RetryConfig::standard()
                    .with_max_attempts(5)
                    .with_initial_backoff(Duration::from_millis(20)),
            )
            .load()
            .await
    }

    /// Creates tierctl's override-check document in `region`, as `sync` does
    /// (no error when it is there already).
    pub fn create_override_document(&self, region: &str) {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                let ssm = tierctl::aws::ssm::Ssm::new(&self.sdk_config().await, region);
                let d = tierctl::store::document::desired();
                if let Err(e) = ssm.create_document(d.name, &d.content).await {
                    assert_eq!(e.code.as_deref(), Some("DocumentAlreadyExists"), "{e}");
                }
            });
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
