//! The Lambda runner through the real Lambda Runtime API protocol: the
//! `tierctl` binary started as `bootstrap`, polling the emulator's Runtime
//! API fake for events, answering there, and continuing a run past its
//! deadline by invoking itself (Lambda `Invoke`, queued into the same fake).

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::run::Shop;
use crate::support::emulator::Emulator;

/// The runner process, killed when dropped.
struct Runner {
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

impl Runner {
    /// Starts `tierctl` as `bootstrap` with the Lambda environment, against `emu`.
    fn start(emu: &Emulator, extra: &[(&str, &str)]) -> Runner {
        let api = emu.endpoint.trim_start_matches("http://").to_string();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tierctl"));
        cmd.arg0("bootstrap")
            .env_clear()
            .envs(emu.env())
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", api)
            .env("AWS_LAMBDA_FUNCTION_NAME", "tierctl-runner")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/03/02/[$LATEST]test")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/tierctl-runner")
            .env("AWS_MAX_ATTEMPTS", "3")
            .envs(extra.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("the runner starts");
        let pump = |mut r: Box<dyn Read + Send>| {
            let buf = Arc::new(Mutex::new(String::new()));
            let b = Arc::clone(&buf);
            std::thread::spawn(move || {
                let mut chunk = [0u8; 4096];
                while let Ok(n) = r.read(&mut chunk) {
                    if n == 0 {
                        break;
                    }
                    b.lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&chunk[..n]));
                }
            });
            buf
        };
        let stdout = pump(Box::new(child.stdout.take().unwrap()));
        let stderr = pump(Box::new(child.stderr.take().unwrap()));
        Runner {
            child,
            stdout,
            stderr,
        }
    }

    /// The JSON lines the runner printed on stdout (one per invocation).
    fn json_lines(&self) -> Vec<Value> {
        self.stdout
            .lock()
            .unwrap()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

fn rfc3339(secs: i64) -> String {
    tierctl::runner::admit::rfc3339(secs)
}

/// A scheduled event as Scheduler delivers it (`scheduledTime` filled in).
fn scheduled(action: &str, at: i64) -> Value {
    json!({"action": action, "workload": "Shop", "scheduledTime": rfc3339(at), "maxAgeSeconds": 600})
}

/// Queues `event` (optionally with its own timeout) and waits for result
/// number `n` (1-based), at most `secs`.
fn invoke(emu: &Emulator, event: Value, timeout_ms: Option<u64>, n: usize, secs: u64) -> Value {
    let mut body = json!({"event": event});
    if let Some(t) = timeout_ms {
        body["timeoutMs"] = json!(t);
    }
    emu.admin("POST", "lambda/invocations", Some(body));
    results(emu, n, secs)
}

/// Waits (bounded) until there are `n` results; returns them all.
fn results(emu: &Emulator, n: usize, secs: u64) -> Value {
    let limit = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let got = emu.admin("GET", "lambda/results?count=0", None);
        let done = got["results"].as_array().map_or(0, Vec::len);
        let idle = got["pending"] == 0 && got["inflight"] == 0;
        if done >= n && idle {
            return got["results"].clone();
        }
        assert!(
            std::time::Instant::now() < limit,
            "{done} of {n} results after {secs} s: {got:#}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The lease table's items by `LockId`.
fn lock_items(emu: &Emulator) -> std::collections::BTreeMap<String, Value> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let db = aws_sdk_dynamodb::Client::new(&emu.sdk_config().await);
        let out = db.scan().table_name("TierctlLocks").send().await.unwrap();
        out.items()
            .iter()
            .map(|item| {
                let id = item["LockId"].as_s().unwrap().clone();
                let fields = item
                    .iter()
                    .map(|(k, v)| {
                        let v = v
                            .as_s()
                            .map(|s| json!(s))
                            .or_else(|_| v.as_n().map(|n| json!(n.parse::<i64>().unwrap())))
                            .unwrap_or(Value::Null);
                        (k.clone(), v)
                    })
                    .collect::<serde_json::Map<_, _>>();
                (id, Value::Object(fields))
            })
            .collect()
    })
}

/// Holders of the lease puts (`PutItem` on the lock table for the workload).
fn lease_puts(emu: &Emulator) -> Vec<String> {
    emu.calls("service=dynamodb&action=PutItem")
        .iter()
        .filter(|c| c["params"]["TableName"] == "TierctlLocks" && c["status"] == 200)
        .map(|c| {
            c["params"]["Item"]["Holder"]["S"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

fn lease_deletes(emu: &Emulator) -> usize {
    emu.calls("service=dynamodb&action=DeleteItem")
        .iter()
        .filter(|c| c["params"]["TableName"] == "TierctlLocks" && c["status"] == 200)
        .count()
}

/// The fleet's states by tier, in seeding order (ids differ between emulators).
fn states_by_tier(shop: &Shop) -> Vec<(String, Vec<String>)> {
    let states = shop.states();
    [("web", &shop.web), ("app", &shop.app), ("db", &shop.db)]
        .iter()
        .map(|(tier, ids)| {
            (
                tier.to_string(),
                ids.iter().map(|i| states[i].clone()).collect(),
            )
        })
        .collect()
}

#[test]
fn a_stop_event_stops_the_fleet_and_a_duplicate_is_harmless() {
    let shop = Shop::new(2, "running");
    let (code, _, err) = shop.tierctl(&["sync"]);
    assert_eq!(code, 0, "{err}");
    shop.emu.clear_calls();
    let runner = Runner::start(&shop.emu, &[]);
    let at = now() - 5;
    let got = invoke(&shop.emu, scheduled("stop", at), None, 1, 90);
    let first = &got[0];
    assert_eq!(
        first["status"],
        "response",
        "{first:#}\n{}",
        runner.stderr()
    );
    let doc = &first["body"];
    // The same outcome `tierctl run stop Shop --from dynamodb` reports: web[0] keeps its override file.
    assert_eq!(doc["exitCode"], 3, "{doc:#}");
    assert_eq!(doc["version"], 1);
    let outcomes = doc["report"]["workloads"][0]["outcomes"]
        .as_array()
        .unwrap();
    assert_eq!(outcomes.len(), 6, "{doc:#}");
    let states = shop.states();
    assert_eq!(states[&shop.web[0]], "running");
    for id in shop.web[1..].iter().chain(&shop.app).chain(&shop.db) {
        assert_eq!(states[id], "stopped", "{id}");
    }
    // Lease taken and released, the handled event recorded.
    assert_eq!(lease_puts(&shop.emu).len(), 1);
    assert_eq!(lease_deletes(&shop.emu), 1);
    let items = lock_items(&shop.emu);
    assert!(!items.contains_key("Shop"), "released: {items:?}");
    assert_eq!(items["runner#Shop"]["StopScheduledAt"], json!(at));
    // The report, as one JSON line on stdout (CloudWatch), is the response.
    let lines = runner.json_lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(&lines[0], doc);
    assert_eq!(lines[0]["runner"]["requestId"], first["requestId"]);
    tierctl_conforms_to_run_output(doc);

    // The same event again (Lambda may deliver an asynchronous event twice).
    let stops = shop.calls("StopInstances").len();
    let got = invoke(&shop.emu, scheduled("stop", at), None, 2, 60);
    let second = &got[1];
    assert_eq!(second["status"], "response", "{second:#}");
    crate::support::assert_conforms("runner-output", &second["body"]);
    let why = second["body"]["runner"]["skipped"].as_str().unwrap();
    assert!(why.starts_with("duplicate event"), "{why}");
    assert_eq!(shop.calls("StopInstances").len(), stops, "nothing called");
    assert_eq!(lease_puts(&shop.emu).len(), 1, "no lease taken");
    assert_eq!(runner.json_lines().len(), 2);

    // A duplicate without the record (e.g. the record's write failed): the
    // re-plan finds nothing to do, the fleet stays as it is.
    let got = invoke(
        &shop.emu,
        json!({"action": "stop", "workload": "Shop"}),
        None,
        3,
        60,
    );
    let third = &got[2]["body"];
    assert_eq!(third["exitCode"], 3, "{third:#}");
    assert_eq!(shop.calls("StopInstances").len(), stops);
    assert_eq!(shop.states(), states);
}

/// The response is the `run -o json` document plus the `runner` object.
fn tierctl_conforms_to_run_output(doc: &Value) {
    crate::support::assert_conforms("runner-output", doc);
    let mut plain = doc.clone();
    plain.as_object_mut().unwrap().remove("runner");
    crate::support::assert_conforms("run-output", &plain);
}

#[test]
fn stale_and_superseded_events_are_skipped() {
    let shop = Shop::new(1, "running");
    let (code, _, err) = shop.tierctl(&["sync"]);
    assert_eq!(code, 0, "{err}");
    let runner = Runner::start(&shop.emu, &[]);
    // Two hours late, allowed ten minutes.
    let got = invoke(&shop.emu, scheduled("stop", now() - 7200), None, 1, 60);
    assert_eq!(got[0]["status"], "response", "{}", runner.stderr());
    let why = got[0]["body"]["runner"]["skipped"].as_str().unwrap();
    assert!(why.starts_with("stale event"), "{why}");
    // The morning start runs (nothing to do: the fleet is up) and is recorded...
    let start_at = now() - 60;
    let got = invoke(&shop.emu, scheduled("start", start_at), None, 2, 60);
    assert_eq!(got[1]["body"]["exitCode"], 0, "{:#}", got[1]);
    // ...so last evening's stop, arriving after it, is superseded: not run.
    let got = invoke(&shop.emu, scheduled("stop", start_at - 30), None, 3, 60);
    let why = got[2]["body"]["runner"]["skipped"].as_str().unwrap();
    assert!(why.starts_with("superseded"), "{why}");
    assert!(shop.calls("StopInstances").is_empty());
    assert!(shop.states().values().all(|s| s == "running"));
    let lines = runner.json_lines();
    assert_eq!(lines.len(), 3, "one JSON line per invocation: {lines:?}");
    assert_eq!(
        lock_items(&shop.emu)["runner#Shop"]["StartScheduledAt"],
        json!(start_at)
    );
}

#[test]
fn a_run_past_its_deadline_continues_in_new_invocations_and_ends_as_one_run() {
    // Long synchronous waits: each stop takes 4 s to complete; every
    // invocation gets 5 s and stops 2 s before its deadline.
    let split = Shop::new(2, "running");
    split.emu.transitions(4000, 4000);
    let (code, _, err) = split.tierctl(&["sync"]);
    assert_eq!(code, 0, "{err}");
    split.emu.clear_calls();
    split
        .emu
        .admin("POST", "lambda/config", Some(json!({"timeoutMs": 5000})));
    let runner = Runner::start(
        &split.emu,
        &[("TIERCTL_RUNNER_DEADLINE_MARGIN_SECONDS", "2")],
    );
    let got = invoke(&split.emu, scheduled("stop", now()), None, 2, 120);
    let got = got.as_array().unwrap();
    let stderr = runner.stderr();
    assert!(got.len() >= 2, "{got:#?}\n{stderr}");
    for (n, r) in got.iter().enumerate() {
        assert_eq!(r["status"], "response", "{r:#}\n{stderr}");
        assert_eq!(r["body"]["runner"]["invocation"], n, "{r:#}");
        // Every invocation answers before its deadline.
        assert_eq!(r["lateMs"], 0, "{r:#}");
    }
    eprintln!("split run: {} invocations", got.len());
    let (last, parts) = got.split_last().unwrap();
    for r in parts {
        let next = &r["body"]["runner"]["continuedAs"];
        assert!(next["continuation"]["holder"].is_string(), "{r:#}");
        assert_eq!(r["body"]["report"]["interrupted"], true);
    }
    assert!(last["body"]["runner"]["continuedAs"].is_null());
    assert_eq!(last["body"]["report"]["interrupted"], false, "{last:#}");
    assert_eq!(last["body"]["exitCode"], 3, "{last:#}");
    // One holder across every invocation; released once, at the end.
    let holders = lease_puts(&split.emu);
    assert_eq!(holders.len(), got.len(), "{holders:?}");
    assert!(holders.iter().all(|h| *h == holders[0]), "{holders:?}");
    assert_eq!(lease_deletes(&split.emu), 1);
    assert!(!lock_items(&split.emu).contains_key("Shop"));
    // The continuations went through Lambda's Invoke.
    let invokes = split.emu.calls("service=lambda&action=Invoke");
    assert_eq!(invokes.len(), got.len() - 1);
    // Stop order kept across invocations: each tier stopped once, and db
    // only after app's synchronous stop completed (4 s), in a later invocation.
    let stops = split.calls("StopInstances");
    assert_eq!(stops.len(), 3, "web, app, db, once each: {stops:?}");
    let at = |ids: &[String]| {
        stops
            .iter()
            .find(|(_, c)| c.iter().any(|i| ids.contains(i)))
            .map(|(t, _)| *t)
            .unwrap()
    };
    assert!(at(&split.web) < at(&split.app));
    assert!(at(&split.db) - at(&split.app) >= 4.0, "{stops:?}");

    // The same stop in one go (one long invocation) ends in the same state.
    let whole = Shop::new(2, "running");
    whole.emu.transitions(4000, 4000);
    let (code, _, err) = whole.tierctl(&["sync"]);
    assert_eq!(code, 0, "{err}");
    let one = Runner::start(
        &whole.emu,
        &[("TIERCTL_RUNNER_DEADLINE_MARGIN_SECONDS", "2")],
    );
    let got = invoke(&whole.emu, scheduled("stop", now()), None, 1, 120);
    assert_eq!(
        got.as_array().unwrap().len(),
        1,
        "{got:#}\n{}",
        one.stderr()
    );
    assert_eq!(got[0]["body"]["exitCode"], 3);
    assert_eq!(states_by_tier(&split), states_by_tier(&whole));
    assert_eq!(
        last["body"]["report"]["workloads"][0]["outcomes"]
            .as_array()
            .unwrap()
            .len(),
        got[0]["body"]["report"]["workloads"][0]["outcomes"]
            .as_array()
            .unwrap()
            .len()
    );
}

#[test]
fn a_run_that_needs_too_many_invocations_fails_loudly_and_releases_its_lease() {
    let shop = Shop::new(1, "running");
    shop.emu.transitions(30_000, 30_000);
    let (code, _, err) = shop.tierctl(&["sync"]);
    assert_eq!(code, 0, "{err}");
    shop.emu
        .admin("POST", "lambda/config", Some(json!({"timeoutMs": 4000})));
    let runner = Runner::start(
        &shop.emu,
        &[
            ("TIERCTL_RUNNER_DEADLINE_MARGIN_SECONDS", "2"),
            ("TIERCTL_RUNNER_MAX_CONTINUATIONS", "1"),
        ],
    );
    let got = invoke(&shop.emu, scheduled("stop", now()), None, 2, 60);
    assert_eq!(got[0]["status"], "response", "{got:#}\n{}", runner.stderr());
    assert_eq!(got[1]["status"], "error", "{got:#}");
    let message = got[1]["body"]["errorMessage"].as_str().unwrap();
    assert!(
        message.contains("not finished after 2 invocations"),
        "{message}"
    );
    assert!(!lock_items(&shop.emu).contains_key("Shop"), "released");
    assert_eq!(runner.json_lines().len(), 2);
}

#[test]
fn a_continuation_that_cannot_be_queued_releases_the_lease_and_fails() {
    let shop = Shop::new(1, "running");
    shop.emu.transitions(30_000, 30_000);
    let (code, _, err) = shop.tierctl(&["sync"]);
    assert_eq!(code, 0, "{err}");
    shop.emu
        .admin("POST", "lambda/config", Some(json!({"timeoutMs": 4000})));
    shop.emu
        .fault(json!({"service": "lambda", "action": "Invoke",
        "error": "TooManyRequestsException", "status": 429, "times": -1}));
    let runner = Runner::start(
        &shop.emu,
        &[("TIERCTL_RUNNER_DEADLINE_MARGIN_SECONDS", "2")],
    );
    let got = invoke(&shop.emu, scheduled("stop", now()), None, 1, 60);
    assert_eq!(got[0]["status"], "error", "{got:#}\n{}", runner.stderr());
    let message = got[0]["body"]["errorMessage"].as_str().unwrap();
    assert!(
        message.contains("could not continue the run in a new invocation"),
        "{message}"
    );
    assert!(!lock_items(&shop.emu).contains_key("Shop"), "released");
    let lines = runner.json_lines();
    assert_eq!(lines.len(), 1);
    assert!(lines[0]["runner"]["error"].is_string(), "{:#}", lines[0]);
    assert!(
        !lock_items(&shop.emu).contains_key("runner#Shop"),
        "an unfinished run is not recorded as handled"
    );
}

#[test]
fn an_event_for_a_workload_another_run_holds_fails_and_is_not_recorded() {
    let shop = Shop::new(1, "running");
    let (code, _, err) = shop.tierctl(&["sync"]);
    assert_eq!(code, 0, "{err}");
    // Another run (say, `tierctl run start` in CI) holds the workload's lease.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use aws_sdk_dynamodb::types::{
            AttributeDefinition, AttributeValue as V, BillingMode, KeySchemaElement, KeyType,
            ScalarAttributeType,
        };
        let db = aws_sdk_dynamodb::Client::new(&shop.emu.sdk_config().await);
        db.create_table()
            .table_name("TierctlLocks")
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("LockId")
                    .key_type(KeyType::Hash)
                    .build()
                    .unwrap(),
            )
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("LockId")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        db.put_item()
            .table_name("TierctlLocks")
            .item("LockId", V::S("Shop".into()))
            .item("Holder", V::S("GitHub Actions run 7 of acme/fleet".into()))
            .item("AcquiredAt", V::N(now().to_string()))
            .item("ExpiresAt", V::N((now() + 600).to_string()))
            .send()
            .await
            .unwrap();
    });
    let runner = Runner::start(&shop.emu, &[]);
    let got = invoke(&shop.emu, scheduled("stop", now()), None, 1, 60);
    assert_eq!(got[0]["status"], "error", "{got:#}\n{}", runner.stderr());
    let message = got[0]["body"]["errorMessage"].as_str().unwrap();
    assert!(message.contains("another run holds its lock"), "{message}");
    assert!(shop.calls("StopInstances").is_empty());
    let items = lock_items(&shop.emu);
    assert_eq!(
        items["Shop"]["Holder"], "GitHub Actions run 7 of acme/fleet",
        "the other run's lease is untouched"
    );
    assert!(
        !items.contains_key("runner#Shop"),
        "not run, so not recorded: Lambda's retry runs it"
    );
    assert_eq!(runner.json_lines().len(), 1);
}
