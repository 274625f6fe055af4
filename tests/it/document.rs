//! `tierctl sync` manages tierctl's SSM document (`tierctl-OverrideCheck`):
//! created when missing, updated when its content hash differs, left alone
//! (not one SSM write) when it matches.

use serde_json::Value;

use crate::support::emulator::{Emulator, REGION};
use crate::support::run;

const ORIGINAL: &str = "tests/fixtures/original";
const WRITES: [&str; 3] = [
    "CreateDocument",
    "UpdateDocument",
    "UpdateDocumentDefaultVersion",
];

fn ssm_writes(emu: &Emulator) -> usize {
    WRITES
        .iter()
        .map(|a| emu.calls(&format!("service=ssm&action={a}")).len())
        .sum()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn describe(emu: &Emulator) -> (String, String, String) {
    rt().block_on(async {
        let ssm = aws_sdk_ssm::Client::new(&emu.sdk_config().await);
        let d = ssm
            .describe_document()
            .name("tierctl-OverrideCheck")
            .send()
            .await
            .unwrap();
        let d = d.document().unwrap();
        (
            d.description().unwrap_or_default().to_string(),
            d.default_version().unwrap_or_default().to_string(),
            d.latest_version().unwrap_or_default().to_string(),
        )
    })
}

#[test]
fn sync_creates_updates_and_then_leaves_the_document_alone() {
    let emu = Emulator::start();
    // --check before anything exists: drift, nothing written.
    let (code, out, err) = run(emu.tierctl().args(["--specs", ORIGINAL, "sync", "--check"]));
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        out.contains(&format!(
            "SSM document tierctl-OverrideCheck in {REGION}: would be created"
        )),
        "{out}"
    );
    assert_eq!(ssm_writes(&emu), 0);

    let (code, out, err) = run(emu.tierctl().args(["--specs", ORIGINAL, "sync"]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("tierctl-OverrideCheck in us-west-2: created"),
        "{out}"
    );
    let created = emu.calls("service=ssm&action=CreateDocument");
    assert_eq!(created.len(), 1);
    let content: Value =
        serde_json::from_str(created[0]["params"]["Content"].as_str().unwrap()).unwrap();
    assert_eq!(content["schemaVersion"], "2.2");
    assert_eq!(
        content["parameters"].as_object().unwrap().len(),
        1,
        "the path is the only parameter"
    );
    let (description, default, _) = describe(&emu);
    let want = tierctl::store::document::desired();
    assert_eq!(
        tierctl::store::document::hash_of(&description),
        Some(want.hash.as_str())
    );
    assert_eq!(default, "1");

    // A no-op sync: not one SSM write (and no DynamoDB write either).
    emu.clear_calls();
    let (code, out, err) = run(emu.tierctl().args(["--specs", ORIGINAL, "sync"]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("No changes"), "{out}");
    assert_eq!(ssm_writes(&emu), 0, "{:?}", emu.counts());
    assert_eq!(
        emu.calls("service=ssm&action=DescribeDocument").len(),
        1,
        "one read per region"
    );
    let (code, out, _) = run(emu.tierctl().args(["--specs", ORIGINAL, "sync", "--check"]));
    assert_eq!(code, 0, "{out}");

    // Someone edits the document (e.g. the original's script): sync puts tierctl's back.
    rt().block_on(async {
        let ssm = aws_sdk_ssm::Client::new(&emu.sdk_config().await);
        let mut edited: Value = serde_json::from_str(&want.content).unwrap();
        edited["description"] = "edited by hand".into();
        let v = ssm
            .update_document()
            .name("tierctl-OverrideCheck")
            .content(edited.to_string())
            .document_version("$LATEST")
            .send()
            .await
            .unwrap();
        let v = v
            .document_description()
            .unwrap()
            .document_version()
            .unwrap();
        ssm.update_document_default_version()
            .name("tierctl-OverrideCheck")
            .document_version(v)
            .send()
            .await
            .unwrap();
    });
    let (code, out, _) = run(emu
        .tierctl()
        .args(["--specs", ORIGINAL, "-o", "json", "sync", "--check"]));
    assert_eq!(code, 2, "{out}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["documents"][0]["action"], "update", "{doc:#}");
    assert_eq!(doc["documents"][0]["region"], REGION);
    emu.clear_calls();
    let (code, out, err) = run(emu.tierctl().args(["--specs", ORIGINAL, "sync"]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("updated (content changed)"), "{out}");
    assert_eq!(emu.calls("service=ssm&action=UpdateDocument").len(), 1);
    let (description, default, latest) = describe(&emu);
    assert_eq!(
        tierctl::store::document::hash_of(&description),
        Some(want.hash.as_str())
    );
    assert_eq!((default.as_str(), latest.as_str()), ("3", "3"));
}

/// A run stop: a file behind an unreadable directory and a dangling link
/// are not "absent": those instances keep running, held back with the
/// guest's reason, exactly like any other unsure answer.
#[test]
fn unreadable_and_dangling_override_files_are_not_stopped() {
    let shop = crate::run::Shop::new(1, "running");
    let guest = |state: &str| {
        serde_json::json!({"os": "linux", "latencyMs": 50,
                           "files": [{"path": "/tmp/keep", "state": state}]})
    };
    shop.emu.admin(
        "PUT",
        &format!("guests/{}", shop.web[1]),
        Some(guest("unreadable")),
    );
    shop.emu.admin(
        "PUT",
        &format!("guests/{}", shop.web[2]),
        Some(guest("dangling")),
    );
    let (code, out, err) = shop.tierctl(&["run", "stop", "Shop"]);
    assert_eq!(code, 3, "{out}{err}");
    let states = shop.states();
    for id in &shop.web {
        assert_eq!(states[id], "running", "{id}: {out}");
    }
    assert!(out.contains("Permission denied"), "{out}");
    assert!(out.contains("dangling symbolic link"), "{out}");
    let stops = shop.calls("StopInstances");
    for (_, ids) in &stops {
        for id in &shop.web {
            assert!(!ids.contains(id), "{id} was stopped: {stops:?}");
        }
    }
}
