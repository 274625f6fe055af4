//! Least-privilege IAM policy generation: the policy document the role
//! running tierctl needs for a set of workloads. Pure: no I/O, no AWS call.
//!
//! Every statement says which commands need it ([`Part`]), so the policy can
//! be printed whole or just for `plan`, `sync` (and plan) or `run`. Each
//! action is listed by name (no wildcard), resources are ARNs wherever AWS
//! supports resource-level permissions, EC2 and SSM instance actions are
//! conditioned on the workload tag, and `Resource: "*"` statements (APIs
//! without resource-level permissions) are limited to the workloads'
//! regions with `aws:RequestedRegion`.
//!
//! The actions come from [`crate::aws::catalogue`], the one list of the AWS
//! calls tierctl makes (a test checks that a policy with every feature
//! allows exactly the catalogue's actions). Beyond the resources:
//! `ec2:ModifyInstanceAttribute` only for `InstanceType` (to the profiles'
//! types) and `EbsOptimized` = false (`ec2:Attribute`,
//! `ec2:Attribute/${Name}`); DynamoDB item actions only on the specs'
//! SpecNames (`dynamodb:LeadingKeys`; Scan and the table actions do not take
//! it); `kms:CreateGrant` for EC2 (`kms:GrantIsForAWSResource`) when
//! starting; `ssm:SendCommand` only on tierctl's document and the tagged
//! instances.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::Tables;
use crate::aws::catalogue::{self, Resource};
use crate::spec::{GuestOs, MemberKind, Workload};

/// Which commands' statements to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Part {
    /// Read-only: `plan`, `sync --check`, `import` (e.g. a pull request role).
    Plan,
    /// `sync` and everything `plan` needs.
    Sync,
    /// `run` and `unlock`.
    Run,
    /// Everything.
    All,
}

impl Part {
    /// Whether a statement used by `uses` belongs in this part.
    fn includes(self, uses: &BTreeSet<Part>) -> bool {
        match self {
            Part::All => true,
            Part::Plan => uses.contains(&Part::Plan),
            Part::Sync => uses.contains(&Part::Plan) || uses.contains(&Part::Sync),
            Part::Run => uses.contains(&Part::Run),
        }
    }
}

/// Settings of a policy besides the workloads and tables.
#[derive(Debug, Clone, Copy)]
pub struct Settings<'a> {
    /// The run lease table (`--lock-table`).
    pub lock_table: &'a str,
    /// The AWS account id; `None` writes `*` in ARNs.
    pub account: Option<&'a str>,
    /// The ARN partition (`aws`, `aws-cn`, `aws-us-gov`, ...).
    pub partition: &'a str,
    /// Also allow `sns:CreateTopic` on the topics.
    pub create_topic: bool,
    /// Which commands' statements.
    pub part: Part,
    /// The role EventBridge Scheduler assumes (`iam:PassRole` for sync);
    /// `None`: [`DEFAULT_SCHEDULER_ROLE`] in the account.
    pub scheduler_role: Option<&'a str>,
    /// The runner function; `None`: [`DEFAULT_RUNNER`] in the tables' region.
    pub runner: Option<&'a str>,
    /// The schedules' dead-letter queue (Scheduler's role sends to it).
    pub dead_letter: Option<&'a str>,
}

/// The scheduler role's name deploy/tierctl-runner.yaml gives by default.
pub const DEFAULT_SCHEDULER_ROLE: &str = "tierctl-scheduler";

/// The runner function's name deploy/tierctl-runner.yaml gives by default.
pub const DEFAULT_RUNNER: &str = "tierctl-runner";

impl Settings<'_> {
    fn account(&self) -> &str {
        self.account.unwrap_or("*")
    }

    /// The scheduler role's ARN.
    pub fn scheduler_role_arn(&self) -> String {
        self.scheduler_role.map(str::to_string).unwrap_or_else(|| {
            format!(
                "arn:{}:iam::{}:role/{DEFAULT_SCHEDULER_ROLE}",
                self.partition,
                self.account()
            )
        })
    }

    /// The runner function's ARN (in `region` when not given).
    pub fn runner_arn(&self, region: &str) -> String {
        self.runner.map(str::to_string).unwrap_or_else(|| {
            format!(
                "arn:{}:lambda:{region}:{}:function:{DEFAULT_RUNNER}",
                self.partition,
                self.account()
            )
        })
    }
}

/// One policy statement (always `Effect: Allow`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// Statement id: letters and digits only, unique in the policy.
    pub sid: String,
    /// Full `service:Action` names, sorted.
    pub actions: BTreeSet<String>,
    /// Resource ARNs (or `*`), sorted.
    pub resources: BTreeSet<String>,
    /// `Condition` block, when any.
    pub condition: Option<Value>,
    /// Commands that need this statement.
    pub uses: BTreeSet<Part>,
}

impl Statement {
    fn new(sid: &str, actions: &[&str], resources: impl IntoIterator<Item = String>) -> Self {
        Statement {
            sid: sid.to_string(),
            actions: actions.iter().map(|a| a.to_string()).collect(),
            resources: resources.into_iter().collect(),
            condition: None,
            uses: BTreeSet::from([Part::Run]),
        }
    }

    fn used_by(mut self, uses: &[Part]) -> Self {
        self.uses = uses.iter().copied().collect();
        self
    }

    fn with_condition(mut self, condition: Value) -> Self {
        self.condition = Some(condition);
        self
    }

    /// The statement as policy JSON.
    pub fn to_json(&self) -> Value {
        let mut s = json!({
            "Sid": self.sid,
            "Effect": "Allow",
            "Action": self.actions.iter().collect::<Vec<_>>(),
            "Resource": self.resources.iter().collect::<Vec<_>>(),
        });
        if let Some(c) = &self.condition {
            s["Condition"] = c.clone();
        }
        s
    }
}

/// The partition a region belongs to (`cn-north-1` -> `aws-cn`, ...).
pub fn partition_for_region(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else {
        "aws"
    }
}

/// The SSM document that checks override files (any OS).
pub fn document_for(_os: GuestOs) -> &'static str {
    crate::guest::DOCUMENT
}

/// Catalogue actions on `resource`, split by whether they take `dynamodb:LeadingKeys`.
fn split_leading(resource: Resource) -> (Vec<&'static str>, Vec<&'static str>) {
    let keyed = catalogue::actions_with(resource, "dynamodb:LeadingKeys");
    let all = catalogue::actions(Some(resource));
    (
        all.difference(&keyed).copied().collect(),
        keyed.into_iter().collect(),
    )
}

/// The policy document for `workloads` (only the statements of `settings.part`).
pub fn policy(workloads: &[&Workload], tables: &Tables, settings: &Settings<'_>) -> Value {
    let statements: Vec<Value> = statements(workloads, tables, settings)
        .iter()
        .map(Statement::to_json)
        .collect();
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// Every `service:Action` a policy document allows, sorted.
pub fn actions_of(policy: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for s in policy["Statement"].as_array().into_iter().flatten() {
        match &s["Action"] {
            Value::String(a) => {
                out.insert(a.clone());
            }
            Value::Array(list) => {
                out.extend(list.iter().filter_map(|a| a.as_str().map(str::to_string)));
            }
            _ => {}
        }
    }
    out
}

/// The statements, in a fixed order (config tables, lock table, EC2, SSM, SNS, S3).
pub fn statements(
    workloads: &[&Workload],
    tables: &Tables,
    settings: &Settings<'_>,
) -> Vec<Statement> {
    let p = settings.partition;
    let account = settings.account.unwrap_or("*");
    let table_region = tables.region.as_deref().unwrap_or("*");
    let table_arn = |name: &str| format!("arn:{p}:dynamodb:{table_region}:{account}:table/{name}");
    let config_tables = || {
        [
            table_arn(&tables.workload_table),
            table_arn(&tables.tier_table),
        ]
    };
    let in_regions = |regions: &BTreeSet<&str>| json!({"StringEquals": {"aws:RequestedRegion": regions.iter().collect::<Vec<_>>()}});
    let mut out = Vec::new();

    // Configuration tables: read by plan, sync, import and run --from dynamodb; written by sync.
    // Item writes only on the specs' SpecNames (the tables' partition key).
    let spec_names: Vec<&str> = workloads
        .iter()
        .map(|w| w.name.as_str())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let leading =
        |names: &[&str]| json!({"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": names}});
    let (config_table_actions, config_item_actions) = split_leading(Resource::ConfigTable);
    let create_table = ["dynamodb:CreateTable"];
    let read: Vec<&str> = config_table_actions
        .iter()
        .copied()
        .filter(|a| !create_table.contains(a))
        .collect();
    out.push(
        Statement::new("ConfigTablesRead", &read, config_tables()).used_by(&[
            Part::Plan,
            Part::Sync,
            Part::Run,
        ]),
    );
    // TransactWriteItems is authorised per item by the item-level actions of
    // its Put and Delete entries (sync sends no others); it is no IAM action itself.
    out.push(
        Statement::new("ConfigTablesCreate", &create_table, config_tables()).used_by(&[Part::Sync]),
    );
    out.push(
        Statement::new(
            "ConfigTablesWriteItems",
            &config_item_actions,
            config_tables(),
        )
        .with_condition(leading(&spec_names))
        .used_by(&[Part::Sync]),
    );
    // Run leases (run, unlock); in the tables' region. A lease's key is its workload's name.
    let (lock_table_actions, lock_item_actions) = split_leading(Resource::LockTable);
    out.push(Statement::new(
        "LockTable",
        &lock_table_actions,
        [table_arn(settings.lock_table)],
    ));
    out.push(
        Statement::new(
            "LockTableItems",
            &lock_item_actions,
            [table_arn(settings.lock_table)],
        )
        .with_condition(leading(&spec_names)),
    );

    // EC2: Describe* have no resource-level permissions. Instance types are
    // read for the resize checks of a start with a scaling profile.
    let regions: BTreeSet<&str> = workloads.iter().map(|w| w.region.as_str()).collect();
    if !regions.is_empty() {
        let resizes = workloads
            .iter()
            .flat_map(|w| &w.tiers)
            .any(|t| t.start.is_some() && !t.scaling.is_empty());
        let waits = workloads
            .iter()
            .flat_map(|w| &w.tiers)
            .any(|t| t.start.as_ref().is_some_and(|s| s.wait_healthy));
        let mut actions = vec!["ec2:DescribeInstances"];
        if resizes {
            actions.push("ec2:DescribeInstanceTypes");
        }
        if waits {
            actions.push("ec2:DescribeInstanceStatus");
        }
        out.push(
            Statement::new("Ec2Describe", &actions, ["*".to_string()])
                .with_condition(in_regions(&regions))
                .used_by(&[Part::Plan, Part::Run]),
        );
    }
    // State changes and resizes: per (region, workload tag key), on instances carrying the tag.
    // (region, tag key) -> (tag values, actions)
    let mut by_tag: BTreeMap<(&str, &str), TagGroup<'_>> = BTreeMap::new();
    for w in workloads {
        let tag = &w.selector.workload_tag;
        let (values, actions) = by_tag
            .entry((w.region.as_str(), tag.key.as_str()))
            .or_default();
        values.insert(tag.value.as_str());
        for t in &w.tiers {
            if t.stop.is_some() {
                actions.insert("ec2:StopInstances");
            }
            if t.start.is_some() {
                actions.insert("ec2:StartInstances");
            }
        }
    }
    let instances = |region: &str| format!("arn:{p}:ec2:{region}:{account}:instance/*");
    let mut sids = Sids::default();
    for ((region, key), (values, actions)) in &by_tag {
        if actions.is_empty() {
            continue;
        }
        let actions: Vec<&str> = actions.iter().copied().collect();
        out.push(
            Statement::new(
                &sids.unique(&format!("Ec2Instances{}{}", sid_part(region), sid_part(key))),
                &actions,
                [instances(region)],
            )
            .with_condition(
                json!({"StringEquals": {format!("aws:ResourceTag/{key}"): values.iter().collect::<Vec<_>>()}}),
            ),
        );
    }
    // Resizes (start with a scaling profile): ModifyInstanceAttribute for
    // exactly the two attributes tierctl sets, never user data or the rest.
    let mut resizes: BTreeMap<(&str, &str), ResizeGroup<'_>> = BTreeMap::new();
    for w in workloads {
        let tag = &w.selector.workload_tag;
        let types: BTreeSet<&str> = w
            .tiers
            .iter()
            .filter(|t| t.start.is_some())
            .flat_map(|t| t.scaling.values().map(String::as_str))
            .collect();
        if types.is_empty() {
            continue;
        }
        let (values, all_types) = resizes
            .entry((w.region.as_str(), tag.key.as_str()))
            .or_default();
        values.insert(tag.value.as_str());
        all_types.extend(types);
    }
    for ((region, key), (values, types)) in &resizes {
        let tag_key = format!("aws:ResourceTag/{key}");
        let values: Vec<&&str> = values.iter().collect();
        out.push(
            Statement::new(
                &sids.unique(&format!(
                    "Ec2ResizeInstanceType{}{}",
                    sid_part(region),
                    sid_part(key)
                )),
                &["ec2:ModifyInstanceAttribute"],
                [instances(region)],
            )
            .with_condition(json!({"StringEquals": {
                tag_key.clone(): values,
                "ec2:Attribute": "InstanceType",
                "ec2:Attribute/InstanceType": types.iter().collect::<Vec<_>>(),
            }})),
        );
        out.push(
            Statement::new(
                &sids.unique(&format!(
                    "Ec2ResizeEbsOptimized{}{}",
                    sid_part(region),
                    sid_part(key)
                )),
                &["ec2:ModifyInstanceAttribute"],
                [instances(region)],
            )
            .with_condition(json!({"StringEquals": {
                tag_key: values,
                "ec2:Attribute": "EbsOptimized",
                "ec2:Attribute/EbsOptimized": "false",
            }})),
        );
    }
    // Starting instances whose volumes are encrypted with a customer managed
    // key: EC2 creates a KMS grant on the caller's behalf.
    let start_regions: BTreeSet<&str> = workloads
        .iter()
        .filter(|w| w.tiers.iter().any(|t| t.start.is_some()))
        .map(|w| w.region.as_str())
        .collect();
    if !start_regions.is_empty() {
        out.push(
            Statement::new(
                "KmsGrantForEc2",
                &catalogue::actions(Some(Resource::Key))
                    .into_iter()
                    .collect::<Vec<_>>(),
                start_regions
                    .iter()
                    .map(|r| format!("arn:{p}:kms:{r}:{account}:key/*")),
            )
            .with_condition(json!({"Bool": {"kms:GrantIsForAWSResource": "true"}})),
        );
    }

    out.extend(rds_statements(workloads, p, account, &mut sids));

    // Load balancers, for starts: classic ELB re-registration (`reregisterLoadBalancers`,
    // on by default) and ELBv2 target health (`waitHealthy`). Their Describe
    // actions have no resource-level permissions.
    let mut classic_regions = BTreeSet::new();
    let mut v2_regions = BTreeSet::new();
    for w in workloads {
        for s in w.tiers.iter().filter_map(|t| t.start.as_ref()) {
            if s.reregister_load_balancers {
                classic_regions.insert(w.region.as_str());
            }
            if s.wait_healthy {
                v2_regions.insert(w.region.as_str());
            }
        }
    }
    if !classic_regions.is_empty() || !v2_regions.is_empty() {
        let mut actions = Vec::new();
        // Classic membership is read for re-registration and for the health
        // gate (`InService` in the classic load balancers that hold a tier).
        actions.push("elasticloadbalancing:DescribeLoadBalancers");
        if !v2_regions.is_empty() {
            actions.extend([
                "elasticloadbalancing:DescribeTargetGroups",
                "elasticloadbalancing:DescribeTargetHealth",
            ]);
        }
        let both: BTreeSet<&str> = classic_regions.union(&v2_regions).copied().collect();
        out.push(
            Statement::new("ElbDescribe", &actions, ["*".to_string()])
                .with_condition(in_regions(&both))
                .used_by(&[Part::Plan, Part::Run]),
        );
    }
    // The health gate (`InService` in classic load balancers) of instances and groups.
    let gated: BTreeSet<&str> = workloads
        .iter()
        .filter(|w| {
            w.tiers
                .iter()
                .any(|t| t.start.as_ref().is_some_and(|s| s.wait_healthy))
        })
        .map(|w| w.region.as_str())
        .collect();
    if !gated.is_empty() {
        out.push(
            Statement::new(
                "ElbClassicHealth",
                &["elasticloadbalancing:DescribeInstanceHealth"],
                ["*".to_string()],
            )
            .with_condition(
                json!({"StringEquals": {"aws:RequestedRegion": gated.iter().collect::<Vec<_>>()}}),
            )
            .used_by(&[Part::Run]),
        );
    }
    if !classic_regions.is_empty() {
        // Which classic load balancers hold the instances is only known at run time.
        out.push(Statement::new(
            "ElbClassicReregister",
            &[
                "elasticloadbalancing:DeregisterInstancesFromLoadBalancer",
                "elasticloadbalancing:RegisterInstancesWithLoadBalancer",
            ],
            classic_regions
                .iter()
                .map(|r| format!("arn:{p}:elasticloadbalancing:{r}:{account}:loadbalancer/*")),
        ));
    }

    out.extend(asg_statements(workloads, p, account, &mut sids));

    // SSM override checks: only for workloads with a tier that has `stop.override`.
    let mut ssm_regions = BTreeSet::new();
    let mut documents = BTreeSet::new();
    let mut ssm_tags: BTreeMap<(&str, &str), BTreeSet<&str>> = BTreeMap::new();
    for w in workloads {
        let oses: BTreeSet<GuestOs> = w
            .tiers
            .iter()
            .filter_map(|t| t.stop.as_ref()?.override_file.as_ref().map(|o| o.os))
            .collect();
        if oses.is_empty() {
            continue;
        }
        ssm_regions.insert(w.region.as_str());
        for os in oses {
            documents.insert(format!(
                "arn:{p}:ssm:{}:{account}:document/{}",
                w.region,
                document_for(os)
            ));
        }
        let tag = &w.selector.workload_tag;
        ssm_tags
            .entry((w.region.as_str(), tag.key.as_str()))
            .or_default()
            .insert(tag.value.as_str());
    }
    if !ssm_regions.is_empty() {
        out.push(
            Statement::new(
                "SsmDescribeInstanceInformation",
                &["ssm:DescribeInstanceInformation"],
                ["*".to_string()],
            )
            .with_condition(in_regions(&ssm_regions)),
        );
        out.push(Statement::new(
            "SsmSendCommandDocuments",
            &["ssm:SendCommand"],
            documents.clone(),
        ));
        // sync manages the document; sync --check (and the plan role) reads it.
        out.push(
            Statement::new(
                "SsmOverrideDocumentRead",
                &["ssm:DescribeDocument"],
                documents.clone(),
            )
            .used_by(&[Part::Plan, Part::Sync]),
        );
        let writes: Vec<&str> = catalogue::actions(Some(Resource::Document))
            .into_iter()
            .filter(|a| !matches!(*a, "ssm:DescribeDocument" | "ssm:SendCommand"))
            .collect();
        out.push(
            Statement::new("SsmOverrideDocumentWrite", &writes, documents).used_by(&[Part::Sync]),
        );
        // The key AWS documents for Run Command on tagged instances.
        for ((region, key), values) in &ssm_tags {
            out.push(
                Statement::new(
                    &sids.unique(&format!(
                        "SsmSendCommandInstances{}{}",
                        sid_part(region),
                        sid_part(key)
                    )),
                    &["ssm:SendCommand"],
                    [instances(region)],
                )
                .with_condition(json!({"StringEquals": {format!("ssm:resourceTag/{key}"): values.iter().collect::<Vec<_>>()}})),
            );
        }
        out.push(
            Statement::new(
                "SsmCommandResults",
                &["ssm:CancelCommand", "ssm:ListCommandInvocations"],
                ["*".to_string()],
            )
            .with_condition(in_regions(&ssm_regions)),
        );
    }

    // SNS: topics are named in the workload's region.
    let topics: BTreeSet<String> = workloads
        .iter()
        .filter_map(|w| {
            let topic = &w.notify.as_ref()?.sns_topic;
            Some(format!("arn:{p}:sns:{}:{account}:{topic}", w.region))
        })
        .collect();
    if !topics.is_empty() {
        let sns_regions: BTreeSet<&str> = workloads
            .iter()
            .filter(|w| w.notify.is_some())
            .map(|w| w.region.as_str())
            .collect();
        let actions: &[&str] = if settings.create_topic {
            &["sns:CreateTopic", "sns:Publish"]
        } else {
            &["sns:Publish"]
        };
        out.push(Statement::new("SnsTopics", actions, topics));
        out.push(
            Statement::new("SnsListTopics", &["sns:ListTopics"], ["*".to_string()])
                .with_condition(in_regions(&sns_regions)),
        );
    }

    // S3: tierctl only checks where the SSM output bucket is; the guests write to it.
    let buckets: BTreeSet<String> = workloads
        .iter()
        .filter_map(|w| Some(format!("arn:{p}:s3:::{}", w.ssm.as_ref()?.output_bucket)))
        .collect();
    if !buckets.is_empty() {
        out.push(Statement::new(
            "S3OutputBucketLocation",
            &["s3:GetBucketLocation"],
            buckets,
        ));
    }

    // EventBridge Scheduler (sync, in the tables' region): only when a spec has a schedule.
    if workloads.iter().any(|w| w.schedule.is_some()) {
        out.extend(scheduler_statements(settings, table_region));
    }

    out.retain(|s| settings.part.includes(&s.uses));
    out
}

/// The Scheduler actions of the catalogue on `resource`: reads (`Get*`,
/// `List*`, for `sync --check` too) or writes.
fn scheduler_actions(resource: Resource, read: bool) -> Vec<&'static str> {
    catalogue::CALLS
        .iter()
        .filter(|c| c.module == "scheduler" && c.resource == resource)
        .filter(|c| (c.operation.starts_with("Get") || c.operation.starts_with("List")) == read)
        .flat_map(|c| c.actions.iter().copied())
        .filter(|a| a.starts_with("scheduler:"))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// sync's statements for the schedules: reads of the group `tierctl` and its
/// schedules, writes of them, and passing the scheduler role to Scheduler.
fn scheduler_statements(settings: &Settings<'_>, region: &str) -> Vec<Statement> {
    let p = settings.partition;
    let account = settings.account();
    let group = crate::store::schedules::GROUP;
    let group_arn = format!("arn:{p}:scheduler:{region}:{account}:schedule-group/{group}");
    let schedules_arn = format!("arn:{p}:scheduler:{region}:{account}:schedule/{group}/*");
    let mut out = vec![
        Statement::new(
            "SchedulerGroupRead",
            &scheduler_actions(Resource::ScheduleGroup, true),
            [group_arn.clone()],
        )
        .used_by(&[Part::Plan, Part::Sync]),
        Statement::new(
            "SchedulerList",
            &scheduler_actions(Resource::Unscoped, true),
            ["*".to_string()],
        )
        .with_condition(json!({"StringEquals": {"aws:RequestedRegion": [region]}}))
        .used_by(&[Part::Plan, Part::Sync]),
        Statement::new(
            "SchedulerSchedulesRead",
            &scheduler_actions(Resource::Schedule, true),
            [schedules_arn.clone()],
        )
        .used_by(&[Part::Plan, Part::Sync]),
        Statement::new(
            "SchedulerGroupCreate",
            &scheduler_actions(Resource::ScheduleGroup, false),
            [group_arn],
        )
        .used_by(&[Part::Sync]),
        Statement::new(
            "SchedulerSchedulesWrite",
            &scheduler_actions(Resource::Schedule, false),
            [schedules_arn],
        )
        .used_by(&[Part::Sync]),
    ];
    if region == "*" {
        out[1].condition = None;
    }
    out.push(
        Statement::new(
            "SchedulerPassRole",
            &["iam:PassRole"],
            [settings.scheduler_role_arn()],
        )
        .with_condition(json!({"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}}))
        .used_by(&[Part::Sync]),
    );
    out
}

/// A policy document of `statements`.
fn document(statements: &[Statement]) -> Value {
    json!({"Version": "2012-10-17", "Statement": statements.iter().map(Statement::to_json).collect::<Vec<_>>()})
}

/// The runner function's execution role policy: what `run --from dynamodb`
/// needs for `workloads` (the `run` statements), writing its logs to
/// CloudWatch Logs, and invoking itself to continue a run.
pub fn runner_policy(workloads: &[&Workload], tables: &Tables, settings: &Settings<'_>) -> Value {
    let run = Settings {
        part: Part::Run,
        ..*settings
    };
    let mut out = statements(workloads, tables, &run);
    let p = settings.partition;
    let account = settings.account();
    let region = tables.region.as_deref().unwrap_or("*");
    let runner = settings.runner_arn(region);
    let function = runner.rsplit(':').next().unwrap_or(DEFAULT_RUNNER);
    let fn_region = runner.split(':').nth(3).unwrap_or(region);
    let log_group = format!("arn:{p}:logs:{fn_region}:{account}:log-group:/aws/lambda/{function}");
    out.push(Statement::new(
        "RunnerLogGroup",
        &["logs:CreateLogGroup"],
        [log_group.clone()],
    ));
    out.push(Statement::new(
        "RunnerLogStreams",
        &["logs:CreateLogStream", "logs:PutLogEvents"],
        [format!("{log_group}:*")],
    ));
    out.push(Statement::new(
        "RunnerContinue",
        &["lambda:InvokeFunction"],
        [runner],
    ));
    document(&out)
}

/// The scheduler role's policy: only `lambda:InvokeFunction` on the runner
/// (and `sqs:SendMessage` on the dead-letter queue, when there is one).
pub fn scheduler_role_policy(tables: &Tables, settings: &Settings<'_>) -> Value {
    let region = tables.region.as_deref().unwrap_or("*");
    let mut out = vec![Statement::new(
        "InvokeRunner",
        &["lambda:InvokeFunction"],
        [settings.runner_arn(region)],
    )];
    if let Some(dlq) = settings.dead_letter {
        out.push(Statement::new(
            "DeadLetterQueue",
            &["sqs:SendMessage"],
            [dlq.to_string()],
        ));
    }
    document(&out)
}

/// A role's trust policy for `service` (`scheduler.amazonaws.com`,
/// `lambda.amazonaws.com`); Scheduler's only on behalf of `account`.
pub fn trust_policy(service: &str, account: Option<&str>) -> Value {
    let mut s = json!({
        "Sid": "AssumedBy",
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": ["sts:AssumeRole"],
    });
    if service == "scheduler.amazonaws.com" {
        s["Condition"] = json!({"StringEquals": {"aws:SourceAccount": account.unwrap_or("*")}});
    }
    json!({"Version": "2012-10-17", "Statement": [s]})
}

/// `us-west-2` -> `UsWest2`: the letters and digits of a name, words capitalised.
/// RDS and Aurora, only for workloads with a tier holding `rds` members:
/// discovery (`tag:GetResources` has no resource-level permissions), the
/// batched describes on the regions' DB instances and clusters, and the
/// state changes on those carrying the workload tag. `rds:StopDBInstance`
/// lists `rds:CreateDBSnapshot` and `rds:AddTagsToResource` as dependent
/// actions: they are needed only with a snapshot identifier, which tierctl
/// never passes, so they are not granted.
fn rds_statements(
    workloads: &[&Workload],
    p: &str,
    account: &str,
    sids: &mut Sids,
) -> Vec<Statement> {
    let mut out = Vec::new();
    let (regions, by_tag) = member_tag_groups(workloads, MemberKind::Rds, |t, actions| {
        if t.stop.is_some() {
            actions.extend(["rds:StopDBInstance", "rds:StopDBCluster"]);
        }
        if t.start.is_some() {
            actions.extend(["rds:StartDBInstance", "rds:StartDBCluster"]);
        }
    });
    if regions.is_empty() {
        return out;
    }
    let arns = |region: &str| {
        [
            format!("arn:{p}:rds:{region}:{account}:db:*"),
            format!("arn:{p}:rds:{region}:{account}:cluster:*"),
        ]
    };
    out.push(
        Statement::new("RdsDiscoverByTag", &["tag:GetResources"], ["*".to_string()])
            .with_condition(json!({"StringEquals": {"aws:RequestedRegion": regions.iter().collect::<Vec<_>>()}}))
            .used_by(&[Part::Plan, Part::Run]),
    );
    out.push(
        Statement::new(
            "RdsDescribe",
            &["rds:DescribeDBClusters", "rds:DescribeDBInstances"],
            regions.iter().flat_map(|r| arns(r)),
        )
        .used_by(&[Part::Plan, Part::Run]),
    );
    for ((region, key), (values, actions)) in &by_tag {
        if actions.is_empty() {
            continue;
        }
        let actions: Vec<&str> = actions.iter().copied().collect();
        out.push(
            Statement::new(
                &sids.unique(&format!("RdsStopStart{}{}", sid_part(region), sid_part(key))),
                &actions,
                arns(region),
            )
            .with_condition(
                json!({"StringEquals": {format!("aws:ResourceTag/{key}"): values.iter().collect::<Vec<_>>()}}),
            ),
        );
    }
    out
}

/// EC2 Auto Scaling, only for workloads with a tier holding `asg`:
/// DescribeAutoScalingGroups (no resource-level permissions: `*` in the
/// regions), and per (region, workload tag key) UpdateAutoScalingGroup and
/// the recorded-sizes tag calls on groups carrying the workload tag
/// (`autoscaling:ResourceTag/<key>`), the tag calls only for the tag key
/// tierctl writes (`aws:TagKeys`).
fn asg_statements(
    workloads: &[&Workload],
    p: &str,
    account: &str,
    sids: &mut Sids,
) -> Vec<Statement> {
    let (regions, by_tag) = member_tag_groups(workloads, MemberKind::Asg, |t, actions| {
        if t.stop.is_some() {
            actions.insert("autoscaling:CreateOrUpdateTags");
        }
        if t.start.is_some() {
            actions.insert("autoscaling:DeleteTags");
        }
        if t.stop.is_some() || t.start.is_some() {
            actions.insert("autoscaling:UpdateAutoScalingGroup");
        }
    });
    let mut out = Vec::new();
    if regions.is_empty() {
        return out;
    }
    out.push(
        Statement::new(
            "AutoScalingDescribe",
            &["autoscaling:DescribeAutoScalingGroups"],
            ["*".to_string()],
        )
        .with_condition(
            json!({"StringEquals": {"aws:RequestedRegion": regions.iter().collect::<Vec<_>>()}}),
        )
        .used_by(&[Part::Plan, Part::Run]),
    );
    for ((region, key), (values, actions)) in &by_tag {
        let groups = format!(
            "arn:{p}:autoscaling:{region}:{account}:autoScalingGroup:*:autoScalingGroupName/*"
        );
        let tag_key = format!("autoscaling:ResourceTag/{key}");
        let values: Vec<&&str> = values.iter().collect();
        if actions.contains("autoscaling:UpdateAutoScalingGroup") {
            out.push(
                Statement::new(
                    &sids.unique(&format!(
                        "AutoScalingResize{}{}",
                        sid_part(region),
                        sid_part(key)
                    )),
                    &["autoscaling:UpdateAutoScalingGroup"],
                    [groups.clone()],
                )
                .with_condition(json!({"StringEquals": {tag_key.clone(): values}})),
            );
        }
        let tags: Vec<&str> = actions
            .iter()
            .copied()
            .filter(|a| *a != "autoscaling:UpdateAutoScalingGroup")
            .collect();
        if !tags.is_empty() {
            out.push(
                Statement::new(
                    &sids.unique(&format!("AutoScalingSizesTag{}{}", sid_part(region), sid_part(key))),
                    &tags,
                    [groups],
                )
                .with_condition(json!({
                    "StringEquals": {tag_key: values},
                    "ForAllValues:StringEquals": {"aws:TagKeys": [crate::plan::asg::RECORDED_SIZES_TAG]},
                })),
            );
        }
    }
    out
}

fn sid_part(s: &str) -> String {
    s.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            let first = chars.next().map(|c| c.to_ascii_uppercase());
            first.into_iter().chain(chars).collect::<String>()
        })
        .collect()
}

/// The tiers holding `kind` members, grouped by (region, workload tag key):
/// the regions they are in, and per group the workload tag values and the
/// actions `actions_of` adds for each tier.
fn member_tag_groups<'a>(
    workloads: &[&'a Workload],
    kind: MemberKind,
    actions_of: impl Fn(&crate::spec::Tier, &mut BTreeSet<&'static str>),
) -> (
    BTreeSet<&'a str>,
    BTreeMap<(&'a str, &'a str), TagGroup<'a>>,
) {
    let mut regions: BTreeSet<&str> = BTreeSet::new();
    let mut by_tag: BTreeMap<(&str, &str), TagGroup<'_>> = BTreeMap::new();
    for w in workloads {
        let mut tiers = w.tiers.iter().filter(|t| t.holds(kind)).peekable();
        if tiers.peek().is_none() {
            continue;
        }
        regions.insert(w.region.as_str());
        let tag = &w.selector.workload_tag;
        let (values, actions) = by_tag
            .entry((w.region.as_str(), tag.key.as_str()))
            .or_default();
        values.insert(tag.value.as_str());
        for t in tiers {
            actions_of(t, actions);
        }
    }
    (regions, by_tag)
}

/// Tag values and actions of one (region, tag key).
type TagGroup<'a> = (BTreeSet<&'a str>, BTreeSet<&'static str>);

/// Tag values and target instance types of one (region, tag key).
type ResizeGroup<'a> = (BTreeSet<&'a str>, BTreeSet<&'a str>);

/// Makes statement ids unique (two tag keys can differ only in punctuation).
#[derive(Default)]
struct Sids(BTreeSet<String>);

impl Sids {
    fn unique(&mut self, base: &str) -> String {
        let mut sid = base.to_string();
        let mut n = 2;
        while !self.0.insert(sid.clone()) {
            sid = format!("{base}{n}");
            n += 1;
        }
        sid
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Notify, OverrideFile, SsmOutput, StartAction};

    fn tables(region: Option<&str>) -> Tables {
        Tables {
            region: region.map(str::to_string),
            workload_table: "WorkloadSpecification".into(),
            tier_table: "TierSpecification".into(),
        }
    }

    fn settings(part: Part) -> Settings<'static> {
        Settings {
            lock_table: "TierctlLocks",
            account: Some("123456789012"),
            partition: "aws",
            create_topic: false,
            part,
            scheduler_role: None,
            runner: None,
            dead_letter: None,
        }
    }

    /// A workload with one tier that has stop and start, nothing optional.
    fn bare(name: &str, region: &str, key: &str, value: &str) -> Workload {
        let mut w = crate::spec::example_with_every_field();
        w.name = name.into();
        w.region = region.into();
        w.disabled = false;
        w.selector.workload_tag.key = key.into();
        w.selector.workload_tag.value = value.into();
        w.notify = None;
        w.ssm = None;
        w.schedule = None;
        w.tiers.truncate(1);
        let tier = &mut w.tiers[0];
        tier.name = "web".into();
        tier.stop.as_mut().expect("the example stops").override_file = None;
        tier.scaling.clear();
        let start = tier.start.as_mut().expect("the example starts");
        start.reregister_load_balancers = false;
        start.wait_healthy = false;
        w
    }

    /// Start settings as in [`bare`].
    fn start() -> Option<StartAction> {
        bare("S", "us-west-2", "App", "x").tiers[0].start.clone()
    }

    fn sids(policy: &Value) -> Vec<String> {
        policy["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["Sid"].as_str().unwrap().to_string())
            .collect()
    }

    fn statement<'a>(policy: &'a Value, sid: &str) -> &'a Value {
        policy["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Sid"] == sid)
            .unwrap_or_else(|| panic!("no statement {sid} in {policy:#}"))
    }

    fn assert_no_wildcard_action(policy: &Value) {
        for a in actions_of(policy) {
            assert!(!a.contains('*') && !a.contains('?'), "wildcard action {a}");
            assert!(
                a.split_once(':')
                    .is_some_and(|(s, n)| !s.is_empty() && !n.is_empty()),
                "{a}"
            );
        }
        let sids = sids(policy);
        let unique: BTreeSet<&String> = sids.iter().collect();
        assert_eq!(unique.len(), sids.len(), "Sids are unique: {sids:?}");
        for sid in &sids {
            assert!(
                !sid.is_empty() && sid.chars().all(|c| c.is_ascii_alphanumeric()),
                "{sid}"
            );
        }
    }

    #[test]
    fn bare_workload_gets_tables_and_ec2_only() {
        let w = bare("A", "us-west-2", "App", "shop");
        let p = policy(&[&w], &tables(Some("us-west-2")), &settings(Part::All));
        assert_no_wildcard_action(&p);
        assert_eq!(
            sids(&p),
            [
                "ConfigTablesRead",
                "ConfigTablesCreate",
                "ConfigTablesWriteItems",
                "LockTable",
                "LockTableItems",
                "Ec2Describe",
                "Ec2InstancesUsWest2App",
                "KmsGrantForEc2"
            ]
        );
        let ec2 = statement(&p, "Ec2InstancesUsWest2App");
        assert_eq!(
            ec2["Action"],
            json!(["ec2:StartInstances", "ec2:StopInstances"]),
            "no scaling: no resize"
        );
        assert_eq!(
            ec2["Resource"],
            json!(["arn:aws:ec2:us-west-2:123456789012:instance/*"])
        );
        assert_eq!(
            ec2["Condition"],
            json!({"StringEquals": {"aws:ResourceTag/App": ["shop"]}})
        );
        assert_eq!(statement(&p, "Ec2Describe")["Resource"], json!(["*"]));
        assert_eq!(
            statement(&p, "Ec2Describe")["Action"],
            json!(["ec2:DescribeInstances"]),
            "no scaling: no instance types read"
        );
        assert!(
            !actions_of(&p)
                .iter()
                .any(|a| a.starts_with("ssm:") || a.starts_with("sns:") || a.starts_with("s3:"))
        );
    }

    #[test]
    fn table_arns_use_region_account_and_partition_or_wildcards() {
        let w = bare("A", "cn-north-1", "App", "shop");
        let s = Settings {
            account: None,
            partition: "aws-cn",
            lock_table: "Locks",
            ..settings(Part::All)
        };
        let p = policy(&[&w], &tables(None), &s);
        assert_eq!(
            statement(&p, "ConfigTablesRead")["Resource"],
            json!([
                "arn:aws-cn:dynamodb:*:*:table/TierSpecification",
                "arn:aws-cn:dynamodb:*:*:table/WorkloadSpecification"
            ])
        );
        assert_eq!(
            statement(&p, "LockTable")["Resource"],
            json!(["arn:aws-cn:dynamodb:*:*:table/Locks"])
        );
        assert_eq!(
            statement(&p, "Ec2InstancesCnNorth1App")["Resource"],
            json!(["arn:aws-cn:ec2:cn-north-1:*:instance/*"])
        );
        assert_eq!(partition_for_region("cn-north-1"), "aws-cn");
        assert_eq!(partition_for_region("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition_for_region("eu-west-1"), "aws");
    }

    #[test]
    fn one_ec2_statement_per_region_and_tag_key_with_the_values() {
        let a = bare("A", "us-west-2", "App", "shop");
        let b = bare("B", "us-west-2", "App", "blog");
        let c = bare("C", "eu-west-1", "App", "shop");
        let d = bare("D", "us-west-2", "Environment", "ENV001");
        let p = policy(&[&a, &b, &c, &d], &tables(None), &settings(Part::Run));
        assert_no_wildcard_action(&p);
        assert_eq!(
            statement(&p, "Ec2InstancesUsWest2App")["Condition"],
            json!({"StringEquals": {"aws:ResourceTag/App": ["blog", "shop"]}})
        );
        assert_eq!(
            statement(&p, "Ec2InstancesEuWest1App")["Condition"],
            json!({"StringEquals": {"aws:ResourceTag/App": ["shop"]}})
        );
        assert_eq!(
            statement(&p, "Ec2InstancesUsWest2Environment")["Condition"],
            json!({"StringEquals": {"aws:ResourceTag/Environment": ["ENV001"]}})
        );
        assert_eq!(
            statement(&p, "Ec2Describe")["Condition"],
            json!({"StringEquals": {"aws:RequestedRegion": ["eu-west-1", "us-west-2"]}})
        );
        // Tag keys that differ only in punctuation still get distinct Sids.
        let e = bare("E", "us-west-2", "app:name", "x");
        let f = bare("F", "us-west-2", "app-name", "y");
        let p = policy(&[&e, &f], &tables(None), &settings(Part::Run));
        assert_no_wildcard_action(&p);
        assert_eq!(
            statement(&p, "Ec2InstancesUsWest2AppName")["Condition"],
            json!({"StringEquals": {"aws:ResourceTag/app-name": ["y"]}})
        );
        assert_eq!(
            statement(&p, "Ec2InstancesUsWest2AppName2")["Condition"],
            json!({"StringEquals": {"aws:ResourceTag/app:name": ["x"]}})
        );
    }

    #[test]
    fn actions_follow_stop_start_and_scaling() {
        let mut w = bare("A", "us-west-2", "App", "shop");
        w.tiers[0].start = None;
        w.tiers[0]
            .scaling
            .insert("performant".into(), "c5.large".into());
        let p = policy(&[&w], &tables(None), &settings(Part::Run));
        assert_eq!(
            statement(&p, "Ec2InstancesUsWest2App")["Action"],
            json!(["ec2:StopInstances"]),
            "scaling applies at start only"
        );
        w.tiers[0].start = start();
        let p = policy(&[&w], &tables(None), &settings(Part::Run));
        assert_eq!(
            statement(&p, "Ec2Describe")["Action"],
            json!(["ec2:DescribeInstanceTypes", "ec2:DescribeInstances"])
        );
        assert_eq!(
            statement(&p, "Ec2InstancesUsWest2App")["Action"],
            json!(["ec2:StartInstances", "ec2:StopInstances"])
        );
        // Resizes: only the instance type (to the profiles' types) and EBS
        // optimisation off, never any other attribute (user data).
        assert_eq!(
            statement(&p, "Ec2ResizeInstanceTypeUsWest2App")["Condition"],
            json!({"StringEquals": {"aws:ResourceTag/App": ["shop"],
                   "ec2:Attribute": "InstanceType",
                   "ec2:Attribute/InstanceType": ["c5.large"]}})
        );
        assert_eq!(
            statement(&p, "Ec2ResizeEbsOptimizedUsWest2App")["Condition"],
            json!({"StringEquals": {"aws:ResourceTag/App": ["shop"],
                   "ec2:Attribute": "EbsOptimized",
                   "ec2:Attribute/EbsOptimized": "false"}})
        );
        assert_eq!(
            statement(&p, "KmsGrantForEc2")["Condition"],
            json!({"Bool": {"kms:GrantIsForAWSResource": "true"}})
        );
    }

    #[test]
    fn load_balancer_statements_follow_the_start_settings() {
        let mut classic = bare("C", "us-west-2", "App", "shop");
        classic.tiers[0]
            .start
            .as_mut()
            .unwrap()
            .reregister_load_balancers = true;
        let mut healthy = bare("H", "eu-west-1", "App", "blog");
        healthy.tiers[0].start.as_mut().unwrap().wait_healthy = true;

        let p = policy(&[&classic], &tables(None), &settings(Part::Run));
        assert_no_wildcard_action(&p);
        assert_eq!(
            statement(&p, "ElbDescribe")["Action"],
            json!(["elasticloadbalancing:DescribeLoadBalancers"])
        );
        assert_eq!(
            statement(&p, "ElbClassicReregister")["Resource"],
            json!(["arn:aws:elasticloadbalancing:us-west-2:123456789012:loadbalancer/*"])
        );
        assert_eq!(
            statement(&p, "Ec2Describe")["Action"],
            json!(["ec2:DescribeInstances"])
        );

        let p = policy(&[&healthy], &tables(None), &settings(Part::Run));
        // The gate checks target groups and classic load balancers (`InService`).
        assert_eq!(
            statement(&p, "ElbDescribe")["Action"],
            json!([
                "elasticloadbalancing:DescribeLoadBalancers",
                "elasticloadbalancing:DescribeTargetGroups",
                "elasticloadbalancing:DescribeTargetHealth"
            ])
        );
        assert_eq!(
            statement(&p, "ElbClassicHealth")["Action"],
            json!(["elasticloadbalancing:DescribeInstanceHealth"])
        );
        assert_eq!(
            statement(&p, "ElbClassicHealth")["Condition"],
            json!({"StringEquals": {"aws:RequestedRegion": ["eu-west-1"]}})
        );
        assert_eq!(
            statement(&p, "ElbDescribe")["Condition"],
            json!({"StringEquals": {"aws:RequestedRegion": ["eu-west-1"]}})
        );
        assert_eq!(
            statement(&p, "Ec2Describe")["Action"],
            json!(["ec2:DescribeInstanceStatus", "ec2:DescribeInstances"])
        );
        assert!(!sids(&p).contains(&"ElbClassicReregister".to_string()));

        // Plan reads the memberships, only run changes them.
        let p = policy(&[&classic, &healthy], &tables(None), &settings(Part::Plan));
        assert!(sids(&p).contains(&"ElbDescribe".to_string()));
        assert!(!sids(&p).contains(&"ElbClassicReregister".to_string()));
        let p = policy(
            &[&bare("B", "us-west-2", "App", "x")],
            &tables(None),
            &settings(Part::All),
        );
        assert!(
            !actions_of(&p)
                .iter()
                .any(|a| a.starts_with("elasticloadbalancing:"))
        );
    }

    #[test]
    fn ssm_statements_only_with_overrides_and_documents_by_os() {
        let mut linux = bare("L", "us-west-2", "App", "shop");
        linux.tiers[0].stop.as_mut().unwrap().override_file = Some(OverrideFile {
            file: "/tmp/keep".into(),
            os: GuestOs::Linux,
        });
        let mut windows = bare("W", "eu-west-1", "Application", "reports");
        windows.tiers[0].stop.as_mut().unwrap().override_file = Some(OverrideFile {
            file: "C:\\keep.txt".into(),
            os: GuestOs::Windows,
        });
        let plain = bare("P", "ap-south-1", "App", "plain");

        let p = policy(&[&linux, &plain], &tables(None), &settings(Part::Run));
        assert_no_wildcard_action(&p);
        assert_eq!(
            statement(&p, "SsmSendCommandDocuments")["Resource"],
            json!(["arn:aws:ssm:us-west-2:123456789012:document/tierctl-OverrideCheck"])
        );
        assert_eq!(
            statement(&p, "SsmSendCommandInstancesUsWest2App")["Condition"],
            json!({"StringEquals": {"ssm:resourceTag/App": ["shop"]}}),
            "only the workload with an override"
        );
        assert_eq!(
            statement(&p, "SsmDescribeInstanceInformation")["Condition"],
            json!({"StringEquals": {"aws:RequestedRegion": ["us-west-2"]}})
        );
        assert_eq!(
            statement(&p, "SsmCommandResults")["Action"],
            json!(["ssm:CancelCommand", "ssm:ListCommandInvocations"])
        );

        let p = policy(&[&windows], &tables(None), &settings(Part::Run));
        assert_eq!(
            statement(&p, "SsmSendCommandDocuments")["Resource"],
            json!(["arn:aws:ssm:eu-west-1:123456789012:document/tierctl-OverrideCheck"])
        );
        assert_eq!(
            statement(&p, "SsmSendCommandInstancesEuWest1Application")["Resource"],
            json!(["arn:aws:ec2:eu-west-1:123456789012:instance/*"])
        );

        let p = policy(&[&plain], &tables(None), &settings(Part::All));
        assert!(
            !actions_of(&p).iter().any(|a| a.starts_with("ssm:")),
            "{p:#}"
        );
    }

    #[test]
    fn sns_and_s3_only_when_configured() {
        let mut w = bare("A", "us-west-2", "App", "shop");
        w.notify = Some(Notify {
            sns_topic: "ops".into(),
        });
        w.ssm = Some(SsmOutput {
            output_bucket: "audit-bucket".into(),
            output_key_prefix: None,
        });
        let p = policy(&[&w], &tables(None), &settings(Part::Run));
        assert_no_wildcard_action(&p);
        assert_eq!(statement(&p, "SnsTopics")["Action"], json!(["sns:Publish"]));
        assert_eq!(
            statement(&p, "SnsTopics")["Resource"],
            json!(["arn:aws:sns:us-west-2:123456789012:ops"])
        );
        assert_eq!(statement(&p, "SnsListTopics")["Resource"], json!(["*"]));
        assert_eq!(
            statement(&p, "S3OutputBucketLocation")["Resource"],
            json!(["arn:aws:s3:::audit-bucket"])
        );
        let with_create = Settings {
            create_topic: true,
            ..settings(Part::Run)
        };
        let p = policy(&[&w], &tables(None), &with_create);
        assert_eq!(
            statement(&p, "SnsTopics")["Action"],
            json!(["sns:CreateTopic", "sns:Publish"])
        );
        // None of it is needed to plan or sync.
        let p = policy(&[&w], &tables(None), &settings(Part::Sync));
        assert!(
            !actions_of(&p)
                .iter()
                .any(|a| a.starts_with("sns:") || a.starts_with("s3:")),
            "{p:#}"
        );
    }

    #[test]
    fn schedules_add_scoped_scheduler_statements_and_the_role_policies() {
        let plain = bare("A", "us-west-2", "App", "shop");
        let mut w = plain.clone();
        w.schedule = crate::spec::example_with_every_field().schedule;
        assert!(w.schedule.is_some());
        let t = tables(Some("eu-central-1"));
        let without = policy(&[&plain], &t, &settings(Part::All));
        assert!(!without.to_string().contains("scheduler"), "{without:#}");
        let p = policy(&[&w], &t, &settings(Part::Sync));
        let group = "arn:aws:scheduler:eu-central-1:123456789012:schedule-group/tierctl";
        let schedules = "arn:aws:scheduler:eu-central-1:123456789012:schedule/tierctl/*";
        assert_eq!(
            statement(&p, "SchedulerGroupRead")["Resource"],
            json!([group])
        );
        assert_eq!(
            statement(&p, "SchedulerSchedulesWrite")["Action"],
            json!([
                "scheduler:CreateSchedule",
                "scheduler:DeleteSchedule",
                "scheduler:UpdateSchedule"
            ])
        );
        assert_eq!(
            statement(&p, "SchedulerSchedulesWrite")["Resource"],
            json!([schedules])
        );
        assert_eq!(
            statement(&p, "SchedulerGroupCreate")["Action"],
            json!(["scheduler:CreateScheduleGroup", "scheduler:TagResource"])
        );
        assert_eq!(
            statement(&p, "SchedulerList")["Condition"],
            json!({"StringEquals": {"aws:RequestedRegion": ["eu-central-1"]}})
        );
        let pass = statement(&p, "SchedulerPassRole");
        assert_eq!(
            pass["Resource"],
            json!(["arn:aws:iam::123456789012:role/tierctl-scheduler"])
        );
        assert_eq!(
            pass["Condition"],
            json!({"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}})
        );
        // The read-only part reads, the run part has none of it.
        let plan = policy(&[&w], &t, &settings(Part::Plan));
        let plan_actions = actions_of(&plan);
        assert!(plan_actions.contains("scheduler:GetSchedule"));
        assert!(!plan_actions.contains("scheduler:CreateSchedule"));
        assert!(!plan_actions.contains("iam:PassRole"));
        let run = policy(&[&w], &t, &settings(Part::Run));
        assert!(!run.to_string().contains("scheduler"));

        // The runner's role: the run statements, logs, itself.
        let runner = runner_policy(&[&w], &t, &settings(Part::All));
        let mut want = run["Statement"].as_array().unwrap().clone();
        let fn_arn = "arn:aws:lambda:eu-central-1:123456789012:function:tierctl-runner";
        let log = "arn:aws:logs:eu-central-1:123456789012:log-group:/aws/lambda/tierctl-runner";
        want.extend([
            json!({"Sid": "RunnerLogGroup", "Effect": "Allow", "Action": ["logs:CreateLogGroup"], "Resource": [log]}),
            json!({"Sid": "RunnerLogStreams", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": [format!("{log}:*")]}),
            json!({"Sid": "RunnerContinue", "Effect": "Allow", "Action": ["lambda:InvokeFunction"], "Resource": [fn_arn]}),
        ]);
        assert_eq!(runner["Statement"], json!(want));
        let sched = scheduler_role_policy(&t, &settings(Part::All));
        assert_eq!(
            actions_of(&sched),
            BTreeSet::from(["lambda:InvokeFunction".to_string()])
        );
        assert_eq!(sched["Statement"][0]["Resource"], json!([fn_arn]));
        let dlq = "arn:aws:sqs:eu-central-1:123456789012:tierctl-runner-dead-letters";
        let with_dlq = Settings {
            dead_letter: Some(dlq),
            ..settings(Part::All)
        };
        let sched = scheduler_role_policy(&t, &with_dlq);
        assert_eq!(sched["Statement"][1]["Action"], json!(["sqs:SendMessage"]));
        assert_eq!(sched["Statement"][1]["Resource"], json!([dlq]));
        let trust = trust_policy("scheduler.amazonaws.com", Some("123456789012"));
        assert_eq!(
            trust["Statement"][0]["Condition"],
            json!({"StringEquals": {"aws:SourceAccount": "123456789012"}})
        );
        assert_eq!(
            trust_policy("lambda.amazonaws.com", None)["Statement"][0]["Principal"],
            json!({"Service": "lambda.amazonaws.com"})
        );
    }

    #[test]
    fn parts_split_the_statements() {
        let w = bare("A", "us-west-2", "App", "shop");
        let t = tables(None);
        let part = |part| sids(&policy(&[&w], &t, &settings(part)));
        assert_eq!(part(Part::Plan), ["ConfigTablesRead", "Ec2Describe"]);
        assert_eq!(
            part(Part::Sync),
            [
                "ConfigTablesRead",
                "ConfigTablesCreate",
                "ConfigTablesWriteItems",
                "Ec2Describe"
            ]
        );
        assert_eq!(
            part(Part::Run),
            [
                "ConfigTablesRead",
                "LockTable",
                "LockTableItems",
                "Ec2Describe",
                "Ec2InstancesUsWest2App",
                "KmsGrantForEc2"
            ]
        );
        let p = policy(&[&w], &t, &settings(Part::Sync));
        assert!(!actions_of(&p).contains("ec2:StopInstances"));
        assert!(!actions_of(&p).contains("dynamodb:UpdateItem"));
    }

    #[test]
    fn no_workloads_still_covers_the_tables() {
        let p = policy(&[], &tables(None), &settings(Part::All));
        assert_eq!(
            sids(&p),
            [
                "ConfigTablesRead",
                "ConfigTablesCreate",
                "ConfigTablesWriteItems",
                "LockTable",
                "LockTableItems"
            ]
        );
    }

    /// The two example workloads in `workloads/`, exactly.
    #[test]
    fn policy_of_the_example_workloads() {
        let checked =
            crate::validate::check_paths(&[
                std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("workloads")
            ]);
        assert_eq!(checked.errors(), 0);
        let ws: Vec<&Workload> = checked.workloads.iter().map(|(_, w)| w).collect();
        let s = Settings {
            create_topic: true,
            ..settings(Part::All)
        };
        let p = policy(&ws, &tables(Some("us-west-2")), &s);
        assert_no_wildcard_action(&p);
        // The whole document is in the insta snapshot (tests/it/snapshots);
        // here the least-privilege properties.
        assert_eq!(
            statement(&p, "ConfigTablesWriteItems")["Condition"],
            json!({"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["BotoTestCase1", "WinReporting"]}})
        );
        assert_eq!(
            statement(&p, "LockTableItems")["Action"],
            json!([
                "dynamodb:DeleteItem",
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem"
            ])
        );
        assert_eq!(
            statement(&p, "LockTable")["Action"],
            json!([
                "dynamodb:CreateTable",
                "dynamodb:DescribeTable",
                "dynamodb:Scan"
            ])
        );
        assert_eq!(
            statement(&p, "SsmSendCommandDocuments")["Resource"],
            json!([
                "arn:aws:ssm:eu-west-1:123456789012:document/tierctl-OverrideCheck",
                "arn:aws:ssm:us-west-2:123456789012:document/tierctl-OverrideCheck"
            ])
        );
        assert!(!p.to_string().contains("AWS-Run"));
        for s in p["Statement"].as_array().unwrap() {
            if s["Action"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a == "ec2:ModifyInstanceAttribute")
            {
                assert_eq!(s["Action"], json!(["ec2:ModifyInstanceAttribute"]));
                assert!(
                    s["Condition"]["StringEquals"]["ec2:Attribute"].is_string(),
                    "{s}"
                );
            }
        }
        // Deterministic: the order of the workloads does not matter.
        let reversed: Vec<&Workload> = ws.iter().rev().copied().collect();
        assert_eq!(policy(&reversed, &tables(Some("us-west-2")), &s), p);
    }

    #[test]
    fn rds_statements_only_for_rds_tiers_scoped_by_the_workload_tag() {
        use crate::spec::MemberKind;
        let s = settings(Part::All);
        let ec2 = bare("A", "us-west-2", "App", "a");
        let p = policy(&[&ec2], &tables(Some("us-west-2")), &s);
        assert!(!p.to_string().contains("rds:"), "{p:#}");
        assert!(!p.to_string().contains("tag:GetResources"), "{p:#}");

        let mut db = bare("B", "eu-west-1", "App", "b");
        db.tiers[0].members = vec![MemberKind::Rds];
        db.tiers[0].start = None;
        let mut other = bare("C", "eu-west-1", "App", "c");
        other.tiers[0].members = vec![MemberKind::Ec2, MemberKind::Rds];
        let p = policy(&[&ec2, &db, &other], &tables(Some("us-west-2")), &s);
        assert_no_wildcard_action(&p);
        let change = statement(&p, "RdsStopStartEuWest1App");
        assert_eq!(
            change["Action"],
            json!([
                "rds:StartDBCluster",
                "rds:StartDBInstance",
                "rds:StopDBCluster",
                "rds:StopDBInstance"
            ])
        );
        assert_eq!(
            change["Condition"]["StringEquals"]["aws:ResourceTag/App"],
            json!(["b", "c"])
        );
        assert_eq!(
            change["Resource"],
            json!([
                "arn:aws:rds:eu-west-1:123456789012:cluster:*",
                "arn:aws:rds:eu-west-1:123456789012:db:*"
            ])
        );
        let discover = statement(&p, "RdsDiscoverByTag");
        assert_eq!(
            discover["Condition"]["StringEquals"]["aws:RequestedRegion"],
            json!(["eu-west-1"])
        );
        // No snapshot is ever asked for: StopDBInstance's dependent actions are not granted.
        assert!(!p.to_string().contains("rds:CreateDBSnapshot"));
        // The plan role reads, never changes.
        let plan = policy(&[&db], &tables(Some("us-west-2")), &settings(Part::Plan));
        assert_eq!(
            actions_of(&plan)
                .into_iter()
                .filter(|a| a.starts_with("rds:") || a.starts_with("tag:"))
                .collect::<Vec<_>>(),
            [
                "rds:DescribeDBClusters",
                "rds:DescribeDBInstances",
                "tag:GetResources"
            ]
        );
        // Stop only: only the stop actions.
        let p = policy(&[&db], &tables(Some("us-west-2")), &s);
        assert_eq!(
            statement(&p, "RdsStopStartEuWest1App")["Action"],
            json!(["rds:StopDBCluster", "rds:StopDBInstance"])
        );
    }

    #[test]
    fn a_policy_with_every_feature_allows_exactly_the_catalogue() {
        let mut w = crate::spec::example_with_every_field();
        w.disabled = false;
        w.tiers[0].members.push(crate::spec::MemberKind::Asg);
        for t in &mut w.tiers {
            if let Some(s) = t.start.as_mut() {
                s.wait_healthy = true;
                s.reregister_load_balancers = true;
            }
        }
        w.tiers[0].members.push(crate::spec::MemberKind::Rds);
        let mut s = settings(Part::All);
        s.create_topic = true;
        let p = policy(&[&w], &tables(Some("us-west-2")), &s);
        let allowed = actions_of(&p);
        // The runner's self-invocation is its execution role's (see catalogue::command_actions).
        let listed: BTreeSet<String> = crate::aws::catalogue::command_actions()
            .into_iter()
            .map(str::to_string)
            .collect();
        assert_eq!(allowed, listed, "{p:#}");
        let text = p.to_string();
        assert!(!text.contains("AWS-Run"), "{text}");
        assert!(text.contains("document/tierctl-OverrideCheck"));
        assert!(text.contains("dynamodb:LeadingKeys"));
        assert!(text.contains("kms:GrantIsForAWSResource"));
        assert!(text.contains("\"ec2:Attribute\":\"InstanceType\""));
        assert!(text.contains("autoscaling:ResourceTag/"), "{text}");
        assert!(
            text.contains("\"aws:TagKeys\":[\"tierctl:stopped-sizes\"]"),
            "{text}"
        );
    }

    #[test]
    fn asg_statements_only_for_asg_tiers() {
        let mut w = bare("Shop", "us-west-2", "App", "shop");
        w.tiers[0].start = start();
        let s = settings(Part::All);
        let before = policy(&[&w], &tables(Some("us-west-2")), &s);
        assert!(!before.to_string().contains("autoscaling"));
        w.tiers[0].members = vec![crate::spec::MemberKind::Asg];
        let after = policy(&[&w], &tables(Some("us-west-2")), &s);
        let sids = sids(&after);
        assert!(
            sids.contains(&"AutoScalingDescribe".to_string()),
            "{sids:?}"
        );
        let resize = statement(&after, "AutoScalingResizeUsWest2App");
        assert_eq!(
            resize["Condition"]["StringEquals"]["autoscaling:ResourceTag/App"],
            json!(["shop"])
        );
        assert_eq!(
            resize["Resource"],
            json!([
                "arn:aws:autoscaling:us-west-2:123456789012:autoScalingGroup:*:autoScalingGroupName/*"
            ])
        );
        let tags = statement(&after, "AutoScalingSizesTagUsWest2App");
        let actions = tags["Action"].as_array().unwrap();
        assert!(actions.contains(&json!("autoscaling:DeleteTags")), "{tags}");
        assert_eq!(
            actions.contains(&json!("autoscaling:CreateOrUpdateTags")),
            w.tiers[0].stop.is_some()
        );
    }
}
