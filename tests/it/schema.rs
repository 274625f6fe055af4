//! The committed JSON Schema is generated from the types and checked for drift.

use crate::support::{repo_root, run, tierctl, tierctl_in};

#[test]
fn committed_schema_matches_the_types() {
    let committed = std::fs::read_to_string(repo_root().join("schema/workload.schema.json"))
        .expect("schema/workload.schema.json is committed");
    let (code, generated, _) = run(tierctl().args(["schema", "--stdout"]));
    assert_eq!(code, 0);
    assert_eq!(
        committed, generated,
        "schema drift: run `tierctl schema` and commit"
    );
    let (code, out, err) = run(tierctl().args(["schema", "--check"]));
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn check_fails_on_a_stale_or_missing_schema_and_writing_fixes_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("schema/workload.schema.json");
    let (code, _, err) = run(tierctl_in(dir.path()).args(["schema", "--check"]));
    assert_eq!(code, 1);
    assert!(err.contains("missing"), "{err}");

    // A schema from before a type change (a field the types no longer have).
    let (_, generated, _) = run(tierctl().args(["schema", "--stdout"]));
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(
        &file,
        generated.replace("\"scaleInstanceDelaySeconds\"", "\"scaleDelay\""),
    )
    .unwrap();
    let (code, _, err) = run(tierctl_in(dir.path()).args(["schema", "--check"]));
    assert_eq!(code, 1);
    assert!(err.contains("out of date"), "{err}");

    let (code, out, _) = run(tierctl_in(dir.path()).arg("schema"));
    assert_eq!(code, 0);
    assert!(out.contains("wrote"), "{out}");
    let (code, _, _) = run(tierctl_in(dir.path()).args(["schema", "--check"]));
    assert_eq!(code, 0);
}

#[test]
fn examples_point_editors_at_the_schema() {
    for entry in std::fs::read_dir(repo_root().join("workloads")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        assert!(
            text.starts_with("# yaml-language-server: $schema=../schema/workload.schema.json"),
            "every example starts with the schema modeline"
        );
    }
}

#[test]
fn every_committed_schema_matches_the_types() {
    let (code, out, err) = run(tierctl().args(["schema", "--check"]));
    assert_eq!(code, 0, "{out}{err}");
    for name in ["workload", "plan", "plan-output", "run-output"] {
        assert!(
            out.contains(&format!("schema/{name}.schema.json is up to date")),
            "{out}"
        );
        let (code, printed, _) = run(tierctl().args(["schema", "--stdout", name]));
        assert_eq!(code, 0);
        let committed =
            std::fs::read_to_string(repo_root().join(format!("schema/{name}.schema.json")))
                .unwrap();
        assert_eq!(
            printed, committed,
            "{name}: run `tierctl schema` and commit"
        );
    }
    let (code, _, err) = run(tierctl().args(["schema", "--stdout", "nope"]));
    assert_eq!(code, 1);
    assert!(
        err.contains("known: workload, plan, plan-output, run-output"),
        "{err}"
    );
}

#[test]
fn plan_json_and_a_saved_plan_conform_to_their_schemas() {
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("p.json");
    let observed = repo_root().join("tests/fixtures/observed/running.json");
    let (code, out, err) = run(tierctl().args([
        "-o",
        "json",
        "plan",
        "stop",
        "--all",
        "--offline",
        "--observed",
        observed.to_str().unwrap(),
        "--out",
        saved.to_str().unwrap(),
    ]));
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    crate::support::assert_conforms("plan-output", &doc);
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    crate::support::assert_conforms("plan", &file);
    assert_eq!(
        file["plan"], doc["plan"],
        "the saved plan is the plan printed"
    );

    // Without instances there is nothing to execute: no saved plan.
    let (code, _, err) = run(tierctl().args([
        "plan",
        "stop",
        "--all",
        "--offline",
        "--out",
        saved.to_str().unwrap(),
    ]));
    assert_eq!(code, 1);
    assert!(err.contains("--out needs instances"), "{err}");
}
