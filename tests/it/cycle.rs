//! `tierctl run cycle`: the original's test mode (start, pause, stop).

use crate::concurrency::{finish, signal, spawn, wait_for};
use crate::run::Shop;

#[test]
fn a_cycle_starts_pauses_and_stops_in_order_with_one_report() {
    let shop = Shop::new(1, "stopped");
    let (code, out, err) = shop.tierctl(&["run", "cycle", "Shop", "--pause", "2s", "-o", "json"]);
    // The web instance with the override file is bypassed at the stop: exit 3.
    assert_eq!(code, 3, "{out}{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    crate::support::assert_conforms("cycle-output", &doc);
    let phases = doc["phases"].as_array().unwrap();
    assert_eq!(phases.len(), 2);
    assert_eq!(phases[0]["report"]["action"], "start");
    assert_eq!(phases[1]["report"]["action"], "stop");
    assert!(doc["pausedMs"].as_u64().unwrap() >= 2000, "{doc}");
    assert_eq!(doc["exitCode"], 3);
    assert_eq!(phases[0]["exitCode"], 0);
    // Start order db -> app -> web, then stop order web -> app -> db, the pause between.
    let starts = shop.calls("StartInstances");
    let stops = shop.calls("StopInstances");
    assert_eq!(starts.len(), 3, "{starts:?}");
    let last_start = starts.iter().map(|(t, _)| *t).fold(0.0, f64::max);
    let first_stop = stops.iter().map(|(t, _)| *t).fold(f64::MAX, f64::min);
    assert!(
        first_stop - last_start >= 2.0,
        "paused between: {last_start} {first_stop}"
    );
    assert_eq!(starts[0].1, shop.db);
    let mut web = starts[2].1.clone();
    web.sort();
    let mut want = shop.web.clone();
    want.sort();
    assert_eq!(web, want);
    // The web instance with the override file stays up; the rest is stopped again.
    let states = shop.states();
    assert_eq!(states[&shop.db[0]], "stopped");
    assert_eq!(states[&shop.app[0]], "stopped");
    assert_eq!(
        phases[1]["exitCode"], 3,
        "the override bypass is the stop's"
    );
}

#[test]
fn a_dry_cycle_changes_nothing_and_does_not_pause() {
    let shop = Shop::new(1, "stopped");
    let started = std::time::Instant::now();
    let (code, out, err) = shop.tierctl(&["run", "cycle", "Shop", "--pause", "1h", "--dry-run"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(started.elapsed().as_secs() < 60, "no pause in a dry run");
    assert!(out.contains("cycle: start exit 0"), "{out}");
    assert!(shop.states().values().all(|s| s == "stopped"));
    let (code, _, err) = shop.tierctl(&["run", "stop", "Shop", "--pause", "5"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("--pause goes with `run cycle`"), "{err}");
    let (code, _, err) = shop.tierctl(&["run", "cycle", "Shop", "--pause", "25h"]);
    assert_eq!(code, 1, "{err}");
}

#[test]
fn sigterm_during_the_pause_ends_the_cycle_without_stopping() {
    let shop = Shop::new(1, "stopped");
    let child = spawn(&shop, &["run", "cycle", "Shop", "--pause", "60"]);
    wait_for("the start", || shop.calls("StartInstances").len() == 3);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    signal(&child, "-TERM");
    let (code, out, err) = finish(child);
    assert_eq!(code, 143, "{out}{err}");
    assert!(out.contains("the workload was not stopped again"), "{out}");
    assert!(shop.calls("StopInstances").is_empty());
}
