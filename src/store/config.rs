//! Workloads read from the configuration tables, each through the same
//! checks as a YAML file ([`crate::validate::check_workload`]): a workload
//! whose items do not parse or do not pass is refused with an error naming
//! the table, the `SpecName` (and `TierTagValue`) and the attribute; the
//! others are returned. Pure: works on items already read.

use std::fmt;

use serde::Serialize;

use super::diff::{Current, TableNames};
use super::item::{self, Item, ItemError};
use crate::spec::Workload;
use crate::validate::{self, Diagnostic, Severity};

/// A workload of the tables that tierctl will not act on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Refusal {
    /// The table holding the bad item.
    pub table: String,
    /// The workload (`SpecName`).
    pub spec_name: String,
    /// The tier item (`TierTagValue`), when the problem is in one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    /// The attribute, e.g. `TierStop.TierStopOverrideFilename`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attribute: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = crate::text::plain(&self.spec_name);
        write!(f, "{} item SpecName `{name}`", self.table)?;
        if let Some(t) = &self.tier {
            write!(f, ", TierTagValue `{}`", crate::text::plain(t))?;
        }
        if let Some(a) = &self.attribute {
            write!(f, ": attribute `{}`", crate::text::plain(a))?;
        }
        write!(f, ": {}", self.message)
    }
}

/// The tables' workloads, split into usable and refused.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// Workloads that passed every check, by name.
    pub workloads: Vec<Workload>,
    /// Workloads refused, with every reason (several per workload possible).
    pub refused: Vec<Refusal>,
    /// Warnings about usable workloads (unknown attributes, legacy values).
    pub warnings: Vec<String>,
}

impl Loaded {
    /// Names of the refused workloads, once each.
    pub fn refused_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.refused.iter().map(|r| r.spec_name.clone()).collect();
        names.dedup();
        names
    }
}

/// Reads and checks every workload of `current`.
pub fn load(current: &Current, names: &TableNames) -> Loaded {
    let mut out = Loaded::default();
    for spec in current.names() {
        match read_one(current, names, &spec) {
            Ok((w, warnings)) => {
                out.workloads.push(w);
                out.warnings.extend(warnings);
            }
            Err(refusals) => out.refused.extend(refusals),
        }
    }
    out.refused.sort();
    out
}

/// Reads and checks one workload: the workload, with warnings, or why it is refused.
pub fn read_one(
    current: &Current,
    names: &TableNames,
    spec: &str,
) -> Result<(Workload, Vec<String>), Vec<Refusal>> {
    let Some(witem) = current.workloads.get(spec) else {
        return Err(vec![Refusal {
            table: names.workload.clone(),
            spec_name: spec.to_string(),
            tier: None,
            attribute: None,
            message: format!("no workload item, but {} has tier items for it", names.tier),
        }]);
    };
    let tiers: Vec<Item> = current
        .tiers
        .get(spec)
        .map(|t| t.values().cloned().collect())
        .unwrap_or_default();
    let imported = item::from_items(witem, &tiers).map_err(|e| vec![from_item_error(&e, names)])?;
    let w = imported.workload;
    let origin = format!("{} item {spec}", names.workload);
    let diags = validate::check_workload(&w, &origin);
    let errors: Vec<Refusal> = diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| from_diagnostic(&w, d, names))
        .collect();
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut warnings: Vec<String> = imported.unknown.iter().map(|u| u.to_string()).collect();
    warnings.extend(
        diags
            .iter()
            .map(|d| from_diagnostic(&w, d, names).to_string()),
    );
    Ok((w, warnings))
}

/// A reading error as a refusal.
pub fn from_item_error(e: &ItemError, names: &TableNames) -> Refusal {
    let table = |logical: &str| {
        if logical == item::TIER_TABLE {
            names.tier.clone()
        } else {
            names.workload.clone()
        }
    };
    let split = |key: &str| -> (String, Option<String>) {
        match key.split_once('/') {
            Some((s, t)) => (s.to_string(), Some(t.to_string())),
            None => (key.to_string(), None),
        }
    };
    // The refusal of an attribute of the item at `key` in logical table `t`.
    let at = |t: &str, key: &str, attribute: &str, message: String| {
        let (spec_name, tier) = split(key);
        Refusal {
            table: table(t),
            spec_name,
            tier,
            attribute: Some(attribute.to_string()),
            message,
        }
    };
    match e {
        ItemError::Missing {
            table: t,
            key,
            attribute,
            expected,
        } => at(t, key, attribute, format!("missing; expected {expected}")),
        ItemError::WrongType {
            table: t,
            key,
            attribute,
            found,
            expected,
        } => at(
            t,
            key,
            attribute,
            format!("is of DynamoDB type {found}; expected {expected}"),
        ),
        ItemError::Invalid {
            table: t,
            key,
            attribute,
            value,
            expected,
        } => at(
            t,
            key,
            attribute,
            format!("is {}; expected {expected}", crate::text::quoted(value)),
        ),
        ItemError::Unpaired {
            table: t,
            key,
            attribute,
            missing,
        } => at(
            t,
            key,
            attribute,
            format!("is set but `{missing}` is not; expected both or neither"),
        ),
        ItemError::ForeignTier {
            tier,
            found,
            expected,
        } => Refusal {
            table: names.tier.clone(),
            spec_name: expected.clone(),
            tier: Some(tier.clone()),
            attribute: Some(item::TierItem::SPEC_NAME.into()),
            message: format!("is `{}`; expected `{expected}`", crate::text::plain(found)),
        },
        ItemError::DuplicateTier { key } => {
            let (spec_name, tier) = split(key);
            Refusal {
                table: names.tier.clone(),
                spec_name,
                tier,
                attribute: Some(item::TierItem::TIER_TAG_VALUE.into()),
                message: "appears on two items; expected one item per tier".into(),
            }
        }
    }
}

/// A finding on the typed workload, pointed back at its table, item and attribute.
pub fn from_diagnostic(w: &Workload, d: &Diagnostic, names: &TableNames) -> Refusal {
    let (tier, attribute) = attribute_of(w, &d.path);
    Refusal {
        table: if tier.is_some() {
            names.tier.clone()
        } else {
            names.workload.clone()
        },
        spec_name: w.name.clone(),
        tier,
        attribute,
        message: if d.path == "tiers" && w.tiers.is_empty() {
            format!(
                "has no tier items in {}; a workload needs at least one",
                names.tier
            )
        } else if d.severity == Severity::Warning {
            format!("warning: {}", d.message)
        } else {
            d.message.clone()
        },
    }
}

/// The tier and attribute a spec field path (`tiers[0].stop.override.file`) is stored in.
pub fn attribute_of(w: &Workload, path: &str) -> (Option<String>, Option<String>) {
    use item::{TierItem as T, TierStart, TierStop, WorkloadItem as W};
    let top = |a: &str| (None, Some(a.to_string()));
    if let Some(rest) = path.strip_prefix("tiers[") {
        let (index, field) = rest.split_once(']').unwrap_or((rest, ""));
        let tier = index
            .parse::<usize>()
            .ok()
            .and_then(|i| w.tiers.get(i))
            .map(|t| t.name.clone());
        let field = field.trim_start_matches('.');
        let (block, inner) = field.split_once('.').unwrap_or((field, ""));
        let attribute = match (block, inner) {
            ("name", _) => Some(T::TIER_TAG_VALUE.to_string()),
            ("stop", "") => Some(T::TIER_STOP.to_string()),
            ("start", "") => Some(T::TIER_START.to_string()),
            ("stop" | "start", inner) => {
                let map = if block == "stop" {
                    T::TIER_STOP
                } else {
                    T::TIER_START
                };
                let attr = match inner {
                    "sequence" => TierStop::TIER_SEQUENCE,
                    "synchronous" => TierStop::TIER_SYNCHRONIZATION,
                    "delaySeconds" => TierStop::INTER_TIER_ORCHESTRATION_DELAY,
                    "override.file" | "override" => TierStop::TIER_STOP_OVERRIDE_FILENAME,
                    "override.os" => TierStop::TIER_STOP_OVERRIDE_OPERATING_SYSTEM,
                    "reregisterLoadBalancers" => TierStart::TIERCTL_REREGISTER_LOAD_BALANCERS,
                    "waitHealthy" => TierStart::TIERCTL_WAIT_HEALTHY,
                    "healthTimeoutSeconds" => TierStart::TIERCTL_HEALTH_TIMEOUT,
                    other => other,
                };
                Some(format!("{map}.{attr}"))
            }
            ("scaling", "") => Some(T::TIER_SCALING.to_string()),
            ("scaling", profile) => Some(format!("{}.{profile}", T::TIER_SCALING)),
            ("", _) => None,
            (other, _) => Some(other.to_string()),
        };
        return (tier, attribute);
    }
    match path {
        "name" => top(W::SPEC_NAME),
        "region" => top(W::WORKLOAD_REGION),
        "disabled" => top(W::DISABLE_ALL_SCHEDULING_ACTIONS),
        "selector.workloadTag.key" => top(W::WORKLOAD_FILTER_TAG_NAME),
        "selector.workloadTag.value" => top(W::WORKLOAD_FILTER_TAG_VALUE),
        "selector.tierTagKey" => top(W::TIER_FILTER_TAG_NAME),
        "selector.vpcId" | "selector" => top(W::VPC_ID),
        "notify.snsTopic" => top(W::SNS_TOPIC_NAME),
        "ssm.outputBucket" => top(W::SSM_S3_BUCKET_NAME),
        "ssm.outputKeyPrefix" => top(W::SSM_S3_KEY_PREFIX_NAME),
        "scaleInstanceDelaySeconds" => top(W::SCALE_INSTANCE_DELAY),
        "tiers" => (None, None),
        "" => (None, None),
        other => top(other),
    }
}

/// Whether `name` can be a file name in `--out` as is: a valid workload
/// name (letters, digits, `_`, `-`, `.`, starting with a letter or digit),
/// so never `..`, a separator, a control character or a device.
pub fn is_safe_file_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
        && !name.contains("..")
        && !{
            let stem = name.split('.').next().unwrap_or_default();
            ["CON", "PRN", "AUX", "NUL"]
                .iter()
                .any(|d| d.eq_ignore_ascii_case(stem))
                || ((stem.len() == 4)
                    && (stem[..3].eq_ignore_ascii_case("COM")
                        || stem[..3].eq_ignore_ascii_case("LPT"))
                    && stem.as_bytes()[3].is_ascii_digit())
        }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::AttributeValue;

    fn names() -> TableNames {
        TableNames {
            workload: "WL".into(),
            tier: "TL".into(),
        }
    }

    fn s(v: &str) -> AttributeValue {
        AttributeValue::S(v.into())
    }

    fn workload_item(name: &str) -> Item {
        [
            ("SpecName", s(name)),
            ("WorkloadRegion", s("us-west-2")),
            ("WorkloadFilterTagName", s("App")),
            ("WorkloadFilterTagValue", s("shop")),
            ("TierFilterTagName", s("Role")),
            ("VPC_ID", s("vpc-0123abcd")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    fn tier_item(name: &str, tier: &str, stop: &[(&str, AttributeValue)]) -> Item {
        let stop: std::collections::HashMap<String, AttributeValue> = stop
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        [
            ("SpecName", s(name)),
            ("TierTagValue", s(tier)),
            ("TierStop", AttributeValue::M(stop)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    fn current(items: Vec<(Item, Vec<Item>)>) -> Current {
        let (w, t): (Vec<Item>, Vec<Vec<Item>>) = items.into_iter().unzip();
        Current::from_items(w, t.into_iter().flatten().collect())
    }

    fn refusal_for(stop: &[(&str, AttributeValue)]) -> String {
        let c = current(vec![
            (
                workload_item("Good"),
                vec![tier_item("Good", "web", &[("TierSequence", s("0"))])],
            ),
            (workload_item("Bad"), vec![tier_item("Bad", "web", stop)]),
        ]);
        let loaded = load(&c, &names());
        assert_eq!(
            loaded
                .workloads
                .iter()
                .map(|w| w.name.as_str())
                .collect::<Vec<_>>(),
            ["Good"],
            "{:?}",
            loaded.refused
        );
        assert!(!loaded.refused.is_empty());
        assert!(loaded.refused.iter().all(|r| r.spec_name == "Bad"));
        loaded.refused[0].to_string()
    }

    #[test]
    fn each_bad_item_refuses_only_its_workload_naming_table_item_and_attribute() {
        let seq = ("TierSequence", s("0"));
        let os = ("TierStopOverrideOperatingSystem", s("Linux"));
        let win = ("TierStopOverrideOperatingSystem", s("Windows"));
        let file = |f: &str| ("TierStopOverrideFilename", s(f));
        for (stop, want) in [
            (
                vec![seq.clone(), file("tmp/keep"), os.clone()],
                "absolute Linux",
            ),
            (vec![seq.clone(), file("/tmp/{{ssm:x}}"), os.clone()], "`{`"),
            (
                vec![seq.clone(), file("/tmp/../etc/keep"), os.clone()],
                "`..`",
            ),
            (vec![seq.clone(), file("\\\\host\\share\\keep"), win], "UNC"),
            (
                vec![seq.clone(), ("InterTierOrchestrationDelay", s("-5"))],
                "non-negative",
            ),
            (
                vec![
                    seq.clone(),
                    ("InterTierOrchestrationDelay", s("4294967295")),
                ],
                "maximum",
            ),
            (vec![("TierSequence", s("zero"))], "\"zero\""),
        ] {
            let r = refusal_for(&stop);
            assert!(
                r.starts_with("TL item SpecName `Bad`, TierTagValue `web`: attribute `TierStop."),
                "{r}"
            );
            assert!(r.contains(want), "{want}: {r}");
        }
    }

    #[test]
    fn bad_names_and_kill_switch_are_refused() {
        let mut w = workload_item("Bad");
        w.insert(
            "DisableAllSchedulingActions".into(),
            AttributeValue::Bool(true),
        );
        let web = |n: &str| vec![tier_item(n, "web", &[("TierSequence", s("0"))])];
        let c = current(vec![(workload_item("Good"), web("Good")), (w, web("Bad"))]);
        let loaded = load(&c, &names());
        assert_eq!(loaded.workloads.len(), 1);
        let r = loaded.refused[0].to_string();
        assert!(
            r.starts_with("WL item SpecName `Bad`: attribute `DisableAllSchedulingActions`"),
            "{r}"
        );

        let c = current(vec![(workload_item("../x"), web("../x"))]);
        let loaded = load(&c, &names());
        assert!(loaded.workloads.is_empty());
        let r = loaded.refused[0].to_string();
        assert!(
            r.contains("attribute `SpecName`") && r.contains("workload name"),
            "{r}"
        );
    }

    #[test]
    fn legacy_bucket_is_a_warning() {
        let mut w = workload_item("Legacy");
        w.insert("SSMS3BucketName".into(), s("myBucketName"));
        let t = vec![tier_item("Legacy", "web", &[("TierSequence", s("0"))])];
        let loaded = load(&current(vec![(w, t)]), &names());
        assert_eq!(loaded.workloads.len(), 1, "{:?}", loaded.refused);
        assert!(
            loaded
                .warnings
                .iter()
                .any(|m| m.contains("legacy S3 bucket name")),
            "{:?}",
            loaded.warnings
        );
    }

    #[test]
    fn safe_file_names() {
        for ok in ["Shop", "a.b-c_d", "BotoTestCase1"] {
            assert!(is_safe_file_name(ok), "{ok}");
        }
        for bad in [
            "../x", "a/b", "..", ".hidden", "a\nb", "NUL", "com1.x", "", "a..b", "C:x",
        ] {
            assert!(!is_safe_file_name(bad), "{bad:?}");
        }
    }
}
