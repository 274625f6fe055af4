//! tierctl's SSM Command document ([`crate::guest::DOCUMENT`]) as `sync`
//! manages it, one per region that has a workload with an override file.
//! Pure: what the document should be and what to do about what is there;
//! the calls are in `aws::ssm`, the orchestration in `pipeline::document`.
//!
//! The content's SHA-256 (computed over the content with the plain
//! description) is written at the end of the document's description, which
//! `DescribeDocument` returns: a sync that finds the same hash writes nothing.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::guest;

/// The description's text before the hash.
pub const DESCRIPTION: &str = "tierctl override check: prints whether one file exists; read only";
/// What precedes the hash in the description.
pub const HASH_TAG: &str = "tierctl-content-sha256:";

/// The document tierctl wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    /// The document name.
    pub name: &'static str,
    /// JSON content (schema 2.2), with the hash in its description.
    pub content: String,
    /// SHA-256 (hex) of the content with the plain description.
    pub hash: String,
}

/// The document that tierctl writes.
pub fn desired() -> Desired {
    let plain = serde_json::to_string_pretty(&guest::document_content(DESCRIPTION))
        .expect("the document serialises");
    let hash = hex(&Sha256::digest(plain.as_bytes()));
    let content = serde_json::to_string_pretty(&guest::document_content(&described(&hash)))
        .expect("the document serialises");
    Desired {
        name: guest::DOCUMENT,
        content,
        hash,
    }
}

/// The description that carries `hash`.
pub fn described(hash: &str) -> String {
    format!("{DESCRIPTION} ({HASH_TAG}{hash})")
}

/// The hash in a description tierctl wrote, if any.
pub fn hash_of(description: &str) -> Option<&str> {
    let (_, rest) = description.rsplit_once(HASH_TAG)?;
    let hash = rest.strip_suffix(')')?;
    (hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit())).then_some(hash)
}

/// What `DescribeDocument` says about the document in one region.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Observed {
    /// `Description` (from the content).
    pub description: Option<String>,
    /// `DocumentType` (`Command`, ...).
    pub document_type: Option<String>,
    /// `DefaultVersion`.
    pub default_version: Option<String>,
    /// `LatestVersion`.
    pub latest_version: Option<String>,
}

/// What `sync` does about the document in one region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", tag = "action")]
pub enum Action {
    /// Nothing: the default version has this content.
    UpToDate,
    /// `CreateDocument`.
    Create,
    /// `UpdateDocument`, then make the new version the default.
    Update,
    /// A document of that name that is no Command document: refuse to touch it.
    Conflict {
        /// Why.
        reason: String,
    },
}

impl Action {
    /// Whether the action writes to SSM.
    pub fn writes(&self) -> bool {
        matches!(self, Action::Create | Action::Update)
    }
}

/// What to do, given what is there.
///
/// `DescribeDocument` describes the default version, the one `SendCommand`
/// runs: its hash is what counts. (An update whose new version did not
/// become the default is finished by the apply step.)
pub fn decide(desired: &Desired, observed: Option<&Observed>) -> Action {
    let Some(o) = observed else {
        return Action::Create;
    };
    if let Some(t) = o.document_type.as_deref().filter(|t| *t != "Command") {
        return Action::Conflict {
            reason: format!(
                "an SSM document named {} exists with type {t}, not Command",
                desired.name
            ),
        };
    }
    let same = o
        .description
        .as_deref()
        .and_then(hash_of)
        .is_some_and(|h| h.eq_ignore_ascii_case(&desired.hash));
    if same {
        Action::UpToDate
    } else {
        Action::Update
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observed(description: &str) -> Observed {
        Observed {
            description: Some(description.into()),
            document_type: Some("Command".into()),
            default_version: Some("1".into()),
            latest_version: Some("1".into()),
        }
    }

    #[test]
    fn the_hash_travels_in_the_description() {
        let d = desired();
        let content: serde_json::Value = serde_json::from_str(&d.content).unwrap();
        let description = content["description"].as_str().unwrap();
        assert_eq!(hash_of(description), Some(d.hash.as_str()));
        assert_eq!(d.name, "tierctl-OverrideCheck");
        assert_eq!(desired(), d, "deterministic");
    }

    #[test]
    fn decisions() {
        let d = desired();
        assert_eq!(decide(&d, None), Action::Create);
        assert_eq!(
            decide(&d, Some(&observed(&described(&d.hash)))),
            Action::UpToDate
        );
        assert_eq!(
            decide(&d, Some(&observed(&described(&"0".repeat(64))))),
            Action::Update
        );
        assert_eq!(
            decide(&d, Some(&observed("someone's document"))),
            Action::Update
        );
        assert_eq!(decide(&d, Some(&Observed::default())), Action::Update);
        let mut automation = observed("x");
        automation.document_type = Some("Automation".into());
        assert!(matches!(
            decide(&d, Some(&automation)),
            Action::Conflict { .. }
        ));
        assert!(!Action::UpToDate.writes());
        assert!(Action::Create.writes());
    }

    #[test]
    fn hash_parsing_is_strict() {
        assert_eq!(hash_of("x (tierctl-content-sha256:abc)"), None);
        let h = "a".repeat(64);
        assert_eq!(hash_of(&described(&h)), Some(h.as_str()));
        assert_eq!(hash_of(&format!("{HASH_TAG}{h}")), None);
    }
}
