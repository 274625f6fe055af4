//! The workload spec: what a YAML file in `workloads/` says, as Rust types.
//!
//! One [`Workload`] per file. The field names are the contract with users
//! (camelCase in YAML) and map one to one onto the original scheduler's
//! DynamoDB items (named in each field's doc). The JSON Schema in `schema/`
//! is generated from these types, so their doc comments are what editors show.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Default seconds to wait after a tier before the next one (`InterTierOrchestrationDelay`).
pub const DEFAULT_TIER_DELAY_SECONDS: u32 = 5;
/// Default seconds between resizing an instance and starting it (`ScaleInstanceDelay`).
pub const DEFAULT_SCALE_DELAY_SECONDS: u32 = 4;
/// Upper bound for any inter-tier delay: an hour is already a very long pause in a nightly run.
pub const MAX_TIER_DELAY_SECONDS: u32 = 3600;
/// Upper bound for the resize-to-start delay.
pub const MAX_SCALE_DELAY_SECONDS: u32 = 600;

/// A workload: a system of tiers of EC2 instances stopped and started together.
///
/// Tiers whose `sequence` is equal form one wave and are acted on together.
/// Maps onto one `WorkloadSpecification` item and one `TierSpecification`
/// item per tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "tierctl workload")]
pub struct Workload {
    /// Workload name (`SpecName`); must equal the file name without `.yaml`.
    #[schemars(length(min = 1, max = 128))]
    pub name: String,
    /// AWS region where the instances run (`WorkloadRegion`), e.g. `us-west-2`.
    pub region: String,
    /// Kill switch (`DisableAllSchedulingActions` = "1"): when true, no run does anything for this workload.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disabled: bool,
    /// Which instances belong to the workload and to which tier.
    pub selector: Selector,
    /// Where to tell humans about instances that were bypassed, held back or failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<Notify>,
    /// Where SSM writes the output of override checks, for audit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssm: Option<SsmOutput>,
    /// When the workload stops and starts by itself (EventBridge Scheduler invoking the
    /// tierctl Lambda runner; tierctl only, never stored in the original tables).
    /// Without it the workload is only run by hand or by CI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Schedule>,
    /// Seconds between resizing a tier's instances and starting them (`ScaleInstanceDelay`).
    #[serde(default = "default_scale_delay")]
    #[schemars(range(max = 600))]
    pub scale_instance_delay_seconds: u32,
    /// The tiers, in any order: `stop.sequence` and `start.sequence` decide the order.
    /// At most 99, so that a workload is written in one DynamoDB transaction.
    #[schemars(length(min = 1, max = 99))]
    pub tiers: Vec<Tier>,
}

/// How instances are found: by tag, optionally within one VPC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Selector {
    /// The tag every instance of the workload carries (`WorkloadFilterTagName` / `WorkloadFilterTagValue`).
    pub workload_tag: TagFilter,
    /// The tag key whose value names an instance's tier (`TierFilterTagName`).
    #[schemars(length(min = 1, max = 128))]
    pub tier_tag_key: String,
    /// Limit discovery to this VPC (`VPC_ID`). Recommended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
}

/// An EC2 tag key and value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TagFilter {
    /// Tag key (1-128 characters, not starting with `aws:`).
    #[schemars(length(min = 1, max = 128))]
    pub key: String,
    /// Tag value (up to 256 characters).
    #[schemars(length(max = 256))]
    pub value: String,
}

/// Notifications.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Notify {
    /// SNS topic name in the workload's region (`SNSTopicName`).
    pub sns_topic: String,
}

/// A workload's schedule: cron expressions read in one IANA time zone.
///
/// Synced to Amazon EventBridge Scheduler as one schedule per action, with
/// `ScheduleExpressionTimezone` set, so AWS handles daylight saving time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Schedule {
    /// IANA time zone name the expressions are read in, e.g. `Europe/Berlin` or `UTC`.
    #[schemars(length(min = 1, max = 50))]
    pub timezone: String,
    /// When `run stop` runs. Without it the workload is never stopped by schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<ScheduledStop>,
    /// When `run start` runs. Without it the workload is never started by schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<ScheduledStart>,
}

/// The scheduled stop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScheduledStop {
    /// EventBridge Scheduler cron, six fields without `cron(...)`:
    /// `minutes hours day-of-month month day-of-week year`, e.g. `0 19 ? * MON-FRI *`.
    #[schemars(length(min = 11, max = 256))]
    pub cron: String,
}

/// The scheduled start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScheduledStart {
    /// EventBridge Scheduler cron, six fields without `cron(...)`:
    /// `minutes hours day-of-month month day-of-week year`, e.g. `0 7 ? * MON-FRI *`.
    #[schemars(length(min = 11, max = 256))]
    pub cron: String,
    /// Scaling profile applied at the scheduled start (a key of the tiers' `scaling`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    pub profile: Option<String>,
}

/// SSM command output location (`SSMS3BucketName` / `SSMS3KeyPrefixName`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SsmOutput {
    /// S3 bucket for SSM command output; must be in the workload's region.
    pub output_bucket: String,
    /// Key prefix inside the bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 500))]
    pub output_key_prefix: Option<String>,
}

/// One tier: the instances whose tier tag has this value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Tier {
    /// Tier name = the tier tag's value on its instances (`TierTagValue`).
    #[schemars(length(min = 1, max = 256))]
    pub name: String,
    /// How the tier is stopped (`TierStop`). Without it, `stop` leaves the tier alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<StopAction>,
    /// How the tier is started (`TierStart`). Without it, `start` leaves the tier alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<StartAction>,
    /// Scaling profiles (`TierScaling`): profile name -> instance type applied at start with `--profile`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub scaling: BTreeMap<String, String>,
    /// Which kinds of resources carrying the tier tag are the tier's members
    /// (tierctl only, default `[ec2]`; stored as `TierctlMembers` only when not the default).
    #[serde(
        default = "default_members",
        skip_serializing_if = "is_default_members"
    )]
    #[schemars(length(min = 1, max = 3), extend("uniqueItems" = true))]
    pub members: Vec<MemberKind>,
}

/// A kind of tier member.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum MemberKind {
    /// EC2 instances (not those of an Auto Scaling group: those go with their group).
    Ec2,
    /// RDS DB instances and Aurora DB clusters (an Aurora member through its cluster).
    Rds,
    /// EC2 Auto Scaling groups: stopped by scaling to zero, which terminates their instances.
    Asg,
}

impl MemberKind {
    /// `ec2` / `rds` / `asg`, as in specs and items.
    pub fn as_str(self) -> &'static str {
        match self {
            MemberKind::Ec2 => "ec2",
            MemberKind::Rds => "rds",
            MemberKind::Asg => "asg",
        }
    }

    /// Parses [`MemberKind::as_str`]'s names.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "ec2" => MemberKind::Ec2,
            "rds" => MemberKind::Rds,
            "asg" => MemberKind::Asg,
            _ => return None,
        })
    }
}

/// `[ec2]`: what a tier holds unless it says otherwise.
pub fn default_members() -> Vec<MemberKind> {
    vec![MemberKind::Ec2]
}

fn is_default_members(m: &[MemberKind]) -> bool {
    m == [MemberKind::Ec2]
}

impl Tier {
    /// Whether the tier holds members of `kind`.
    pub fn holds(&self, kind: MemberKind) -> bool {
        self.members.contains(&kind)
    }
}

/// Stop settings of a tier (`TierStop`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StopAction {
    /// Position in the stop order, 0 first (`TierSequence`); equal sequences form one wave.
    pub sequence: u32,
    /// Wait until every instance of the tier is stopped before the next wave (`TierSynchronization`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub synchronous: bool,
    /// Seconds to wait after this tier before the next wave (`InterTierOrchestrationDelay`).
    #[serde(default = "default_tier_delay")]
    #[schemars(range(max = 3600))]
    pub delay_seconds: u32,
    /// A file inside the guest that, when present, keeps that instance running.
    #[serde(default, rename = "override", skip_serializing_if = "Option::is_none")]
    pub override_file: Option<OverrideFile>,
}

/// Start settings of a tier (`TierStart`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StartAction {
    /// Position in the start order, 0 first (`TierSequence`); equal sequences form one wave.
    pub sequence: u32,
    /// Wait until every instance of the tier is running before the next wave (`TierSynchronization`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub synchronous: bool,
    /// Seconds to wait after this tier before the next wave (`InterTierOrchestrationDelay`).
    #[serde(default = "default_tier_delay")]
    #[schemars(range(max = 3600))]
    pub delay_seconds: u32,
    /// Deregister the tier's instances from the classic load balancers that list them before
    /// the start, and register them again once running, so health checks start clean
    /// (tierctl only, default true; stored as `TierStart.TierctlReregisterLoadBalancers`).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub reregister_load_balancers: bool,
    /// The tier's health gate: before the next wave, wait until its members are healthy:
    /// EC2 instances pass status checks, are healthy in every ELBv2 target group and
    /// `InService` in every classic load balancer that holds them; RDS/Aurora members are
    /// `available`; Auto Scaling groups have InService = desired
    /// (tierctl only, default false; `TierStart.TierctlWaitHealthy`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub wait_healthy: bool,
    /// How long `waitHealthy` waits (tierctl only, default 600; `TierStart.TierctlHealthTimeout`).
    #[serde(
        default = "default_health_timeout",
        skip_serializing_if = "is_default_health_timeout"
    )]
    #[schemars(range(min = 1, max = 3600))]
    pub health_timeout_seconds: u32,
}

/// Default seconds a health gate waits.
pub const DEFAULT_HEALTH_TIMEOUT_SECONDS: u32 = 600;

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

fn default_health_timeout() -> u32 {
    DEFAULT_HEALTH_TIMEOUT_SECONDS
}

fn is_default_health_timeout(s: &u32) -> bool {
    *s == DEFAULT_HEALTH_TIMEOUT_SECONDS
}

impl StartAction {
    /// Start settings with the defaults.
    pub fn new(sequence: u32) -> Self {
        StartAction {
            sequence,
            synchronous: false,
            delay_seconds: DEFAULT_TIER_DELAY_SECONDS,
            reregister_load_balancers: true,
            wait_healthy: false,
            health_timeout_seconds: DEFAULT_HEALTH_TIMEOUT_SECONDS,
        }
    }
}

/// The stop override file (`TierStopOverrideFilename` / `TierStopOverrideOperatingSystem`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OverrideFile {
    /// Absolute path of the file in the guest, e.g. `/tmp/StopOverride` or `C:\ignore.txt`.
    #[schemars(length(min = 1, max = 1024))]
    pub file: String,
    /// The guest's operating system, which decides how the file is checked.
    pub os: GuestOs,
}

/// Guest operating system family.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum GuestOs {
    /// Checked with `AWS-RunShellScript`.
    Linux,
    /// Checked with `AWS-RunPowerShellScript`.
    Windows,
}

impl GuestOs {
    /// The name the original tool stores (`Linux` / `Windows`).
    pub fn original_name(self) -> &'static str {
        match self {
            GuestOs::Linux => "Linux",
            GuestOs::Windows => "Windows",
        }
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn default_tier_delay() -> u32 {
    DEFAULT_TIER_DELAY_SECONDS
}

fn default_scale_delay() -> u32 {
    DEFAULT_SCALE_DELAY_SECONDS
}

/// The JSON Schema of a workload file, as committed in `schema/workload.schema.json`.
pub fn json_schema() -> serde_json::Value {
    // Optional fields are "absent or valid", not "null or valid": without
    // the null alternative, errors inside an optional block are reported
    // precisely instead of as "not valid under any of the schemas".
    let mut schema = serde_json::to_value(schemars::schema_for!(Workload))
        .expect("a generated schema is always serialisable");
    drop_null_alternatives(&mut schema);
    schema
}

/// Rewrites `anyOf: [X, {type: null}]` to `X` and `type: [T, "null"]` to `T`.
fn drop_null_alternatives(node: &mut serde_json::Value) {
    use serde_json::Value;
    let Value::Object(map) = node else {
        if let Value::Array(items) = node {
            items.iter_mut().for_each(drop_null_alternatives);
        }
        return;
    };
    if let Some(Value::Array(types)) = map.get_mut("type") {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let only = types.remove(0);
            map.insert("type".into(), only);
        }
    }
    let is_null = |v: &Value| v.get("type") == Some(&Value::from("null"));
    if let Some(Value::Array(alts)) = map.get("anyOf")
        && alts.len() == 2
        && alts.iter().any(is_null)
    {
        let keep = alts
            .iter()
            .find(|a| !is_null(a))
            .cloned()
            .unwrap_or_default();
        map.remove("anyOf");
        if let Value::Object(inner) = keep {
            for (k, v) in inner {
                map.entry(k).or_insert(v);
            }
        }
    }
    map.values_mut().for_each(drop_null_alternatives);
}

/// The schema as the committed file's text (pretty JSON, trailing newline).
pub fn json_schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&json_schema()).expect("schema serialises");
    text.push('\n');
    text
}

/// A workload that sets every optional field.
///
/// The reference for the attribute names tierctl manages in DynamoDB, and a
/// handy fixture.
pub fn example_with_every_field() -> Workload {
    let tier = |name: &str, seq: u32| Tier {
        name: name.into(),
        stop: Some(StopAction {
            sequence: seq,
            synchronous: true,
            delay_seconds: 7,
            override_file: Some(OverrideFile {
                file: "/tmp/StopOverride".into(),
                os: GuestOs::Linux,
            }),
        }),
        start: Some(StartAction {
            sequence: seq,
            synchronous: true,
            delay_seconds: 9,
            reregister_load_balancers: false,
            wait_healthy: true,
            health_timeout_seconds: 300,
        }),
        scaling: BTreeMap::from([("default".into(), "t3.micro".into())]),
        members: default_members(),
    };
    Workload {
        name: "Everything".into(),
        region: "us-west-2".into(),
        disabled: true,
        selector: Selector {
            workload_tag: TagFilter {
                key: "Environment".into(),
                value: "ENV001".into(),
            },
            tier_tag_key: "Role".into(),
            vpc_id: Some("vpc-0123abcd".into()),
        },
        notify: Some(Notify {
            sns_topic: "topic".into(),
        }),
        ssm: Some(SsmOutput {
            output_bucket: "bucket".into(),
            output_key_prefix: Some("prefix".into()),
        }),
        schedule: Some(Schedule {
            timezone: "Europe/Berlin".into(),
            stop: Some(ScheduledStop {
                cron: "0 19 ? * MON-FRI *".into(),
            }),
            start: Some(ScheduledStart {
                cron: "0 7 ? * MON-FRI *".into(),
                profile: Some("default".into()),
            }),
        }),
        scale_instance_delay_seconds: 8,
        tiers: vec![tier("Web", 0), tier("DB", 1)],
    }
}
