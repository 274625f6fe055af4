//! `tierctl iam-policy [WORKLOAD...]`: the least-privilege IAM policy for the workloads.

use std::io::Write;

use anyhow::bail;

use crate::exit::Exit;
use crate::iam::{self, Part, Settings};
use crate::output::Format;

use super::Global;

/// Which commands the policy is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum For {
    /// Read-only: `plan`, `sync --check`, `import` (e.g. a pull request role).
    Plan,
    /// `sync` and everything `plan` needs.
    Sync,
    /// `run` and `unlock`.
    Run,
    /// Everything.
    All,
}

const AFTER_HELP: &str = "\
Prints an IAM policy document (JSON) for the role that runs tierctl: every action named (no \
wildcard), resources as ARNs where AWS supports them, instance actions conditioned on the workload \
tag, \"*\" resources limited to the workloads' regions (aws:RequestedRegion). Statements:

- ConfigTablesRead: dynamodb:DescribeTable, Scan on the two config tables (plan, sync, import, \
run --from dynamodb).
- ConfigTablesCreate: dynamodb:CreateTable on them (sync).
- ConfigTablesWriteItems: dynamodb:PutItem, DeleteItem on them, only for the specs' SpecNames \
(dynamodb:LeadingKeys) (sync; its TransactWriteItems is authorised by the item-level actions of its \
entries and is no IAM action).
- LockTable, LockTableItems: dynamodb:DescribeTable, CreateTable, Scan on the lock table; GetItem, \
PutItem, UpdateItem, DeleteItem only on the workloads' leases (dynamodb:LeadingKeys) (run, unlock).
- Ec2Describe: ec2:DescribeInstances, and DescribeInstanceTypes when a tier has scaling (resize \
checks), on \"*\": they have no resource-level permissions (plan, run).
- Ec2Instances<Region><TagKey>: ec2:StopInstances, StartInstances (tiers with stop / start) on the \
instances whose workload tag has one of the workloads' values (run).
- Ec2ResizeInstanceType/Ec2ResizeEbsOptimized<Region><TagKey>: ec2:ModifyInstanceAttribute (tiers \
with scaling) on those instances, only for ec2:Attribute InstanceType (to the profiles' types, \
ec2:Attribute/InstanceType) and EbsOptimized = false (run).
- KmsGrantForEc2: kms:CreateGrant with kms:GrantIsForAWSResource, for starts of instances with \
volumes encrypted with a customer managed key (run).
- ElbDescribe: for starts, elasticloadbalancing:DescribeLoadBalancers (tiers that re-register with \
classic load balancers, the default) and DescribeTargetGroups, DescribeTargetHealth (waitHealthy; \
with ec2:DescribeInstanceStatus in Ec2Describe), on \"*\" (plan, run).
- ElbClassicReregister: elasticloadbalancing:DeregisterInstancesFromLoadBalancer, \
RegisterInstancesWithLoadBalancer on the regions' classic load balancers (run).
- Ssm*: only when a tier has stop.override: ssm:DescribeInstanceInformation, ssm:SendCommand on the \
document tierctl-OverrideCheck (never AWS-RunShellScript) and on the tagged instances, \
ssm:ListCommandInvocations and CancelCommand (run); ssm:DescribeDocument (plan, sync) and \
CreateDocument, UpdateDocument, UpdateDocumentDefaultVersion (sync) on that document.
- SnsTopics, SnsListTopics: only with notify.snsTopic: sns:Publish on the topics (and \
sns:CreateTopic with --create-topic, for `run --create-topic`), sns:ListTopics (run).
- S3OutputBucketLocation: only with ssm.outputBucket: s3:GetBucketLocation on the bucket (run).

--for plan prints the read-only part (a pull request role), --for sync adds sync's writes, --for run \
what run and unlock need. Without --account the account in ARNs is \"*\"; without --dynamodb-region \
the tables' region is \"*\". Disabled workloads are included: turning the kill switch off needs \
no policy change.

Not in this policy: the guests' instance profile (not tierctl's role) needs the SSM agent's \
permissions (e.g. the managed policy AmazonSSMManagedInstanceCore) and, with ssm.outputBucket, \
s3:PutObject on that bucket (plus kms:GenerateDataKey when a KMS key encrypts it): the agent writes \
the command output there; tierctl never reads it.

- Scheduler*: only when a spec has a schedule: scheduler:GetScheduleGroup (plan, sync) and \
CreateScheduleGroup, TagResource (sync) on the schedule group tierctl; scheduler:ListSchedules on \
\"*\" (plan, sync); GetSchedule (plan, sync) and CreateSchedule, UpdateSchedule, DeleteSchedule \
(sync) on the schedules in group tierctl; iam:PassRole on the scheduler role, only to \
scheduler.amazonaws.com (sync).

--role runner prints the Lambda runner's execution role policy (the run statements, \
logs:CreateLogGroup, CreateLogStream, PutLogEvents on its log group, lambda:InvokeFunction on \
itself to continue a run); --role scheduler the scheduler role's (lambda:InvokeFunction on the \
runner only, and sqs:SendMessage on --dead-letter-arn); with --trust, their trust policies (lambda.amazonaws.com; scheduler.amazonaws.com \
with aws:SourceAccount).

IAM allows 6,144 characters (whitespace excluded) in a managed policy: with many workloads, print \
the parts (--for sync, --for run) and attach them as separate policies.";

/// Which role a policy is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// The role that runs tierctl (CI: plan, sync, run).
    Tierctl,
    /// The Lambda runner's execution role: what `run --from dynamodb` needs, its logs, and
    /// invoking itself to continue a run.
    Runner,
    /// The role EventBridge Scheduler assumes: only lambda:InvokeFunction on the runner.
    Scheduler,
}

/// Arguments of `iam-policy`.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// Workloads (SpecName) the policy is for [default: every workload].
    #[arg(value_name = "WORKLOAD")]
    workloads: Vec<String>,
    /// Every workload (the default when none is named).
    #[arg(long, short = 'a', conflicts_with = "workloads")]
    all: bool,
    /// AWS account id in the ARNs [default: "*"].
    #[arg(long, value_name = "ID")]
    account: Option<String>,
    /// ARN partition [default: from the workloads' regions, e.g. aws, aws-cn, aws-us-gov].
    #[arg(long, value_name = "PARTITION")]
    partition: Option<String>,
    /// Also allow sns:CreateTopic on the workloads' topics.
    #[arg(long)]
    create_topic: bool,
    /// Only the statements these commands need.
    #[arg(
        long = "for",
        value_enum,
        default_value = "all",
        value_name = "COMMANDS"
    )]
    part: For,
    /// DynamoDB table holding the run leases.
    #[arg(
        long,
        env = "TIERCTL_LOCK_TABLE",
        default_value = "TierctlLocks",
        value_name = "TABLE"
    )]
    lock_table: String,
    /// Which role's policy to print.
    #[arg(long, value_enum, default_value = "tierctl", value_name = "ROLE")]
    role: Role,
    /// Print the role's trust policy instead (--role runner: lambda.amazonaws.com; --role
    /// scheduler: scheduler.amazonaws.com for --account only).
    #[arg(long)]
    trust: bool,
    /// The runner function's ARN [default: function tierctl-runner in the tables' region].
    #[arg(long, env = "TIERCTL_RUNNER_ARN", value_name = "ARN")]
    runner_arn: Option<String>,
    /// The scheduler role's ARN, passed by sync [default: role tierctl-scheduler].
    #[arg(long, env = "TIERCTL_SCHEDULER_ROLE_ARN", value_name = "ARN")]
    scheduler_role_arn: Option<String>,
    /// The schedules' dead-letter queue (--role scheduler: sqs:SendMessage on it).
    #[arg(long, env = "TIERCTL_DEAD_LETTER_ARN", value_name = "ARN")]
    dead_letter_arn: Option<String>,
}

pub(super) fn run(global: &Global, args: Args) -> anyhow::Result<Exit> {
    if !matches!(
        global.output.unwrap_or(Format::Json),
        Format::Json | Format::Text
    ) {
        bail!("iam-policy prints a JSON policy document");
    }
    if let Some(account) = &args.account
        && !(account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()))
    {
        bail!("--account must be a 12-digit AWS account id, not `{account}`");
    }
    if let Some(p) = &args.partition
        && (p.is_empty() || !p.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'))
    {
        bail!("--partition must look like aws, aws-cn or aws-us-gov, not `{p}`");
    }
    let Some(workloads) = super::load_valid(global, &[])? else {
        return Ok(Exit::Error);
    };
    let config = crate::pipeline::config::Config {
        source: crate::pipeline::config::Source::Yaml,
        workloads: workloads.into_iter().map(|(f, w)| (Some(f), w)).collect(),
        refused: Vec::new(),
    };
    let selection = crate::pipeline::config::Selection {
        all: args.all || args.workloads.is_empty(),
        workloads: args.workloads.clone(),
    };
    let selected = config.select(&selection, "print a policy for")?;
    let partition = match &args.partition {
        Some(p) => p.clone(),
        None => {
            let found: std::collections::BTreeSet<&str> = selected
                .iter()
                .map(|w| iam::partition_for_region(&w.region))
                .chain(
                    global
                        .tables
                        .region
                        .as_deref()
                        .map(iam::partition_for_region),
                )
                .collect();
            match found.len() {
                0 => "aws".to_string(),
                1 => found.into_iter().next().unwrap_or("aws").to_string(),
                _ => bail!(
                    "the workloads' regions are in several partitions ({}); pass --partition",
                    found.into_iter().collect::<Vec<_>>().join(", ")
                ),
            }
        }
    };
    let settings = Settings {
        lock_table: &args.lock_table,
        account: args.account.as_deref(),
        partition: &partition,
        create_topic: args.create_topic,
        part: match args.part {
            For::Plan => Part::Plan,
            For::Sync => Part::Sync,
            For::Run => Part::Run,
            For::All => Part::All,
        },
        scheduler_role: args
            .scheduler_role_arn
            .as_deref()
            .filter(|a| !a.trim().is_empty()),
        runner: args.runner_arn.as_deref().filter(|a| !a.trim().is_empty()),
        dead_letter: args
            .dead_letter_arn
            .as_deref()
            .filter(|a| !a.trim().is_empty()),
    };
    let document = match (args.role, args.trust) {
        (Role::Tierctl, true) => {
            bail!(
                "--trust is for --role runner or --role scheduler: tierctl's role is assumed by whatever runs it (CI)"
            )
        }
        (Role::Tierctl, false) => iam::policy(&selected, &global.tables, &settings),
        (Role::Runner, false) => iam::runner_policy(&selected, &global.tables, &settings),
        (Role::Scheduler, false) => iam::scheduler_role_policy(&global.tables, &settings),
        (Role::Runner, true) => iam::trust_policy("lambda.amazonaws.com", None),
        (Role::Scheduler, true) => {
            let Some(account) = args.account.as_deref() else {
                bail!("--role scheduler --trust needs --account (the aws:SourceAccount condition)");
            };
            iam::trust_policy("scheduler.amazonaws.com", Some(account))
        }
    };
    let policy: crate::json::IamPolicyOutput = serde_json::from_value(document)?;
    let compact: usize = serde_json::to_string(&policy)?
        .chars()
        .filter(|c| !c.is_whitespace())
        .count();
    if compact > 6144 {
        tracing::warn!(
            "the policy has {compact} characters, more than IAM's 6,144 for a managed policy: \
print it in parts (--for sync, --for run) or for fewer workloads"
        );
    }
    let mut text = serde_json::to_string_pretty(&policy)?;
    text.push('\n');
    std::io::stdout().write_all(text.as_bytes())?;
    Ok(Exit::Success)
}
