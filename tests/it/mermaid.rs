//! The plan's Mermaid flowcharts are accepted by Mermaid's own parser
//! (`tests/mermaid/check.mjs`, under Node with jsdom), names of every kind
//! included. Skipped, with a message, where Node or the packages are missing
//! (`make test` installs them with `npm ci`).

use std::path::Path;
use std::process::Command;

use crate::support::repo_root;

fn checker() -> Option<std::path::PathBuf> {
    let dir = repo_root().join("tests/mermaid");
    if !dir.join("node_modules/mermaid").is_dir() {
        eprintln!(
            "skipped: tests/mermaid/node_modules missing (run `npm ci --prefix tests/mermaid`)"
        );
        return None;
    }
    if Command::new("node").arg("--version").output().is_err() {
        eprintln!("skipped: node not found");
        return None;
    }
    Some(dir.join("check.mjs"))
}

fn check(files: &[&Path]) -> (bool, String) {
    let script = checker().expect("checked by the caller");
    let out = Command::new("node")
        .arg(script)
        .args(files)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn flowcharts_with_hostile_names_parse() {
    if checker().is_none() {
        return;
    }
    let names = [
        "web",
        "a\"]-->b[\"c",
        "`code` and ```fence```",
        "<script>alert(1)</script>",
        "50% #hash; &amp; %%comment",
        "line\nbreak\u{1b}[31m",
        "tab\tand ümlaut 名前 🚀",
        "end",
        "subgraph",
    ];
    let tiers: Vec<serde_json::Value> = names
        .iter()
        .map(|n| {
            serde_json::json!({"name": n, "synchronous": true, "steps": [
                {"step": "stop", "batches": [["i-1", "i-2"]]},
                {"step": "waitHealthy", "targetGroups": {}, "instances": ["i-1"], "timeoutSeconds": 60}
            ]})
        })
        .collect();
    let waves: Vec<serde_json::Value> = tiers
        .chunks(3)
        .enumerate()
        .map(|(i, t)| serde_json::json!({"sequence": i, "tiers": t}))
        .collect();
    let w: tierctl::plan::WorkloadPlan = serde_json::from_value(serde_json::json!({
        "name": "W\"]; click w0 call x()", "region": "us-west-2", "observed": true, "waves": waves
    }))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hostile.md");
    std::fs::write(
        &file,
        format!(
            "```mermaid\n{}```\n",
            tierctl::mermaid::flowchart(0, &w, "stop")
        ),
    )
    .unwrap();
    let (ok, out) = check(&[&file]);
    assert!(ok, "{out}");
    assert!(out.contains("1 diagram(s), 0 rejected"), "{out}");

    // The checker does reject a broken diagram.
    let bad = dir.path().join("bad.md");
    std::fs::write(&bad, "```mermaid\nflowchart TD\n  a[\"x\"] --> [b\n```\n").unwrap();
    let (ok, out) = check(&[&bad]);
    assert!(!ok, "{out}");
}

#[test]
fn the_committed_plan_markdown_snapshots_parse() {
    if checker().is_none() {
        return;
    }
    let snaps = repo_root().join("tests/it/snapshots");
    let files: Vec<std::path::PathBuf> = std::fs::read_dir(&snaps)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| std::fs::read_to_string(p).is_ok_and(|t| t.contains("```mermaid")))
        .collect();
    assert!(!files.is_empty(), "a plan markdown snapshot has a diagram");
    let refs: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
    let (ok, out) = check(&refs);
    assert!(ok, "{out}");
}
