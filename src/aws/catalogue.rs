//! Every AWS call tierctl makes, in one table: service, operation, the SDK
//! method `src/aws/` calls it with, the IAM actions that authorise it, the
//! kind of resource it is allowed on and the condition keys the generated
//! policy puts on it. `iam` builds the policy's action lists from it, the
//! README's table is generated from it, and tests check that the table and
//! the code agree (every SDK call site of `src/aws/*.rs` is in it, every row
//! is called).

use std::collections::BTreeSet;

/// What an action is allowed on in the generated policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Resource {
    /// The two configuration tables (WorkloadSpecification, TierSpecification).
    ConfigTable,
    /// The run lease table.
    LockTable,
    /// The workloads' instances (by workload tag).
    Instance,
    /// tierctl's SSM document `tierctl-OverrideCheck`.
    Document,
    /// Classic load balancers.
    ClassicLoadBalancer,
    /// SNS topics named by the specs.
    Topic,
    /// The SSM output buckets named by the specs.
    Bucket,
    /// KMS keys of encrypted volumes (a grant EC2 creates on tierctl's behalf).
    Key,
    /// EventBridge Scheduler's schedule group `tierctl`.
    ScheduleGroup,
    /// The schedules in the group `tierctl`.
    Schedule,
    /// No resource-level permissions: `*`, limited to the regions.
    Unscoped,
    /// RDS DB instances and Aurora DB clusters (by workload tag for state changes).
    Database,
    /// The Lambda runner function itself (it invokes itself to continue a run).
    RunnerFunction,
    /// Auto Scaling groups with the workload tag.
    AutoScalingGroup,
}

impl Resource {
    /// How the README names it.
    pub fn label(self) -> &'static str {
        match self {
            Resource::ConfigTable => "config tables (configured region)",
            Resource::LockTable => "lock table",
            Resource::Instance => "instances with the workload tag",
            Resource::Document => "document `tierctl-OverrideCheck`",
            Resource::ClassicLoadBalancer => "classic load balancers",
            Resource::Topic => "the specs' topics",
            Resource::Bucket => "the specs' output buckets",
            Resource::Key => "KMS keys (`*` in the workloads' regions)",
            Resource::ScheduleGroup => "schedule group `tierctl`",
            Resource::Schedule => "schedules in group `tierctl`",
            Resource::Unscoped => "`*` (workloads' regions)",
            Resource::Database => {
                "DB instances and clusters (state changes: with the workload tag)"
            }
            Resource::RunnerFunction => "the runner function itself",
            Resource::AutoScalingGroup => "Auto Scaling groups with the workload tag",
        }
    }
}

/// One AWS call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Call {
    /// The `src/aws/` module that makes it (`dynamodb`, `ec2`, ...); for a
    /// call AWS makes on tierctl's behalf, the module whose call causes it.
    pub module: &'static str,
    /// The API operation (`DescribeTable`).
    pub operation: &'static str,
    /// The SDK method (`describe_table`); `None` when AWS makes the call on
    /// tierctl's behalf (EC2 creating a KMS grant at start).
    pub method: Option<&'static str>,
    /// The IAM actions that authorise it.
    pub actions: &'static [&'static str],
    /// What the actions are allowed on.
    pub resource: Resource,
    /// Condition keys the generated policy sets on them.
    pub conditions: &'static [&'static str],
    /// Which commands make it.
    pub used_by: &'static str,
}

const fn call(
    module: &'static str,
    operation: &'static str,
    method: &'static str,
    actions: &'static [&'static str],
    resource: Resource,
    conditions: &'static [&'static str],
    used_by: &'static str,
) -> Call {
    Call {
        module,
        operation,
        method: Some(method),
        actions,
        resource,
        conditions,
        used_by,
    }
}

use Resource as R;

const LEADING_KEYS: &[&str] = &["dynamodb:LeadingKeys"];
const REGION: &[&str] = &["aws:RequestedRegion"];
const TAG: &[&str] = &["aws:ResourceTag/${TagKey}"];
const ASG_TAG: &[&str] = &["autoscaling:ResourceTag/${TagKey}"];
const ASG_TAG_KEYS: &[&str] = &["autoscaling:ResourceTag/${TagKey}", "aws:TagKeys"];

/// Every call, grouped by module.
pub const CALLS: &[Call] = &[
    // DynamoDB: configuration tables.
    call(
        "dynamodb",
        "DescribeTable",
        "describe_table",
        &["dynamodb:DescribeTable"],
        R::ConfigTable,
        &[],
        "sync, plan, import, run --from dynamodb",
    ),
    call(
        "dynamodb",
        "Scan",
        "scan",
        &["dynamodb:Scan"],
        R::ConfigTable,
        &[],
        "sync, plan, import, run --from dynamodb",
    ),
    call(
        "dynamodb",
        "CreateTable",
        "create_table",
        &["dynamodb:CreateTable"],
        R::ConfigTable,
        &[],
        "sync",
    ),
    // TransactWriteItems is authorised per item by its Put and Delete entries.
    call(
        "dynamodb",
        "TransactWriteItems",
        "transact_write_items",
        &["dynamodb:PutItem", "dynamodb:DeleteItem"],
        R::ConfigTable,
        LEADING_KEYS,
        "sync",
    ),
    // DynamoDB: run leases (key: the workload name).
    call(
        "dynamodb",
        "DescribeTable",
        "describe_table",
        &["dynamodb:DescribeTable"],
        R::LockTable,
        &[],
        "run, unlock",
    ),
    call(
        "dynamodb",
        "CreateTable",
        "create_table",
        &["dynamodb:CreateTable"],
        R::LockTable,
        &[],
        "run",
    ),
    call(
        "dynamodb",
        "Scan",
        "scan",
        &["dynamodb:Scan"],
        R::LockTable,
        &[],
        "run (instance claims of other runs)",
    ),
    call(
        "dynamodb",
        "GetItem",
        "get_item",
        &["dynamodb:GetItem"],
        R::LockTable,
        LEADING_KEYS,
        "run, unlock",
    ),
    call(
        "dynamodb",
        "PutItem",
        "put_item",
        &["dynamodb:PutItem"],
        R::LockTable,
        LEADING_KEYS,
        "run",
    ),
    call(
        "dynamodb",
        "UpdateItem",
        "update_item",
        &["dynamodb:UpdateItem"],
        R::LockTable,
        LEADING_KEYS,
        "run",
    ),
    call(
        "dynamodb",
        "DeleteItem",
        "delete_item",
        &["dynamodb:DeleteItem"],
        R::LockTable,
        LEADING_KEYS,
        "run, unlock",
    ),
    // EC2.
    call(
        "ec2",
        "DescribeInstances",
        "describe_instances",
        &["ec2:DescribeInstances"],
        R::Unscoped,
        REGION,
        "plan, run",
    ),
    call(
        "ec2",
        "DescribeInstanceTypes",
        "describe_instance_types",
        &["ec2:DescribeInstanceTypes"],
        R::Unscoped,
        REGION,
        "plan, run (start with a scaling profile)",
    ),
    call(
        "ec2",
        "DescribeInstanceStatus",
        "describe_instance_status",
        &["ec2:DescribeInstanceStatus"],
        R::Unscoped,
        REGION,
        "run (waitHealthy)",
    ),
    call(
        "ec2",
        "StopInstances",
        "stop_instances",
        &["ec2:StopInstances"],
        R::Instance,
        TAG,
        "run stop",
    ),
    call(
        "ec2",
        "StartInstances",
        "start_instances",
        &["ec2:StartInstances"],
        R::Instance,
        TAG,
        "run start",
    ),
    call(
        "ec2",
        "ModifyInstanceAttribute",
        "modify_instance_attribute",
        &["ec2:ModifyInstanceAttribute"],
        R::Instance,
        &[
            "aws:ResourceTag/${TagKey}",
            "ec2:Attribute",
            "ec2:Attribute/InstanceType",
            "ec2:Attribute/EbsOptimized",
        ],
        "run start (scaling profile)",
    ),
    Call {
        module: "ec2",
        operation: "CreateGrant (by EC2, for volumes encrypted with a customer managed key)",
        method: None,
        actions: &["kms:CreateGrant"],
        resource: R::Key,
        conditions: &["kms:GrantIsForAWSResource", "aws:RequestedRegion"],
        used_by: "run start",
    },
    // Elastic Load Balancing.
    call(
        "elb",
        "DescribeLoadBalancers",
        "describe_load_balancers",
        &["elasticloadbalancing:DescribeLoadBalancers"],
        R::Unscoped,
        REGION,
        "plan, run start (reregisterLoadBalancers)",
    ),
    call(
        "elb",
        "DeregisterInstancesFromLoadBalancer",
        "deregister_instances_from_load_balancer",
        &["elasticloadbalancing:DeregisterInstancesFromLoadBalancer"],
        R::ClassicLoadBalancer,
        &[],
        "run start (reregisterLoadBalancers)",
    ),
    call(
        "elb",
        "RegisterInstancesWithLoadBalancer",
        "register_instances_with_load_balancer",
        &["elasticloadbalancing:RegisterInstancesWithLoadBalancer"],
        R::ClassicLoadBalancer,
        &[],
        "run start (reregisterLoadBalancers)",
    ),
    call(
        "elb",
        "DescribeTargetGroups",
        "describe_target_groups",
        &["elasticloadbalancing:DescribeTargetGroups"],
        R::Unscoped,
        REGION,
        "plan, run start (waitHealthy)",
    ),
    call(
        "elb",
        "DescribeTargetHealth",
        "describe_target_health",
        &["elasticloadbalancing:DescribeTargetHealth"],
        R::Unscoped,
        REGION,
        "run start (waitHealthy)",
    ),
    // RDS and Aurora (tiers holding `rds` members).
    call(
        "rds",
        "GetResources",
        "get_resources",
        &["tag:GetResources"],
        R::Unscoped,
        REGION,
        "plan, run (rds tiers: discovery)",
    ),
    call(
        "rds",
        "DescribeDBInstances",
        "describe_db_instances",
        &["rds:DescribeDBInstances"],
        R::Database,
        &[],
        "plan, run (rds tiers)",
    ),
    call(
        "rds",
        "DescribeDBClusters",
        "describe_db_clusters",
        &["rds:DescribeDBClusters"],
        R::Database,
        &[],
        "plan, run (rds tiers)",
    ),
    call(
        "rds",
        "StopDBInstance",
        "stop_db_instance",
        &["rds:StopDBInstance"],
        R::Database,
        TAG,
        "run stop (rds tiers)",
    ),
    call(
        "rds",
        "StartDBInstance",
        "start_db_instance",
        &["rds:StartDBInstance"],
        R::Database,
        TAG,
        "run start (rds tiers)",
    ),
    call(
        "rds",
        "StopDBCluster",
        "stop_db_cluster",
        &["rds:StopDBCluster"],
        R::Database,
        TAG,
        "run stop (rds tiers)",
    ),
    call(
        "rds",
        "StartDBCluster",
        "start_db_cluster",
        &["rds:StartDBCluster"],
        R::Database,
        TAG,
        "run start (rds tiers)",
    ),
    call(
        "elb",
        "DescribeInstanceHealth",
        "describe_instance_health",
        &["elasticloadbalancing:DescribeInstanceHealth"],
        R::Unscoped,
        REGION,
        "run start (waitHealthy behind classic load balancers)",
    ),
    // EC2 Auto Scaling (tiers holding `asg`).
    call(
        "autoscaling",
        "DescribeAutoScalingGroups",
        "describe_auto_scaling_groups",
        &["autoscaling:DescribeAutoScalingGroups"],
        R::Unscoped,
        REGION,
        "plan, run (asg tiers)",
    ),
    call(
        "autoscaling",
        "UpdateAutoScalingGroup",
        "update_auto_scaling_group",
        &["autoscaling:UpdateAutoScalingGroup"],
        R::AutoScalingGroup,
        ASG_TAG,
        "run (asg tiers)",
    ),
    call(
        "autoscaling",
        "CreateOrUpdateTags",
        "create_or_update_tags",
        &["autoscaling:CreateOrUpdateTags"],
        R::AutoScalingGroup,
        ASG_TAG_KEYS,
        "run stop (asg tiers: the recorded sizes)",
    ),
    call(
        "autoscaling",
        "DeleteTags",
        "delete_tags",
        &["autoscaling:DeleteTags"],
        R::AutoScalingGroup,
        ASG_TAG_KEYS,
        "run start (asg tiers: the recorded sizes)",
    ),
    // S3.
    call(
        "s3",
        "GetBucketLocation",
        "get_bucket_location",
        &["s3:GetBucketLocation"],
        R::Bucket,
        &[],
        "run (SSM output bucket)",
    ),
    // SNS.
    call(
        "sns",
        "ListTopics",
        "list_topics",
        &["sns:ListTopics"],
        R::Unscoped,
        REGION,
        "run (notifications)",
    ),
    call(
        "sns",
        "Publish",
        "publish",
        &["sns:Publish"],
        R::Topic,
        &[],
        "run (notifications)",
    ),
    call(
        "sns",
        "CreateTopic",
        "create_topic",
        &["sns:CreateTopic"],
        R::Topic,
        &[],
        "run --create-topic",
    ),
    // SSM: the override check.
    call(
        "ssm",
        "DescribeInstanceInformation",
        "describe_instance_information",
        &["ssm:DescribeInstanceInformation"],
        R::Unscoped,
        REGION,
        "run stop (override check)",
    ),
    call(
        "ssm",
        "SendCommand",
        "send_command",
        &["ssm:SendCommand"],
        R::Document,
        &[],
        "run stop (override check)",
    ),
    call(
        "ssm",
        "SendCommand",
        "send_command",
        &["ssm:SendCommand"],
        R::Instance,
        &["ssm:resourceTag/${TagKey}"],
        "run stop (override check)",
    ),
    call(
        "ssm",
        "ListCommandInvocations",
        "list_command_invocations",
        &["ssm:ListCommandInvocations"],
        R::Unscoped,
        REGION,
        "run stop (override check)",
    ),
    call(
        "ssm",
        "CancelCommand",
        "cancel_command",
        &["ssm:CancelCommand"],
        R::Unscoped,
        REGION,
        "run stop (override check)",
    ),
    // SSM: tierctl's document.
    call(
        "ssm",
        "DescribeDocument",
        "describe_document",
        &["ssm:DescribeDocument"],
        R::Document,
        &[],
        "sync, sync --check",
    ),
    call(
        "ssm",
        "CreateDocument",
        "create_document",
        &["ssm:CreateDocument"],
        R::Document,
        &[],
        "sync",
    ),
    call(
        "ssm",
        "UpdateDocument",
        "update_document",
        &["ssm:UpdateDocument"],
        R::Document,
        &[],
        "sync",
    ),
    call(
        "ssm",
        "UpdateDocumentDefaultVersion",
        "update_document_default_version",
        &["ssm:UpdateDocumentDefaultVersion"],
        R::Document,
        &[],
        "sync",
    ),
    // Lambda: the runner continues a run in a new invocation of itself.
    call(
        "lambda",
        "Invoke",
        "invoke",
        &["lambda:InvokeFunction"],
        R::RunnerFunction,
        &[],
        "the Lambda runner (continuation)",
    ),
    // EventBridge Scheduler: the workloads' schedules (only with a `schedule` in some spec).
    call(
        "scheduler",
        "GetScheduleGroup",
        "get_schedule_group",
        &["scheduler:GetScheduleGroup"],
        R::ScheduleGroup,
        &[],
        "sync, sync --check (schedules)",
    ),
    call(
        "scheduler",
        "CreateScheduleGroup",
        "create_schedule_group",
        &["scheduler:CreateScheduleGroup", "scheduler:TagResource"],
        R::ScheduleGroup,
        &[],
        "sync (schedules)",
    ),
    call(
        "scheduler",
        "ListSchedules",
        "list_schedules",
        &["scheduler:ListSchedules"],
        R::Unscoped,
        REGION,
        "sync, sync --check (schedules)",
    ),
    call(
        "scheduler",
        "GetSchedule",
        "get_schedule",
        &["scheduler:GetSchedule"],
        R::Schedule,
        &[],
        "sync, sync --check (schedules)",
    ),
    call(
        "scheduler",
        "CreateSchedule",
        "create_schedule",
        &["scheduler:CreateSchedule", "iam:PassRole"],
        R::Schedule,
        &[],
        "sync (schedules)",
    ),
    call(
        "scheduler",
        "UpdateSchedule",
        "update_schedule",
        &["scheduler:UpdateSchedule", "iam:PassRole"],
        R::Schedule,
        &[],
        "sync (schedules)",
    ),
    call(
        "scheduler",
        "DeleteSchedule",
        "delete_schedule",
        &["scheduler:DeleteSchedule"],
        R::Schedule,
        &[],
        "sync (schedules)",
    ),
];

/// The IAM actions of the calls on `resource` (all calls when `None`), sorted.
pub fn actions(resource: Option<Resource>) -> BTreeSet<&'static str> {
    CALLS
        .iter()
        .filter(|c| resource.is_none_or(|r| c.resource == r))
        .flat_map(|c| c.actions.iter().copied())
        .collect()
}

/// The IAM actions of the commands' calls: every call but the Lambda
/// runner's own (on [`Resource::RunnerFunction`], which only the runner's
/// execution role needs), sorted.
pub fn command_actions() -> BTreeSet<&'static str> {
    CALLS
        .iter()
        .filter(|c| c.resource != Resource::RunnerFunction)
        .flat_map(|c| c.actions.iter().copied())
        .collect()
}

/// The IAM actions of the calls on `resource` that take `key`, sorted.
pub fn actions_with(resource: Resource, key: &str) -> BTreeSet<&'static str> {
    CALLS
        .iter()
        .filter(|c| c.resource == resource && c.conditions.contains(&key))
        .flat_map(|c| c.actions.iter().copied())
        .collect()
}

/// The README's table (markdown), one row per call.
pub fn markdown_table() -> String {
    let mut out = String::from(
        "| service | operation | IAM actions | resource | condition keys | used by |\n|---|---|---|---|---|---|\n",
    );
    for c in CALLS {
        let code = |xs: &[&str]| {
            if xs.is_empty() {
                "-".to_string()
            } else {
                xs.iter()
                    .map(|x| format!("`{x}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            c.module,
            c.operation,
            code(c.actions),
            c.resource.label(),
            code(c.conditions),
            c.used_by
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::path::Path;

    /// `(module, method)` of every SDK call site in `src/aws/*.rs`: a client
    /// field (`client`, `classic`, `v2`) followed by `.method(`, outside tests.
    fn call_sites() -> BTreeSet<(String, String)> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/aws");
        let mut out = BTreeSet::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let module = path.file_stem().unwrap().to_str().unwrap().to_string();
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap();
            // Joined, whitespace-free: `client\n    .scan()` reads `client.scan(`.
            let flat: String = code.chars().filter(|c| !c.is_whitespace()).collect();
            for field in ["client.", "classic.", "v2.", "tagging."] {
                for (i, _) in flat.match_indices(field) {
                    let before = flat[..i].chars().last();
                    if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                        continue;
                    }
                    let rest = &flat[i + field.len()..];
                    let name: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                        .collect();
                    if name.is_empty() || name == "clone" || !rest[name.len()..].starts_with('(') {
                        continue;
                    }
                    out.insert((module.clone(), name));
                }
            }
        }
        out
    }

    #[test]
    fn every_sdk_call_site_is_in_the_catalogue_and_every_row_is_called() {
        let sites = call_sites();
        assert!(sites.len() > 20, "the scan finds the calls: {sites:?}");
        let listed: BTreeSet<(String, String)> = CALLS
            .iter()
            .filter_map(|c| Some((c.module.to_string(), c.method?.to_string())))
            .collect();
        let missing: Vec<_> = sites.difference(&listed).collect();
        assert!(
            missing.is_empty(),
            "SDK calls not in the catalogue: {missing:?}"
        );
        let unused: Vec<_> = listed.difference(&sites).collect();
        assert!(
            unused.is_empty(),
            "catalogue rows no code calls: {unused:?}"
        );
    }

    #[test]
    fn method_and_operation_agree() {
        for c in CALLS {
            let Some(m) = c.method else { continue };
            let camel: String = m
                .split('_')
                .map(|w| {
                    let mut cs = w.chars();
                    cs.next()
                        .map(|f| f.to_ascii_uppercase().to_string() + cs.as_str())
                        .unwrap_or_default()
                })
                .collect();
            // RDS spells `DB` in capitals (`DescribeDBInstances`), the SDK `describe_db_instances`.
            assert!(camel.eq_ignore_ascii_case(c.operation), "{m}");
            for a in c.actions {
                assert!(a.contains(':') && !a.contains('*'), "{a}");
            }
        }
        // One row per (module, operation, resource).
        let mut seen = BTreeMap::new();
        for c in CALLS {
            assert!(
                seen.insert((c.module, c.operation, c.resource), ())
                    .is_none(),
                "{c:?}"
            );
        }
    }

    #[test]
    fn leading_keys_only_where_dynamodb_supports_them() {
        // Scan, DescribeTable and CreateTable take no dynamodb:LeadingKeys.
        for c in CALLS
            .iter()
            .filter(|c| c.conditions.contains(&"dynamodb:LeadingKeys"))
        {
            for a in c.actions {
                assert!(
                    matches!(
                        *a,
                        "dynamodb:GetItem"
                            | "dynamodb:PutItem"
                            | "dynamodb:UpdateItem"
                            | "dynamodb:DeleteItem"
                    ),
                    "{a}"
                );
            }
        }
    }

    const BEGIN: &str = "<!-- aws-catalogue:begin (generated: TIERCTL_UPDATE_README=1 cargo test --lib catalogue) -->";
    const END: &str = "<!-- aws-catalogue:end -->";

    #[test]
    fn the_readme_table_is_the_catalogue() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
        let readme = std::fs::read_to_string(&path).unwrap();
        let (head, rest) = readme
            .split_once(BEGIN)
            .expect("README has the catalogue markers");
        let (_, tail) = rest.split_once(END).expect("README has the end marker");
        let want = format!("{head}{BEGIN}\n{}{END}{tail}", markdown_table());
        if std::env::var_os("TIERCTL_UPDATE_README").is_some_and(|v| v == "1") {
            std::fs::write(&path, &want).unwrap();
            return;
        }
        assert!(
            want == readme,
            "README's AWS call table is out of date: run TIERCTL_UPDATE_README=1 cargo test --lib catalogue"
        );
    }
}
