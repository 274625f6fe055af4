//! What is running: the instances of each workload as EC2 reports them,
//! turned into plain data that the planner reads and that can be saved and
//! loaded (`--save-observed`, `--observed`) to reproduce a plan offline.

pub mod collect;
pub mod rds;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use collect::{Membership, Observer, Purpose, Wanted, collect};
pub use rds::{Database, DatabaseKind, ObservedDatabases};

/// Version of the observed-state file format.
pub const OBSERVED_VERSION: u32 = 1;

/// An EC2 instance state (`instance-state-name`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum InstanceState {
    /// Starting.
    Pending,
    /// Running.
    Running,
    /// Being terminated.
    ShuttingDown,
    /// Gone.
    Terminated,
    /// On its way to stopped.
    Stopping,
    /// Stopped.
    Stopped,
}

impl InstanceState {
    /// The name EC2 uses.
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceState::Pending => "pending",
            InstanceState::Running => "running",
            InstanceState::ShuttingDown => "shutting-down",
            InstanceState::Terminated => "terminated",
            InstanceState::Stopping => "stopping",
            InstanceState::Stopped => "stopped",
        }
    }

    /// Parses EC2's name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => InstanceState::Pending,
            "running" => InstanceState::Running,
            "shutting-down" => InstanceState::ShuttingDown,
            "terminated" => InstanceState::Terminated,
            "stopping" => InstanceState::Stopping,
            "stopped" => InstanceState::Stopped,
            _ => return None,
        })
    }
}

impl std::fmt::Display for InstanceState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One instance, as far as planning cares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Instance {
    /// `i-...`
    pub id: String,
    /// Value of the workload's tier tag; `None` when the instance lacks the tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    /// Current state.
    pub state: InstanceState,
    /// e.g. `t3.micro`.
    pub instance_type: String,
    /// The `Name` tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Launch time, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_time: Option<String>,
    /// What a type change must respect (read only when a start resizes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resize: Option<ResizeFacts>,
    /// Classic load balancers that list the instance (read for starts).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classic_load_balancers: Vec<String>,
    /// ELBv2 target groups that hold the instance (read for health gates).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub target_groups: Vec<String>,
    /// The Auto Scaling group that owns the instance (its
    /// `aws:autoscaling:groupName` tag): never acted on alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// The instance attributes a type change must respect.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResizeFacts {
    /// `x86_64`, `arm64`, `i386`...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
    /// `hvm` or `paravirtual`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtualization: Option<String>,
    /// ENA enabled on the instance (its AMI).
    #[serde(default)]
    pub ena_support: bool,
    /// EBS optimization on.
    #[serde(default)]
    pub ebs_optimized: bool,
    /// A Spot Instance (cannot change type).
    #[serde(default)]
    pub spot: bool,
    /// Hibernation configured (cannot change type).
    #[serde(default)]
    pub hibernation: bool,
}

/// What `DescribeInstanceTypes` says about a type.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TypeInfo {
    /// `ProcessorInfo.SupportedArchitectures`.
    pub architectures: Vec<String>,
    /// `SupportedVirtualizationTypes`.
    pub virtualization: Vec<String>,
    /// `NetworkInfo.EnaSupport`: unsupported | supported | required.
    pub ena: String,
    /// `EbsInfo.NvmeSupport`: unsupported | supported | required.
    pub nvme: String,
    /// `EbsInfo.EbsOptimizedSupport`: unsupported | supported | default.
    pub ebs_optimized: String,
}

/// The instances of one workload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObservedWorkload {
    /// Region they were read in.
    pub region: String,
    /// Every instance carrying the workload tag (in the VPC, when set), sorted by id.
    pub instances: Vec<Instance>,
    /// Instance types involved in a resize, as the region describes them
    /// (a type missing here does not exist in the region). Empty when no
    /// resize was planned or the types were not read.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub instance_types: BTreeMap<String, TypeInfo>,
    /// Whether `instance_types` was read (so a missing type means "does not exist").
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub types_read: bool,
    /// RDS DB instances and Aurora DB clusters carrying the workload tag,
    /// sorted by kind and id (read only when a tier holds `rds` members).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub databases: Vec<Database>,
    /// When the databases were read (RFC 3339 UTC), when they were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub databases_read_at: Option<String>,
    /// Auto Scaling groups carrying the workload tag, sorted by name (read
    /// only for workloads with a tier holding `asg`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<Group>,
}

/// One Auto Scaling group, as far as planning cares.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    /// Group name.
    pub name: String,
    /// Value of the workload's tier tag on the group; `None` without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    /// `MinSize`.
    pub min_size: i32,
    /// `MaxSize`.
    pub max_size: i32,
    /// `DesiredCapacity`.
    pub desired: i32,
    /// Instances of the group by id, with their lifecycle state (`InService`, `Pending`, `Standby`...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub instances: BTreeMap<String, String>,
    /// The group has a warm pool (`WarmPoolConfiguration`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub warm_pool: bool,
    /// The raw value of the recorded-sizes tag (`tierctl:stopped-sizes`), when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded_sizes: Option<String>,
    /// The raw value of the group's override tag (`tierctl:keep-running`), when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_running: Option<String>,
    /// ELBv2 target groups the group registers its instances with.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub target_groups: Vec<String>,
    /// Classic load balancers the group registers its instances with.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub load_balancers: Vec<String>,
}

impl Group {
    /// Instances in the lifecycle state `state`.
    pub fn count(&self, state: &str) -> usize {
        self.instances.values().filter(|s| *s == state).count()
    }
}

/// Observed state of several workloads; the `--observed` file format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Observed {
    /// Format version ([`OBSERVED_VERSION`]).
    pub version: u32,
    /// By workload name.
    pub workloads: BTreeMap<String, ObservedWorkload>,
}

impl Default for Observed {
    fn default() -> Self {
        Observed {
            version: OBSERVED_VERSION,
            workloads: BTreeMap::new(),
        }
    }
}

impl Observed {
    /// Parses a saved file's text, naming what is wrong.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let observed: Observed = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if observed.version != OBSERVED_VERSION {
            return Err(format!(
                "observed-state format version {} is not supported (expected {OBSERVED_VERSION})",
                observed.version
            ));
        }
        Ok(observed)
    }

    /// The file text: pretty, deterministic.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("serialisable");
        s.push('\n');
        s
    }
}
