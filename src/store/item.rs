//! The original tool's DynamoDB item format, both ways: a [`Workload`] as one
//! `WorkloadSpecification` item plus one `TierSpecification` item per tier,
//! and back. Pure data conversion, no AWS calls.
//!
//! The format is declared once, as serde structs ([`WorkloadItem`],
//! [`TierItem`] and the nested [`TierStop`] / [`TierStart`] maps) whose
//! fields carry the original's attribute names; the attribute-name constants
//! and the lists of known attributes ([`format_attributes`]) come from the
//! same declarations. [`to_items`] fills the structs and converts them with
//! `serde_dynamo`, so tierctl writes exactly the original's format: every
//! value a DynamoDB string (`S`), as the original reads them.
//!
//! [`from_items`] reads items written by hand or by the original tool:
//! lenient where the original was (numbers as `S` or `N`, `True`/`False` in
//! any case), strict where a misread value would make a run do the wrong
//! thing (sequences, delays, override pairs), and it reports attributes it
//! does not know instead of dropping them silently. Each error names the
//! table, the item's key, the attribute and the DynamoDB type or value
//! found. It reads the raw item rather than `serde_dynamo::from_item`,
//! whose errors name no attribute and no DynamoDB type, which parses an `N`
//! into a number before tierctl sees its text, and which panics on an
//! attribute type newer than it; the names it looks up and the lists of
//! known attributes are the structs' constants.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;

use crate::spec::{
    DEFAULT_SCALE_DELAY_SECONDS, DEFAULT_TIER_DELAY_SECONDS, GuestOs, MemberKind, Notify,
    OverrideFile, Selector, SsmOutput, StartAction, StopAction, TagFilter, Tier, Workload,
};

/// One DynamoDB item, as the SDK represents it: the boundary type between
/// the item structs here and `aws/dynamodb.rs`.
pub use crate::aws::dynamodb::Item;

/// Ownership marker attribute tierctl writes on every item it manages.
pub const OWNER_ATTR: &str = WorkloadItem::MANAGED_BY;
/// Value of [`OWNER_ATTR`] on items tierctl manages.
pub const OWNER_VALUE: &str = "tierctl";

/// Logical name of the workload table, used in messages.
pub const WORKLOAD_TABLE: &str = "WorkloadSpecification";
/// Logical name of the tier table, used in messages.
pub const TIER_TABLE: &str = "TierSpecification";

/// Declares one map of the item format: a serde struct with one optional
/// field per attribute, renamed to the original's attribute name, an
/// associated constant per name and [`ATTRIBUTES`](WorkloadItem::ATTRIBUTES)
/// listing them all, so every name is spelled exactly once.
macro_rules! item_format {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* $field:ident: $ty:ty => $konst:ident = $attr:tt, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        pub struct $name {
            $(
                $(#[$fmeta])*
                #[serde(rename = $attr, default, skip_serializing_if = "Option::is_none")]
                pub $field: Option<$ty>,
            )*
        }

        impl $name {
            $(
                #[doc = concat!("Attribute name `", $attr, "`.")]
                pub const $konst: &'static str = $attr;
            )*
            /// Every attribute of this map, in declaration order.
            pub const ATTRIBUTES: &'static [&'static str] = &[$($attr),*];
        }
    };
}

item_format! {
    /// A `WorkloadSpecification` item, as tierctl writes it (every value a string).
    pub struct WorkloadItem {
        /// Workload name; partition key of both tables.
        spec_name: String => SPEC_NAME = "SpecName",
        /// Region where the workload's instances run.
        workload_region: String => WORKLOAD_REGION = "WorkloadRegion",
        /// Tag key every instance of the workload carries.
        workload_filter_tag_name: String => WORKLOAD_FILTER_TAG_NAME = "WorkloadFilterTagName",
        /// Tag value every instance of the workload carries.
        workload_filter_tag_value: String => WORKLOAD_FILTER_TAG_VALUE = "WorkloadFilterTagValue",
        /// Tag key whose value names the tier.
        tier_filter_tag_name: String => TIER_FILTER_TAG_NAME = "TierFilterTagName",
        /// Optional VPC limiting discovery.
        vpc_id: String => VPC_ID = "VPC_ID",
        /// Optional SNS topic for warnings.
        sns_topic_name: String => SNS_TOPIC_NAME = "SNSTopicName",
        /// Optional S3 bucket for SSM command output.
        ssm_s3_bucket_name: String => SSM_S3_BUCKET_NAME = "SSMS3BucketName",
        /// Optional key prefix for SSM command output.
        ssm_s3_key_prefix_name: String => SSM_S3_KEY_PREFIX_NAME = "SSMS3KeyPrefixName",
        /// Kill switch: `"1"` disables every action.
        disable_all_scheduling_actions: String => DISABLE_ALL_SCHEDULING_ACTIONS = "DisableAllSchedulingActions",
        /// Seconds between a resize and the start.
        scale_instance_delay: String => SCALE_INSTANCE_DELAY = "ScaleInstanceDelay",
        /// tierctl's ownership marker.
        managed_by: String => MANAGED_BY = "ManagedBy",
    }
}

item_format! {
    /// A `TierSpecification` item, as tierctl writes it.
    pub struct TierItem {
        /// Workload name; partition key.
        spec_name: String => SPEC_NAME = "SpecName",
        /// Tier name; sort key.
        tier_tag_value: String => TIER_TAG_VALUE = "TierTagValue",
        /// The tier's stop settings.
        tier_stop: TierStop => TIER_STOP = "TierStop",
        /// The tier's start settings.
        tier_start: TierStart => TIER_START = "TierStart",
        /// Scaling profile name to instance type.
        tier_scaling: BTreeMap<String, String> => TIER_SCALING = "TierScaling",
        /// tierctl only: the member kinds, comma-separated (`ec2,rds,asg`);
        /// written only when not the default `ec2`.
        tierctl_members: String => TIERCTL_MEMBERS = "TierctlMembers",
        /// tierctl's ownership marker.
        managed_by: String => MANAGED_BY = "ManagedBy",
    }
}

item_format! {
    /// The `TierStop` map of a tier item.
    pub struct TierStop {
        /// Position in the stop order.
        tier_sequence: String => TIER_SEQUENCE = "TierSequence",
        /// `"True"` to wait for the tier before the next.
        tier_synchronization: String => TIER_SYNCHRONIZATION = "TierSynchronization",
        /// Seconds to wait after the tier.
        inter_tier_orchestration_delay: String => INTER_TIER_ORCHESTRATION_DELAY = "InterTierOrchestrationDelay",
        /// Override file path.
        tier_stop_override_filename: String => TIER_STOP_OVERRIDE_FILENAME = "TierStopOverrideFilename",
        /// Override file guest OS.
        tier_stop_override_operating_system: String => TIER_STOP_OVERRIDE_OPERATING_SYSTEM = "TierStopOverrideOperatingSystem",
    }
}

item_format! {
    /// The `TierStart` map of a tier item; the `Tierctl*` attributes are
    /// tierctl's own, written only when not the default.
    pub struct TierStart {
        /// Position in the start order.
        tier_sequence: String => TIER_SEQUENCE = "TierSequence",
        /// `"True"` to wait for the tier before the next.
        tier_synchronization: String => TIER_SYNCHRONIZATION = "TierSynchronization",
        /// Seconds to wait after the tier.
        inter_tier_orchestration_delay: String => INTER_TIER_ORCHESTRATION_DELAY = "InterTierOrchestrationDelay",
        /// `"False"` turns classic load balancer re-registration off.
        tierctl_reregister_load_balancers: String => TIERCTL_REREGISTER_LOAD_BALANCERS = "TierctlReregisterLoadBalancers",
        /// `"True"` waits for ELBv2 health before the next wave.
        tierctl_wait_healthy: String => TIERCTL_WAIT_HEALTHY = "TierctlWaitHealthy",
        /// Seconds the health gate waits.
        tierctl_health_timeout: String => TIERCTL_HEALTH_TIMEOUT = "TierctlHealthTimeout",
    }
}

/// Short names for the formats in this file.
type W = WorkloadItem;
type T = TierItem;

/// Which table an item belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    /// A workload item.
    Workload,
    /// A tier item.
    Tier,
}

/// The top-level attributes of the item format (the original's and
/// tierctl's marker), taken from the item structs: what [`from_items`]
/// understands, what sync keeps or drops on update, and what a write's
/// condition requires to stay absent.
pub fn format_attributes(kind: ItemKind) -> &'static [&'static str] {
    match kind {
        ItemKind::Workload => WorkloadItem::ATTRIBUTES,
        ItemKind::Tier => TierItem::ATTRIBUTES,
    }
}

/// The key of workload `spec_name`'s item.
pub fn workload_key(spec_name: &str) -> Item {
    to_dynamo(&WorkloadItem {
        spec_name: Some(spec_name.to_string()),
        ..WorkloadItem::default()
    })
}

/// The key of tier `tier`'s item of workload `spec_name`.
pub fn tier_key(spec_name: &str, tier: &str) -> Item {
    to_dynamo(&TierItem {
        spec_name: Some(spec_name.to_string()),
        tier_tag_value: Some(tier.to_string()),
        ..TierItem::default()
    })
}

/// The string value of attribute `name`, if it is one (`S`).
pub fn string_attribute<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

/// A workload as DynamoDB items.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadItems {
    /// The `WorkloadSpecification` item.
    pub workload: Item,
    /// The `TierSpecification` items, keyed by `TierTagValue`.
    pub tiers: BTreeMap<String, Item>,
}

/// A workload read back from items, with what the items held that tierctl does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// The workload, tiers sorted by name.
    pub workload: Workload,
    /// Attributes that were not understood (usually typos), sorted; they did not fail the import.
    pub unknown: Vec<UnknownAttribute>,
}

/// An attribute [`from_items`] does not know.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnknownAttribute {
    /// The item: `WorkloadSpecification NAME` or `TierSpecification NAME/TIER`.
    pub item: String,
    /// The attribute's path in the item, e.g. `TierStop.Foo`.
    pub attribute: String,
}

impl fmt::Display for UnknownAttribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: unknown attribute `{}`", self.item, self.attribute)
    }
}

/// Why items could not be read as a workload. Each names the table, the item's key and the attribute.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ItemError {
    /// A required attribute is absent.
    #[error("{table} item `{key}`: attribute `{attribute}` is missing; expected {expected}")]
    Missing {
        /// Table name.
        table: &'static str,
        /// Item key (`NAME` or `NAME/TIER`).
        key: String,
        /// Attribute path.
        attribute: String,
        /// What should be there.
        expected: &'static str,
    },
    /// An attribute has the wrong DynamoDB type.
    #[error(
        "{table} item `{key}`: attribute `{attribute}` is of DynamoDB type {found}; expected {expected}"
    )]
    WrongType {
        /// Table name.
        table: &'static str,
        /// Item key.
        key: String,
        /// Attribute path.
        attribute: String,
        /// DynamoDB type found (`S`, `N`, `M`, ...).
        found: &'static str,
        /// What should be there.
        expected: &'static str,
    },
    /// An attribute's value is not acceptable.
    #[error("{table} item `{key}`: attribute `{attribute}` is {value:?}; expected {expected}")]
    Invalid {
        /// Table name.
        table: &'static str,
        /// Item key.
        key: String,
        /// Attribute path.
        attribute: String,
        /// The value found.
        value: String,
        /// What should be there.
        expected: &'static str,
    },
    /// One of two attributes that only work together is set without the other.
    #[error(
        "{table} item `{key}`: attribute `{attribute}` is set but `{missing}` is not; expected both or neither"
    )]
    Unpaired {
        /// Table name.
        table: &'static str,
        /// Item key.
        key: String,
        /// The attribute that is set.
        attribute: String,
        /// The attribute that is missing.
        missing: String,
    },
    /// A tier item belongs to another workload.
    #[error(
        "TierSpecification item `{found}/{tier}`: attribute `SpecName` is `{found}`; expected `{expected}` (the workload being imported)"
    )]
    ForeignTier {
        /// The tier's `TierTagValue`.
        tier: String,
        /// The tier item's `SpecName`.
        found: String,
        /// The workload's `SpecName`.
        expected: String,
    },
    /// Two tier items have the same `TierTagValue`.
    #[error(
        "TierSpecification item `{key}`: attribute `TierTagValue` appears on two items; expected one item per tier"
    )]
    DuplicateTier {
        /// Item key.
        key: String,
    },
}

// ---------------------------------------------------------------- writing

/// A format struct as a DynamoDB item.
fn to_dynamo<S: serde::Serialize>(value: &S) -> Item {
    // The structs hold only strings, maps of strings and nested structs of
    // strings, which serde_dynamo always converts.
    serde_dynamo::to_item(value).expect("item structs of strings convert to DynamoDB items")
}

fn flag(value: bool) -> String {
    // The README's examples always spell flags out, capitalised.
    if value { "True" } else { "False" }.to_string()
}

/// The items the original tool reads for `w`, each marked as managed by tierctl.
pub fn to_items(w: &Workload) -> WorkloadItems {
    to_items_marked(w, OWNER_VALUE)
}

/// [`to_items`] with `marker` as the value of the ownership attribute.
pub fn to_items_marked(w: &Workload, marker: &str) -> WorkloadItems {
    let tiers = w
        .tiers
        .iter()
        .map(|t| (t.name.clone(), to_dynamo(&tier_item(&w.name, t, marker))))
        .collect();
    WorkloadItems {
        workload: to_dynamo(&workload_item(w, marker)),
        tiers,
    }
}

/// The `WorkloadSpecification` item for `w`.
pub fn workload_item(w: &Workload, marker: &str) -> WorkloadItem {
    WorkloadItem {
        spec_name: Some(w.name.clone()),
        workload_region: Some(w.region.clone()),
        workload_filter_tag_name: Some(w.selector.workload_tag.key.clone()),
        workload_filter_tag_value: Some(w.selector.workload_tag.value.clone()),
        tier_filter_tag_name: Some(w.selector.tier_tag_key.clone()),
        vpc_id: w.selector.vpc_id.clone(),
        sns_topic_name: w.notify.as_ref().map(|n| n.sns_topic.clone()),
        ssm_s3_bucket_name: w.ssm.as_ref().map(|s| s.output_bucket.clone()),
        ssm_s3_key_prefix_name: w.ssm.as_ref().and_then(|s| s.output_key_prefix.clone()),
        // Always written, so a table read by the original shows the switch's state explicitly.
        disable_all_scheduling_actions: Some(if w.disabled { "1" } else { "0" }.to_string()),
        scale_instance_delay: (w.scale_instance_delay_seconds != DEFAULT_SCALE_DELAY_SECONDS)
            .then(|| w.scale_instance_delay_seconds.to_string()),
        managed_by: Some(marker.to_string()),
    }
}

/// The `TierSpecification` item for tier `t` of workload `spec_name`.
pub fn tier_item(spec_name: &str, t: &Tier, marker: &str) -> TierItem {
    let delay = |d: u32| (d != DEFAULT_TIER_DELAY_SECONDS).then(|| d.to_string());
    TierItem {
        spec_name: Some(spec_name.to_string()),
        tier_tag_value: Some(t.name.clone()),
        tier_stop: t.stop.as_ref().map(|stop| TierStop {
            tier_sequence: Some(stop.sequence.to_string()),
            tier_synchronization: Some(flag(stop.synchronous)),
            inter_tier_orchestration_delay: delay(stop.delay_seconds),
            tier_stop_override_filename: stop.override_file.as_ref().map(|o| o.file.clone()),
            tier_stop_override_operating_system: stop
                .override_file
                .as_ref()
                .map(|o| o.os.original_name().to_string()),
        }),
        // tierctl's own settings: written only when not the default, so a
        // tier that uses none of them stays exactly in the original format.
        tier_start: t.start.as_ref().map(|start| TierStart {
            tier_sequence: Some(start.sequence.to_string()),
            tier_synchronization: Some(flag(start.synchronous)),
            inter_tier_orchestration_delay: delay(start.delay_seconds),
            tierctl_reregister_load_balancers: (!start.reregister_load_balancers)
                .then(|| flag(false)),
            tierctl_wait_healthy: start.wait_healthy.then(|| flag(true)),
            tierctl_health_timeout: (start.health_timeout_seconds
                != crate::spec::DEFAULT_HEALTH_TIMEOUT_SECONDS)
                .then(|| start.health_timeout_seconds.to_string()),
        }),
        tier_scaling: (!t.scaling.is_empty()).then(|| t.scaling.clone()),
        tierctl_members: (t.members != crate::spec::default_members()).then(|| {
            t.members
                .iter()
                .map(|m| m.as_str())
                .collect::<Vec<_>>()
                .join(",")
        }),
        managed_by: Some(marker.to_string()),
    }
}

// ---------------------------------------------------------------- reading

/// Reads attributes of one map (an item or a nested `TierStop`/`TierStart`), naming errors precisely.
struct Reader<'a> {
    table: &'static str,
    key: String,
    map: &'a HashMap<String, AttributeValue>,
    /// Path of `map` inside the item, e.g. `TierStop.`; empty at top level.
    prefix: String,
}

const EXPECT_STRING: &str = "a string (S)";
const EXPECT_KILL_SWITCH: &str = "absent, \"0\" (enabled) or \"1\" (disabled), as a string (S) or number (N); any other value refuses the workload rather than guess";
const EXPECT_COUNT: &str = "a non-negative whole number, as a string (S) or number (N)";

impl<'a> Reader<'a> {
    fn path(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    fn wrong_type(&self, name: &str, found: &AttributeValue, expected: &'static str) -> ItemError {
        ItemError::WrongType {
            table: self.table,
            key: self.key.clone(),
            attribute: self.path(name),
            found: type_name(found),
            expected,
        }
    }

    fn missing(&self, name: &str, expected: &'static str) -> ItemError {
        ItemError::Missing {
            table: self.table,
            key: self.key.clone(),
            attribute: self.path(name),
            expected,
        }
    }

    fn invalid(&self, name: &str, value: &str, expected: &'static str) -> ItemError {
        ItemError::Invalid {
            table: self.table,
            key: self.key.clone(),
            attribute: self.path(name),
            value: value.to_string(),
            expected,
        }
    }

    fn string(&self, name: &str) -> Result<Option<&'a str>, ItemError> {
        match self.map.get(name) {
            None => Ok(None),
            Some(AttributeValue::S(v)) => Ok(Some(v.as_str())),
            Some(other) => Err(self.wrong_type(name, other, EXPECT_STRING)),
        }
    }

    fn required_string(&self, name: &str) -> Result<&'a str, ItemError> {
        self.string(name)?
            .ok_or_else(|| self.missing(name, EXPECT_STRING))
    }

    /// A non-negative integer stored as `S` or `N` (the original ran `int()` on either).
    /// A `"True"` / `"False"` flag (any case); `default` when absent.
    fn flag(&self, name: &str, default: bool) -> Result<bool, ItemError> {
        match self.string(name)? {
            None => Ok(default),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(v) => Err(self.invalid(name, v, "\"True\" or \"False\"")),
        }
    }

    fn count(&self, name: &str) -> Result<Option<u32>, ItemError> {
        let text = match self.map.get(name) {
            None => return Ok(None),
            Some(AttributeValue::S(v) | AttributeValue::N(v)) => v,
            Some(other) => return Err(self.wrong_type(name, other, EXPECT_COUNT)),
        };
        // `int()` ignores surrounding whitespace; a sign, fraction or overflow is refused.
        let trimmed = text.trim();
        if trimmed.is_empty() || !trimmed.bytes().all(|b| b.is_ascii_digit()) {
            return Err(self.invalid(name, text, EXPECT_COUNT));
        }
        trimmed
            .parse::<u32>()
            .map(Some)
            .map_err(|_| self.invalid(name, text, EXPECT_COUNT))
    }

    fn map(&self, name: &str) -> Result<Option<&'a HashMap<String, AttributeValue>>, ItemError> {
        match self.map.get(name) {
            None => Ok(None),
            Some(AttributeValue::M(m)) => Ok(Some(m)),
            Some(other) => Err(self.wrong_type(name, other, "a map (M)")),
        }
    }

    /// Records every attribute of this map that is not in `known`.
    fn unknown(&self, item: &str, known: &[&str], out: &mut Vec<UnknownAttribute>) {
        for name in self.map.keys() {
            if !known.contains(&name.as_str()) {
                out.push(UnknownAttribute {
                    item: item.to_string(),
                    attribute: self.path(name),
                });
            }
        }
    }
}

fn type_name(v: &AttributeValue) -> &'static str {
    match v {
        AttributeValue::S(_) => "S",
        AttributeValue::N(_) => "N",
        AttributeValue::B(_) => "B",
        AttributeValue::Bool(_) => "BOOL",
        AttributeValue::Null(_) => "NULL",
        AttributeValue::M(_) => "M",
        AttributeValue::L(_) => "L",
        AttributeValue::Ss(_) => "SS",
        AttributeValue::Ns(_) => "NS",
        AttributeValue::Bs(_) => "BS",
        _ => "unknown",
    }
}

/// Reads a workload back from its `WorkloadSpecification` item and its `TierSpecification` items.
pub fn from_items(workload: &Item, tiers: &[Item]) -> Result<Imported, ItemError> {
    let mut unknown = Vec::new();
    let mut r = Reader {
        table: WORKLOAD_TABLE,
        key: "(no SpecName)".into(),
        map: workload,
        prefix: String::new(),
    };
    let name = r.required_string(W::SPEC_NAME)?;
    r.key = name.to_string();
    let region = r.required_string(W::WORKLOAD_REGION)?;
    let tag_key = r.required_string(W::WORKLOAD_FILTER_TAG_NAME)?;
    let tag_value = r.required_string(W::WORKLOAD_FILTER_TAG_VALUE)?;
    let tier_tag_key = r.required_string(W::TIER_FILTER_TAG_NAME)?;
    let vpc_id = r.string(W::VPC_ID)?;
    let notify = r.string(W::SNS_TOPIC_NAME)?.map(|topic| Notify {
        sns_topic: topic.to_string(),
    });
    let bucket = r.string(W::SSM_S3_BUCKET_NAME)?;
    let prefix = r.string(W::SSM_S3_KEY_PREFIX_NAME)?;
    let ssm = match (bucket, prefix) {
        (Some(bucket), prefix) => Some(SsmOutput {
            output_bucket: bucket.to_string(),
            output_key_prefix: prefix.map(str::to_string),
        }),
        (None, Some(_)) => {
            return Err(ItemError::Unpaired {
                table: WORKLOAD_TABLE,
                key: r.key.clone(),
                attribute: W::SSM_S3_KEY_PREFIX_NAME.into(),
                missing: W::SSM_S3_BUCKET_NAME.into(),
            });
        }
        (None, None) => None,
    };
    // The original treated every value but the string "1" as "enabled", so a
    // BOOL true or a "true" let runs stop the workload. tierctl fails closed:
    // only absent, "0" or "1" (string or number) are read; anything else
    // refuses the workload.
    let disabled = match workload.get(W::DISABLE_ALL_SCHEDULING_ACTIONS) {
        None => false,
        Some(AttributeValue::S(v) | AttributeValue::N(v)) if v == "0" => false,
        Some(AttributeValue::S(v) | AttributeValue::N(v)) if v == "1" => true,
        Some(AttributeValue::S(v) | AttributeValue::N(v)) => {
            return Err(r.invalid(W::DISABLE_ALL_SCHEDULING_ACTIONS, v, EXPECT_KILL_SWITCH));
        }
        Some(other) => {
            return Err(r.wrong_type(W::DISABLE_ALL_SCHEDULING_ACTIONS, other, EXPECT_KILL_SWITCH));
        }
    };
    let scale_instance_delay_seconds = r
        .count(W::SCALE_INSTANCE_DELAY)?
        .unwrap_or(DEFAULT_SCALE_DELAY_SECONDS);
    let item_name = format!("{WORKLOAD_TABLE} {name}");
    r.unknown(&item_name, W::ATTRIBUTES, &mut unknown);

    let mut read = Vec::with_capacity(tiers.len());
    for (index, item) in tiers.iter().enumerate() {
        read.push(tier_from_item(name, index, item, &mut unknown)?);
    }
    read.sort_by(|a, b| a.name.cmp(&b.name));
    if let Some(pair) = read.windows(2).find(|p| p[0].name == p[1].name) {
        return Err(ItemError::DuplicateTier {
            key: format!("{name}/{}", pair[0].name),
        });
    }
    unknown.sort();

    Ok(Imported {
        workload: Workload {
            name: name.to_string(),
            region: region.to_string(),
            disabled,
            selector: Selector {
                workload_tag: TagFilter {
                    key: tag_key.to_string(),
                    value: tag_value.to_string(),
                },
                tier_tag_key: tier_tag_key.to_string(),
                vpc_id: vpc_id.map(str::to_string),
            },
            notify,
            ssm,
            // Never in the original tables: schedules live in EventBridge Scheduler.
            schedule: None,
            scale_instance_delay_seconds,
            tiers: read,
        },
        unknown,
    })
}

fn tier_from_item(
    spec_name: &str,
    index: usize,
    item: &Item,
    unknown: &mut Vec<UnknownAttribute>,
) -> Result<Tier, ItemError> {
    let mut r = Reader {
        table: TIER_TABLE,
        key: format!("{spec_name}/(tier item {} without TierTagValue)", index + 1),
        map: item,
        prefix: String::new(),
    };
    let tier_name = r.required_string(T::TIER_TAG_VALUE)?;
    r.key = format!("{spec_name}/{tier_name}");
    let owner = r.required_string(T::SPEC_NAME)?;
    if owner != spec_name {
        return Err(ItemError::ForeignTier {
            tier: tier_name.to_string(),
            found: owner.to_string(),
            expected: spec_name.to_string(),
        });
    }
    let item_name = format!("{TIER_TABLE} {}", r.key);
    r.unknown(&item_name, T::ATTRIBUTES, unknown);

    let stop = match r.map(T::TIER_STOP)? {
        None => None,
        Some(m) => {
            let inner = Reader {
                table: TIER_TABLE,
                key: r.key.clone(),
                map: m,
                prefix: format!("{}.", T::TIER_STOP),
            };
            inner.unknown(&item_name, TierStop::ATTRIBUTES, unknown);
            let (sequence, synchronous, delay_seconds) = read_action(&inner)?;
            Some(StopAction {
                sequence,
                synchronous,
                delay_seconds,
                override_file: read_override(&inner)?,
            })
        }
    };
    let start = match r.map(T::TIER_START)? {
        None => None,
        Some(m) => {
            let inner = Reader {
                table: TIER_TABLE,
                key: r.key.clone(),
                map: m,
                prefix: format!("{}.", T::TIER_START),
            };
            inner.unknown(&item_name, TierStart::ATTRIBUTES, unknown);
            let (sequence, synchronous, delay_seconds) = read_action(&inner)?;
            Some(StartAction {
                sequence,
                synchronous,
                delay_seconds,
                reregister_load_balancers: inner
                    .flag(TierStart::TIERCTL_REREGISTER_LOAD_BALANCERS, true)?,
                wait_healthy: inner.flag(TierStart::TIERCTL_WAIT_HEALTHY, false)?,
                health_timeout_seconds: inner
                    .count(TierStart::TIERCTL_HEALTH_TIMEOUT)?
                    .unwrap_or(crate::spec::DEFAULT_HEALTH_TIMEOUT_SECONDS),
            })
        }
    };
    let mut scaling = BTreeMap::new();
    if let Some(m) = r.map(T::TIER_SCALING)? {
        let inner = Reader {
            table: TIER_TABLE,
            key: r.key.clone(),
            map: m,
            prefix: format!("{}.", T::TIER_SCALING),
        };
        for profile in m.keys() {
            let ty = inner.required_string(profile)?;
            scaling.insert(profile.clone(), ty.to_string());
        }
    }
    let members = match r.string(T::TIERCTL_MEMBERS)? {
        None => crate::spec::default_members(),
        Some(text) => read_members(&r, text)?,
    };
    Ok(Tier {
        name: tier_name.to_string(),
        stop,
        start,
        scaling,
        members,
    })
}

const EXPECT_MEMBERS: &str =
    "a comma-separated list of distinct member kinds (ec2, rds, asg), e.g. \"ec2,asg\"";

/// `TierctlMembers`: distinct kinds, comma-separated.
fn read_members(r: &Reader<'_>, text: &str) -> Result<Vec<MemberKind>, ItemError> {
    let mut members = Vec::new();
    for part in text.split(',') {
        match MemberKind::parse(part.trim()) {
            Some(kind) if !members.contains(&kind) => members.push(kind),
            _ => return Err(r.invalid(T::TIERCTL_MEMBERS, text, EXPECT_MEMBERS)),
        }
    }
    Ok(members)
}

/// Sequence, synchronisation flag and delay of a `TierStop` / `TierStart` map.
fn read_action(r: &Reader<'_>) -> Result<(u32, bool, u32), ItemError> {
    let sequence = r
        .count(TierStop::TIER_SEQUENCE)?
        .ok_or_else(|| r.missing(TierStop::TIER_SEQUENCE, EXPECT_COUNT))?;
    let synchronous = r.flag(TierStop::TIER_SYNCHRONIZATION, false)?;
    let delay = r
        .count(TierStop::INTER_TIER_ORCHESTRATION_DELAY)?
        .unwrap_or(DEFAULT_TIER_DELAY_SECONDS);
    Ok((sequence, synchronous, delay))
}

/// The override file of a `TierStop` map; filename and OS only make sense together.
fn read_override(r: &Reader<'_>) -> Result<Option<OverrideFile>, ItemError> {
    let file = r.string(TierStop::TIER_STOP_OVERRIDE_FILENAME)?;
    let os = r.string(TierStop::TIER_STOP_OVERRIDE_OPERATING_SYSTEM)?;
    let unpaired = |set: &str, missing: &str| ItemError::Unpaired {
        table: r.table,
        key: r.key.clone(),
        attribute: r.path(set),
        missing: r.path(missing),
    };
    match (file, os) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(unpaired(
            TierStop::TIER_STOP_OVERRIDE_FILENAME,
            TierStop::TIER_STOP_OVERRIDE_OPERATING_SYSTEM,
        )),
        (None, Some(_)) => Err(unpaired(
            TierStop::TIER_STOP_OVERRIDE_OPERATING_SYSTEM,
            TierStop::TIER_STOP_OVERRIDE_FILENAME,
        )),
        (Some(file), Some(os_name)) => {
            let os = if os_name.eq_ignore_ascii_case("linux") {
                GuestOs::Linux
            } else if os_name.eq_ignore_ascii_case("windows") {
                GuestOs::Windows
            } else {
                return Err(r.invalid(
                    TierStop::TIER_STOP_OVERRIDE_OPERATING_SYSTEM,
                    os_name,
                    "\"Linux\" or \"Windows\"",
                ));
            };
            Ok(Some(OverrideFile {
                file: file.to_string(),
                os,
            }))
        }
    }
}

// ---------------------------------------------------------------- display

/// An item as JSON for display and diffs: keys sorted, numbers as numbers when they parse.
pub fn item_to_json(item: &Item) -> Value {
    map_to_json(item)
}

fn map_to_json(map: &HashMap<String, AttributeValue>) -> Value {
    // Sorted so the same item always renders the same text, whatever the HashMap's order.
    let sorted: BTreeMap<&String, &AttributeValue> = map.iter().collect();
    Value::Object(
        sorted
            .into_iter()
            .map(|(k, v)| (k.clone(), attribute_to_json(v)))
            .collect(),
    )
}

fn number_to_json(text: &str) -> Value {
    text.parse::<serde_json::Number>()
        .map(Value::Number)
        .unwrap_or_else(|_| Value::String(text.to_string()))
}

fn attribute_to_json(v: &AttributeValue) -> Value {
    match v {
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => number_to_json(n),
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::M(m) => map_to_json(m),
        AttributeValue::L(items) => Value::Array(items.iter().map(attribute_to_json).collect()),
        AttributeValue::Ss(items) => {
            Value::Array(items.iter().cloned().map(Value::String).collect())
        }
        AttributeValue::Ns(items) => {
            Value::Array(items.iter().map(|n| number_to_json(n)).collect())
        }
        AttributeValue::B(blob) => Value::String(aws_smithy_types::base64::encode(blob.as_ref())),
        AttributeValue::Bs(blobs) => Value::Array(
            blobs
                .iter()
                .map(|b| Value::String(aws_smithy_types::base64::encode(b.as_ref())))
                .collect(),
        ),
        // A type newer than this SDK: show that something is there rather than guess.
        _ => Value::String("<unsupported DynamoDB type>".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn without_owner(item: &Item) -> Value {
        let mut v = item_to_json(item);
        if let Value::Object(m) = &mut v {
            assert_eq!(m.shift_remove(OWNER_ATTR), Some(json!(OWNER_VALUE)));
        }
        v
    }

    fn scaling(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The README's examples as a Workload: the workload item and the Linux tier.
    fn readme_workload(override_file: OverrideFile, stop_delay: u32) -> Workload {
        Workload {
            name: "BotoTestCase1".into(),
            region: "us-west-2".into(),
            disabled: false,
            selector: Selector {
                workload_tag: TagFilter {
                    key: "Environment".into(),
                    value: "ENV001".into(),
                },
                tier_tag_key: "Role".into(),
                vpc_id: Some("vpc-xyz".into()),
            },
            notify: Some(Notify {
                sns_topic: "SchedulerTesting".into(),
            }),
            ssm: Some(SsmOutput {
                output_bucket: "myBucketName".into(),
                output_key_prefix: Some("ssmRemoteComandResults".into()),
            }),
            schedule: None,
            scale_instance_delay_seconds: DEFAULT_SCALE_DELAY_SECONDS,
            tiers: vec![Tier {
                name: "Role_Web".into(),
                stop: Some(StopAction {
                    sequence: 0,
                    synchronous: false,
                    delay_seconds: stop_delay,
                    override_file: Some(override_file),
                }),
                start: Some(StartAction {
                    sequence: 2,
                    synchronous: false,
                    delay_seconds: DEFAULT_TIER_DELAY_SECONDS,
                    ..StartAction::new(0)
                }),
                scaling: scaling(&[
                    ("default", "t2.nano"),
                    ("profileB", "t2.medium"),
                    ("profileC", "t2.large"),
                    ("profileD", "c4.large"),
                ]),
                members: crate::spec::default_members(),
            }],
        }
    }

    fn linux_example() -> Workload {
        readme_workload(
            OverrideFile {
                file: "/tmp/StopOverride".into(),
                os: GuestOs::Linux,
            },
            10,
        )
    }

    fn windows_example() -> Workload {
        readme_workload(
            OverrideFile {
                file: r"C:\ignore.txt".into(),
                os: GuestOs::Windows,
            },
            DEFAULT_TIER_DELAY_SECONDS,
        )
    }

    // Copied verbatim from AWS_EC2_Scheduler's README ("JSON: WorkloadSpecification").
    const README_WORKLOAD: &str = r#"{
      "DisableAllSchedulingActions": "0",
      "WorkloadFilterTagName": "Environment",
      "WorkloadFilterTagValue": "ENV001",
      "WorkloadRegion": "us-west-2",
      "SpecName": "BotoTestCase1",
      "SNSTopicName": "SchedulerTesting",
      "SSMS3BucketName": "myBucketName",
      "SSMS3KeyPrefixName": "ssmRemoteComandResults",
      "TierFilterTagName": "Role",
      "VPC_ID": "vpc-xyz"
    }"#;

    // Copied verbatim from the README ("JSON: TierSpecification").
    const README_TIER_LINUX: &str = r#"{
      "SpecName": "BotoTestCase1",
      "TierStart": {
        "TierSequence": "2",
        "TierSynchronization": "False"
      },
      "TierStop": {
        "TierSequence": "0",
        "TierStopOverrideFilename": "/tmp/StopOverride",
        "TierStopOverrideOperatingSystem": "Linux",
        "TierSynchronization": "False",
        "InterTierOrchestrationDelay": "10"
      },
      "TierScaling": {
        "default": "t2.nano",
        "profileB": "t2.medium",
        "profileC": "t2.large",
        "profileD": "c4.large"
      },
      "TierTagValue": "Role_Web"
    }"#;

    // Copied verbatim from the README ("Or, for Windows guest OS ...").
    const README_TIER_WINDOWS: &str = r#"{
      "SpecName": "BotoTestCase1",
      "TierStart": {
        "TierSequence": "2",
        "TierSynchronization": "False"
      },
      "TierStop": {
        "TierSequence": "0",
        "TierStopOverrideFilename": "C:\\ignore.txt",
        "TierStopOverrideOperatingSystem": "Windows",
        "TierSynchronization": "False"
      },
      "TierScaling": {
        "default": "t2.nano",
        "profileB": "t2.medium",
        "profileC": "t2.large",
        "profileD": "c4.large"
      },
      "TierTagValue": "Role_Web"
    }"#;

    fn parsed(text: &str) -> Value {
        serde_json::from_str(text).expect("README JSON parses")
    }

    #[test]
    fn writes_exactly_the_readme_items() {
        let linux = to_items(&linux_example());
        assert_eq!(without_owner(&linux.workload), parsed(README_WORKLOAD));
        assert_eq!(
            without_owner(&linux.tiers["Role_Web"]),
            parsed(README_TIER_LINUX)
        );
        let windows = to_items(&windows_example());
        assert_eq!(
            without_owner(&windows.tiers["Role_Web"]),
            parsed(README_TIER_WINDOWS)
        );
        // Nested maps carry no ownership marker, only the items themselves.
        let Some(AttributeValue::M(stop)) = linux.tiers["Role_Web"].get(T::TIER_STOP) else {
            panic!("TierStop is a map");
        };
        assert!(!stop.contains_key(OWNER_ATTR));
    }

    /// Builds an item from JSON whose leaves are strings (S) and objects (M).
    fn item(v: Value) -> Item {
        fn attr(v: Value) -> AttributeValue {
            match v {
                Value::String(s) => AttributeValue::S(s),
                Value::Object(m) => {
                    AttributeValue::M(m.into_iter().map(|(k, v)| (k, attr(v))).collect())
                }
                Value::Number(n) => AttributeValue::N(n.to_string()),
                Value::Bool(b) => AttributeValue::Bool(b),
                other => panic!("unsupported in tests: {other}"),
            }
        }
        match v {
            Value::Object(m) => m.into_iter().map(|(k, v)| (k, attr(v))).collect(),
            other => panic!("an item is an object: {other}"),
        }
    }

    #[test]
    fn reads_the_readme_items() {
        let got = from_items(
            &item(parsed(README_WORKLOAD)),
            &[item(parsed(README_TIER_LINUX))],
        )
        .expect("imports");
        assert_eq!(got.workload, linux_example());
        assert!(got.unknown.is_empty(), "{:?}", got.unknown);
        let got = from_items(
            &item(parsed(README_WORKLOAD)),
            &[item(parsed(README_TIER_WINDOWS))],
        )
        .expect("imports");
        assert_eq!(got.workload, windows_example());
    }

    fn minimal_workload() -> Value {
        json!({
            "SpecName": "W",
            "WorkloadRegion": "eu-west-1",
            "WorkloadFilterTagName": "Env",
            "WorkloadFilterTagValue": "prod",
            "TierFilterTagName": "Role",
        })
    }

    fn with(mut base: Value, key: &str, value: Value) -> Value {
        base[key] = value;
        base
    }

    fn without(mut base: Value, key: &str) -> Value {
        if let Value::Object(m) = &mut base {
            m.shift_remove(key);
        }
        base
    }

    fn tier(stop: Value) -> Value {
        json!({"SpecName": "W", "TierTagValue": "web", "TierStop": stop})
    }

    fn import(workload: Value, tiers: Vec<Value>) -> Result<Imported, ItemError> {
        let tiers: Vec<Item> = tiers.into_iter().map(item).collect();
        from_items(&item(workload), &tiers)
    }

    fn import_err(workload: Value, tiers: Vec<Value>) -> ItemError {
        import(workload, tiers).expect_err("should fail")
    }

    #[test]
    fn lenient_reading_like_the_original() {
        let w = with(minimal_workload(), "ScaleInstanceDelay", json!(7));
        let w = with(w, "DisableAllSchedulingActions", json!("1"));
        let t = tier(json!({
            "TierSequence": 3,
            "TierSynchronization": "TRUE",
            "InterTierOrchestrationDelay": " 12 ",
            "TierStopOverrideFilename": "/x",
            "TierStopOverrideOperatingSystem": "linux",
        }));
        let got = import(w, vec![t]).expect("imports").workload;
        assert!(got.disabled);
        assert_eq!(got.scale_instance_delay_seconds, 7);
        let stop = got.tiers[0].stop.clone().expect("stop");
        assert_eq!(
            (stop.sequence, stop.synchronous, stop.delay_seconds),
            (3, true, 12)
        );
        assert_eq!(stop.override_file.map(|o| o.os), Some(GuestOs::Linux));
        assert_eq!(got.tiers[0].start, None);
    }

    #[test]
    fn defaults_when_absent() {
        let t = json!({"SpecName": "W", "TierTagValue": "web", "TierStart": {"TierSequence": "0"}});
        let got = import(minimal_workload(), vec![t])
            .expect("imports")
            .workload;
        assert!(!got.disabled);
        assert_eq!(
            got.scale_instance_delay_seconds,
            DEFAULT_SCALE_DELAY_SECONDS
        );
        assert_eq!(
            (got.notify, got.ssm, got.selector.vpc_id),
            (None, None, None)
        );
        let start = got.tiers[0].start.clone().expect("start");
        assert!(!start.synchronous);
        assert_eq!(start.delay_seconds, DEFAULT_TIER_DELAY_SECONDS);
        assert!(got.tiers[0].scaling.is_empty());
    }

    #[test]
    fn kill_switch_fails_closed() {
        for (v, disabled) in [
            (json!("0"), false),
            (json!("1"), true),
            (json!(1), true),
            (json!(0), false),
        ] {
            let w = with(minimal_workload(), "DisableAllSchedulingActions", v.clone());
            assert_eq!(
                import(w, vec![]).expect("imports").workload.disabled,
                disabled,
                "{v}"
            );
        }
        assert!(
            !import(minimal_workload(), vec![])
                .unwrap()
                .workload
                .disabled
        );
        // The original ran these; tierctl refuses the workload instead.
        for v in [
            json!("true"),
            json!("yes"),
            json!(" 1"),
            json!(""),
            json!(true),
            json!(2),
        ] {
            let w = with(minimal_workload(), "DisableAllSchedulingActions", v.clone());
            let e = import_err(w, vec![]).to_string();
            assert!(
                e.contains(
                    "WorkloadSpecification item `W`: attribute `DisableAllSchedulingActions`"
                ),
                "{v}: {e}"
            );
        }
    }

    #[test]
    fn tiers_are_sorted_by_name() {
        let a = json!({"SpecName": "W", "TierTagValue": "b"});
        let b = json!({"SpecName": "W", "TierTagValue": "a"});
        let got = import(minimal_workload(), vec![a, b]).expect("imports");
        let names: Vec<_> = got.workload.tiers.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
    }

    #[test]
    fn missing_required_attributes() {
        for attribute in [
            "SpecName",
            "WorkloadRegion",
            "WorkloadFilterTagName",
            "WorkloadFilterTagValue",
            "TierFilterTagName",
        ] {
            let e = import_err(without(minimal_workload(), attribute), vec![]);
            assert!(
                matches!(&e, ItemError::Missing { table: WORKLOAD_TABLE, attribute: a, .. } if a == attribute),
                "{e:?}"
            );
            assert!(e.to_string().contains(attribute), "{e}");
        }
        let e = import_err(
            minimal_workload(),
            vec![tier(json!({"TierSynchronization": "True"}))],
        );
        assert_eq!(
            e.to_string(),
            "TierSpecification item `W/web`: attribute `TierStop.TierSequence` is missing; \
             expected a non-negative whole number, as a string (S) or number (N)"
        );
        let e = import_err(minimal_workload(), vec![json!({"SpecName": "W"})]);
        assert!(
            matches!(&e, ItemError::Missing { attribute, .. } if attribute == "TierTagValue"),
            "{e:?}"
        );
        let e = import_err(minimal_workload(), vec![json!({"TierTagValue": "web"})]);
        assert!(
            matches!(&e, ItemError::Missing { key, attribute, .. } if attribute == "SpecName" && key == "W/web"),
            "{e:?}"
        );
    }

    #[test]
    fn invalid_numbers() {
        for bad in ["-1", "1.5", "x", "", "99999999999", "+3"] {
            let e = import_err(minimal_workload(), vec![tier(json!({"TierSequence": bad}))]);
            assert!(
                matches!(&e, ItemError::Invalid { attribute, value, .. } if attribute == "TierStop.TierSequence" && value == bad),
                "{bad}: {e:?}"
            );
        }
        let e = import_err(
            minimal_workload(),
            vec![tier(
                json!({"TierSequence": "0", "InterTierOrchestrationDelay": "-5"}),
            )],
        );
        assert_eq!(
            e.to_string(),
            "TierSpecification item `W/web`: attribute `TierStop.InterTierOrchestrationDelay` is \"-5\"; \
             expected a non-negative whole number, as a string (S) or number (N)"
        );
        let e = import_err(
            with(minimal_workload(), "ScaleInstanceDelay", json!("soon")),
            vec![],
        );
        assert!(
            matches!(&e, ItemError::Invalid { table: WORKLOAD_TABLE, key, attribute, .. } if key == "W" && attribute == "ScaleInstanceDelay"),
            "{e:?}"
        );
        let e = import_err(
            minimal_workload(),
            vec![tier(json!({"TierSequence": true}))],
        );
        assert!(
            matches!(&e, ItemError::WrongType { found: "BOOL", .. }),
            "{e:?}"
        );
    }

    #[test]
    fn invalid_synchronization_and_os() {
        let e = import_err(
            minimal_workload(),
            vec![tier(
                json!({"TierSequence": "0", "TierSynchronization": "yes"}),
            )],
        );
        assert_eq!(
            e.to_string(),
            "TierSpecification item `W/web`: attribute `TierStop.TierSynchronization` is \"yes\"; \
             expected \"True\" or \"False\""
        );
        let e = import_err(
            minimal_workload(),
            vec![tier(json!({
                "TierSequence": "0",
                "TierStopOverrideFilename": "/x",
                "TierStopOverrideOperatingSystem": "MacOS",
            }))],
        );
        assert!(
            matches!(&e, ItemError::Invalid { attribute, .. } if attribute == "TierStop.TierStopOverrideOperatingSystem"),
            "{e:?}"
        );
    }

    #[test]
    fn unpaired_attributes() {
        let e = import_err(
            minimal_workload(),
            vec![tier(
                json!({"TierSequence": "0", "TierStopOverrideFilename": "/x"}),
            )],
        );
        assert_eq!(
            e.to_string(),
            "TierSpecification item `W/web`: attribute `TierStop.TierStopOverrideFilename` is set \
             but `TierStop.TierStopOverrideOperatingSystem` is not; expected both or neither"
        );
        let e = import_err(
            minimal_workload(),
            vec![tier(
                json!({"TierSequence": "0", "TierStopOverrideOperatingSystem": "Linux"}),
            )],
        );
        assert!(matches!(e, ItemError::Unpaired { .. }), "{e:?}");
        let e = import_err(
            with(minimal_workload(), "SSMS3KeyPrefixName", json!("p")),
            vec![],
        );
        assert!(
            matches!(&e, ItemError::Unpaired { table: WORKLOAD_TABLE, missing, .. } if missing == "SSMS3BucketName"),
            "{e:?}"
        );
    }

    #[test]
    fn wrong_types() {
        let e = import_err(with(minimal_workload(), "WorkloadRegion", json!(5)), vec![]);
        assert_eq!(
            e.to_string(),
            "WorkloadSpecification item `W`: attribute `WorkloadRegion` is of DynamoDB type N; \
             expected a string (S)"
        );
        let e = import_err(minimal_workload(), vec![tier(json!("0"))]);
        assert!(
            matches!(&e, ItemError::WrongType { attribute, found: "S", .. } if attribute == "TierStop"),
            "{e:?}"
        );
        let t = json!({"SpecName": "W", "TierTagValue": "web", "TierScaling": {"default": 5}});
        let e = import_err(minimal_workload(), vec![t]);
        assert!(
            matches!(&e, ItemError::WrongType { attribute, .. } if attribute == "TierScaling.default"),
            "{e:?}"
        );
    }

    #[test]
    fn foreign_and_duplicate_tiers() {
        let t = json!({"SpecName": "Other", "TierTagValue": "web"});
        let e = import_err(minimal_workload(), vec![t]);
        assert_eq!(
            e,
            ItemError::ForeignTier {
                tier: "web".into(),
                found: "Other".into(),
                expected: "W".into()
            }
        );
        assert!(e.to_string().contains("expected `W`"), "{e}");
        let t = json!({"SpecName": "W", "TierTagValue": "web"});
        let e = import_err(minimal_workload(), vec![t.clone(), t]);
        assert_eq!(
            e,
            ItemError::DuplicateTier {
                key: "W/web".into()
            }
        );
    }

    #[test]
    fn unknown_attributes_are_reported_not_dropped() {
        let w = with(minimal_workload(), "VPCID", json!("vpc-1"));
        let w = with(w, OWNER_ATTR, json!(OWNER_VALUE));
        let t = json!({
            "SpecName": "W",
            "TierTagValue": "web",
            "Comment": "x",
            "ManagedBy": "tierctl",
            "TierStop": {"TierSequence": "0", "Foo": "1"},
            "TierStart": {"TierSequence": "0", "TierStopOverrideFilename": "/x"},
        });
        let got = import(w, vec![t]).expect("unknown attributes do not fail the import");
        let seen: Vec<String> = got.unknown.iter().map(ToString::to_string).collect();
        assert_eq!(
            seen,
            [
                "TierSpecification W/web: unknown attribute `Comment`",
                "TierSpecification W/web: unknown attribute `TierStart.TierStopOverrideFilename`",
                "TierSpecification W/web: unknown attribute `TierStop.Foo`",
                "WorkloadSpecification W: unknown attribute `VPCID`",
            ]
        );
        assert_eq!(got.unknown[2].item, "TierSpecification W/web");
        assert_eq!(got.unknown[2].attribute, "TierStop.Foo");
    }

    #[test]
    fn item_json_covers_every_type() {
        let mut it = Item::new();
        it.insert("s".into(), AttributeValue::S("x".into()));
        it.insert("n".into(), AttributeValue::N("5".into()));
        it.insert("f".into(), AttributeValue::N("1.5".into()));
        it.insert("big".into(), AttributeValue::N("1e400".into()));
        it.insert("b".into(), AttributeValue::Bool(true));
        it.insert("z".into(), AttributeValue::Null(true));
        it.insert(
            "l".into(),
            AttributeValue::L(vec![AttributeValue::S("a".into())]),
        );
        it.insert("ss".into(), AttributeValue::Ss(vec!["a".into()]));
        it.insert("ns".into(), AttributeValue::Ns(vec!["2".into()]));
        it.insert(
            "bin".into(),
            AttributeValue::B(aws_smithy_types::Blob::new(b"hi".to_vec())),
        );
        it.insert(
            "m".into(),
            AttributeValue::M(
                [
                    ("y".to_string(), AttributeValue::S("1".into())),
                    ("a".to_string(), AttributeValue::S("2".into())),
                ]
                .into_iter()
                .collect(),
            ),
        );
        let v = item_to_json(&it);
        assert_eq!(
            v,
            json!({"b": true, "big": "1e400", "bin": "aGk=", "f": 1.5, "l": ["a"], "m": {"a": "2", "y": "1"},
                   "n": 5, "ns": [2], "s": "x", "ss": ["a"], "z": null})
        );
        // Keys come out sorted, so the rendered text is stable.
        assert_eq!(
            serde_json::to_string(&v["m"]).expect("serialises"),
            r#"{"a":"2","y":"1"}"#
        );
        let keys: Vec<_> = v.as_object().expect("object").keys().cloned().collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
    }

    // ---------------------------------------------------------- round trip

    fn text() -> impl Strategy<Value = String> {
        "[A-Za-z0-9_.-]{1,12}"
    }

    fn override_file() -> impl Strategy<Value = OverrideFile> {
        prop_oneof![
            "/[a-z/ ]{1,20}".prop_map(|file| OverrideFile {
                file,
                os: GuestOs::Linux
            }),
            r"[C-D]:\\[a-z\\. ]{1,20}".prop_map(|file| OverrideFile {
                file,
                os: GuestOs::Windows
            }),
        ]
    }

    fn stop_action() -> impl Strategy<Value = StopAction> {
        (
            0u32..50,
            any::<bool>(),
            0u32..=crate::spec::MAX_TIER_DELAY_SECONDS,
            proptest::option::of(override_file()),
        )
            .prop_map(
                |(sequence, synchronous, delay_seconds, override_file)| StopAction {
                    sequence,
                    synchronous,
                    delay_seconds,
                    override_file,
                },
            )
    }

    fn start_action() -> impl Strategy<Value = StartAction> {
        (
            0u32..50,
            any::<bool>(),
            prop_oneof![
                Just(DEFAULT_TIER_DELAY_SECONDS),
                0u32..=crate::spec::MAX_TIER_DELAY_SECONDS
            ],
        )
            .prop_map(|(sequence, synchronous, delay_seconds)| StartAction {
                sequence,
                synchronous,
                delay_seconds,
                ..StartAction::new(0)
            })
    }

    fn tier_body() -> impl Strategy<
        Value = (
            Option<StopAction>,
            Option<StartAction>,
            BTreeMap<String, String>,
            Vec<MemberKind>,
        ),
    > {
        (
            proptest::option::of(stop_action()),
            proptest::option::of(start_action()),
            proptest::collection::btree_map("[a-z]{1,8}", "[a-z][0-9][a-z]?\\.[a-z0-9]{4,8}", 0..4),
            proptest::sample::subsequence(
                vec![MemberKind::Ec2, MemberKind::Rds, MemberKind::Asg],
                1..=3,
            ),
        )
    }

    prop_compose! {
        fn workload()(
            name in "[A-Za-z0-9_-]{1,16}",
            region in "[a-z]{2}-[a-z]{4,9}-[1-3]",
            disabled in any::<bool>(),
            tag_key in text(),
            tag_value in "[A-Za-z0-9 _.-]{0,12}",
            tier_tag_key in text(),
            vpc_id in proptest::option::of("vpc-[0-9a-f]{8}"),
            notify in proptest::option::of(text()),
            ssm in proptest::option::of((text(), proptest::option::of("[a-z/]{0,12}"))),
            scale in prop_oneof![Just(DEFAULT_SCALE_DELAY_SECONDS), 0u32..=crate::spec::MAX_SCALE_DELAY_SECONDS],
            // A map gives unique names in TierTagValue order, the order import returns.
            tiers in proptest::collection::btree_map("[A-Za-z_][A-Za-z0-9_]{0,7}", tier_body(), 1..=5),
        ) -> Workload {
            Workload {
                name,
                region,
                disabled,
                selector: Selector {
                    workload_tag: TagFilter { key: tag_key, value: tag_value },
                    tier_tag_key,
                    vpc_id,
                },
                notify: notify.map(|sns_topic| Notify { sns_topic }),
                ssm: ssm.map(|(output_bucket, output_key_prefix)| SsmOutput { output_bucket, output_key_prefix }),
                schedule: None,
                scale_instance_delay_seconds: scale,
                tiers: tiers
                    .into_iter()
                    .map(|(name, (stop, start, scaling, members))| Tier { name, stop, start, scaling, members })
                    .collect(),
            }
        }
    }

    proptest! {
        #[test]
        fn items_round_trip(w in workload()) {
            let items = to_items(&w);
            prop_assert_eq!(items.tiers.len(), w.tiers.len());
            let tiers: Vec<Item> = items.tiers.values().rev().cloned().collect();
            let back = from_items(&items.workload, &tiers).expect("tierctl's own items import");
            prop_assert!(back.unknown.is_empty(), "{:?}", back.unknown);
            prop_assert_eq!(&back.workload, &w);
            // tierctl's items are exactly the format structs.
            let strict: WorkloadItem = serde_dynamo::from_item(items.workload.clone()).expect("strict read");
            prop_assert_eq!(strict, workload_item(&w, OWNER_VALUE));
            // Every value tierctl writes is a string, as the original expects.
            for it in std::iter::once(&items.workload).chain(items.tiers.values()) {
                prop_assert_eq!(it.get(OWNER_ATTR), Some(&AttributeValue::S(OWNER_VALUE.into())));
                for v in it.values() {
                    let all_strings = match v {
                        AttributeValue::S(_) => true,
                        AttributeValue::M(m) => m.values().all(|x| matches!(x, AttributeValue::S(_))),
                        _ => false,
                    };
                    prop_assert!(all_strings, "{:?}", v);
                }
            }
        }
    }

    #[test]
    fn written_items_deserialise_into_the_format_structs() {
        let w = crate::spec::example_with_every_field();
        let items = to_items_marked(&w, "tierctl:repo");
        let back: WorkloadItem = serde_dynamo::from_item(items.workload.clone()).expect("reads");
        assert_eq!(back, workload_item(&w, "tierctl:repo"));
        for t in &w.tiers {
            let back: TierItem =
                serde_dynamo::from_item(items.tiers[&t.name].clone()).expect("reads");
            assert_eq!(back, tier_item(&w.name, t, "tierctl:repo"));
        }
        assert_eq!(
            string_attribute(&items.workload, OWNER_ATTR),
            Some("tierctl:repo")
        );
    }

    #[test]
    fn attribute_lists_come_from_the_structs_and_cover_what_is_written() {
        use std::collections::BTreeSet;
        fn set(names: &[&'static str]) -> BTreeSet<String> {
            names.iter().map(|n| n.to_string()).collect()
        }
        fn nested(items: &WorkloadItems, map: &str) -> BTreeSet<String> {
            items
                .tiers
                .values()
                .filter_map(|t| match t.get(map) {
                    Some(AttributeValue::M(m)) => Some(m.keys().cloned()),
                    _ => None,
                })
                .flatten()
                .collect()
        }
        // A spec that sets every field writes every attribute of the format, and no other.
        // (`members` is not the default in no example: an EC2-only spec's items must stay as they were.)
        let mut every = crate::spec::example_with_every_field();
        every.tiers[0].members = vec![MemberKind::Ec2, MemberKind::Rds, MemberKind::Asg];
        let full = to_items(&every);
        let written: BTreeSet<String> = full.workload.keys().cloned().collect();
        assert_eq!(written, set(format_attributes(ItemKind::Workload)));
        let written: BTreeSet<String> = full
            .tiers
            .values()
            .flat_map(|t| t.keys().cloned())
            .collect();
        assert_eq!(written, set(format_attributes(ItemKind::Tier)));
        assert_eq!(nested(&full, T::TIER_STOP), set(TierStop::ATTRIBUTES));
        assert_eq!(nested(&full, T::TIER_START), set(TierStart::ATTRIBUTES));
        // Names two maps share are one name.
        assert_eq!(W::SPEC_NAME, T::SPEC_NAME);
        assert_eq!((W::MANAGED_BY, T::MANAGED_BY), (OWNER_ATTR, OWNER_ATTR));
        assert_eq!(TierStop::TIER_SEQUENCE, TierStart::TIER_SEQUENCE);
        assert_eq!(
            TierStop::TIER_SYNCHRONIZATION,
            TierStart::TIER_SYNCHRONIZATION
        );
        assert_eq!(
            TierStop::INTER_TIER_ORCHESTRATION_DELAY,
            TierStart::INTER_TIER_ORCHESTRATION_DELAY
        );
        // Keys are the key attributes, as strings.
        assert_eq!(
            item_to_json(&tier_key("W", "web")),
            serde_json::json!({"SpecName": "W", "TierTagValue": "web"})
        );
        assert_eq!(
            item_to_json(&workload_key("W")),
            serde_json::json!({"SpecName": "W"})
        );
    }

    #[test]
    fn members_are_written_only_when_not_the_default_and_read_strictly() {
        let mut w = crate::spec::example_with_every_field();
        let plain = to_items(&w);
        assert!(
            item_to_json(&plain.tiers["Web"])
                .get("TierctlMembers")
                .is_none(),
            "an EC2-only tier stays in the original format"
        );
        w.tiers[0].members = vec![MemberKind::Asg, MemberKind::Ec2];
        let items = to_items(&w);
        assert_eq!(
            item_to_json(&items.tiers["Web"])["TierctlMembers"],
            "asg,ec2"
        );
        let tiers: Vec<Item> = items.tiers.values().cloned().collect();
        let back = from_items(&items.workload, &tiers).unwrap();
        let web = back
            .workload
            .tiers
            .iter()
            .find(|t| t.name == "Web")
            .unwrap();
        assert_eq!(web.members, vec![MemberKind::Asg, MemberKind::Ec2]);

        for bad in ["", "ec2,ec2", "lambda", "ec2;rds"] {
            let mut tier = item_to_json(&items.tiers["Web"]);
            tier["TierctlMembers"] = serde_json::json!(bad);
            let err = from_items(&items.workload, &[item(tier)]).unwrap_err();
            let text = err.to_string();
            assert!(text.contains("TierctlMembers"), "{bad:?}: {text}");
        }
    }

    #[test]
    fn tierctl_only_start_settings_round_trip_as_extra_attributes() {
        let w = crate::spec::example_with_every_field();
        let items = to_items(&w);
        let start = item_to_json(&items.tiers["Web"])["TierStart"].clone();
        assert_eq!(start["TierctlReregisterLoadBalancers"], "False");
        assert_eq!(start["TierctlWaitHealthy"], "True");
        assert_eq!(start["TierctlHealthTimeout"], "300");
        let tiers: Vec<Item> = items.tiers.values().cloned().collect();
        let back = from_items(&items.workload, &tiers).unwrap();
        assert!(back.unknown.is_empty(), "{:?}", back.unknown);
        let mut want = w.clone();
        want.tiers.sort_by(|a, b| a.name.cmp(&b.name));
        // The schedule is never written to the original tables.
        want.schedule = None;
        assert_eq!(back.workload, want);
    }
}
