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
