//! Snapshots of what people and scripts read, for every command that talks
//! to AWS: the run report (text, JSON), the sync diff (text, JSON,
//! markdown), import and iam-policy. Instance ids (random in the emulator),
//! temporary paths and times are redacted so the snapshots are stable.

use serde_json::Value;

use crate::run::Shop;
use crate::support::{assert_conforms, repo_root, run, tierctl};

/// Replaces each instance id by `<tier>-i` (the emulator's ids are random,
/// and lists are sorted by id, so a rank would not be stable either), the
/// temp dir by `[specs]`, and `N.Ns` durations by `[t]`.
fn redact(shop: &Shop, text: &str) -> String {
    let mut out = text.replace(shop.specs(), "[specs]");
    for (tier, ids) in [("web", &shop.web), ("app", &shop.app), ("db", &shop.db)] {
        for id in ids {
            out = out.replace(id.as_str(), &format!("{tier}-i"));
        }
    }
    durations(&out)
}

/// `12.3s` -> `[t]` (run reports say how long things took).
fn durations(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i > start
            && i + 2 < b.len()
            && b[i] == b'.'
            && b[i + 1].is_ascii_digit()
            && b[i + 2] == b's'
            && (start == 0 || !b[start - 1].is_ascii_alphanumeric())
        {
            out.push_str("[t]");
            i += 3;
            continue;
        }
        if i > start {
            out.push_str(&text[start..i]);
        } else {
            out.push(text[i..].chars().next().unwrap());
            i += text[i..].chars().next().unwrap().len_utf8();
        }
    }
    out
}

/// Zeroes the timing fields of a JSON document.
fn untimed(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if k == "elapsedMs" || k == "atMs" {
                    *x = Value::from(0);
                } else if k == "launchTime" {
                    *x = Value::from("[time]");
                } else {
                    untimed(x);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(untimed),
        _ => {}
    }
}

#[test]
fn run_report_text_and_json() {
    let shop = Shop::new(2, "running");
    let (code, out, err) = shop.tierctl(&["run", "stop", "Shop"]);
    assert_eq!(code, 3, "{err}");
    insta::assert_snapshot!("run_stop_text", redact(&shop, &out));

    std::thread::sleep(std::time::Duration::from_millis(700));
    let (code, out, err) = shop.tierctl(&["-o", "json", "run", "start", "Shop"]);
    assert_eq!(code, 0, "{err}");
    let mut doc: Value = serde_json::from_str(&out).unwrap();
    assert_conforms("run-output", &doc);
    untimed(&mut doc);
    // Outcomes are sorted by instance id: once ids are redacted, sort by content.
    let mut doc: Value =
        serde_json::from_str(&redact(&shop, &serde_json::to_string(&doc).unwrap())).unwrap();
    for w in doc["report"]["workloads"].as_array_mut().unwrap() {
        w["outcomes"]
            .as_array_mut()
            .unwrap()
            .sort_by_key(|o| o.to_string());
    }
    insta::assert_snapshot!(
        "run_start_json",
        serde_json::to_string_pretty(&doc).unwrap()
    );
}

#[test]
fn sync_and_import_outputs() {
    let shop = Shop::new(1, "running");
    for (name, args) in [
        ("sync_check_text", vec!["sync", "--check"]),
        ("sync_check_json", vec!["-o", "json", "sync", "--check"]),
        (
            "sync_check_markdown",
            vec!["-o", "markdown", "sync", "--check"],
        ),
        ("sync_apply_text", vec!["sync"]),
        ("sync_noop_json", vec!["-o", "json", "sync"]),
    ] {
        let (_, out, err) = shop.tierctl(&args);
        assert!(!out.is_empty(), "{name}: {err}");
        insta::assert_snapshot!(name, redact(&shop, &out));
    }
    let out_dir = shop.dir.path().join("imported");
    let out_arg = out_dir.to_str().unwrap().to_string();
    let (code, out, err) = shop.tierctl(&["import", "--all", "--out", &out_arg]);
    assert_eq!(code, 0, "{err}");
    insta::assert_snapshot!("import_text", redact(&shop, &out));
    let (code, out, err) = shop.tierctl(&["-o", "json", "import", "--all", "--out", &out_arg]);
    assert_eq!(code, 0, "{err}");
    insta::assert_snapshot!("import_json", redact(&shop, &out));
}

#[test]
fn iam_policy_of_the_examples() {
    let (code, out, err) = run(tierctl().args(["iam-policy", "--account", "123456789012"]));
    assert_eq!(code, 0, "{err}");
    insta::assert_snapshot!("iam_policy_examples", out);
    let (code, out, _) = run(tierctl().args(["iam-policy", "--for", "plan"]));
    assert_eq!(code, 0);
    insta::assert_snapshot!("iam_policy_plan", out);
    let _ = repo_root();
}
