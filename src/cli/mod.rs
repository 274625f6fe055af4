//! The command line: clap definitions, one file per command. Arguments are
//! parsed once into [`Global`] settings and per-command args; nothing below
//! this module looks at argv or the environment for its settings.

mod completions;
mod iam_policy;
mod import;
mod plan;
mod run;
mod schema;
mod sync;
mod unlock;
mod validate;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::exit::{EXIT_CODES_HELP, Exit};
use crate::output::{ColorChoice, Format};

/// Stop and start multi-tier EC2 workloads in order, safely, from specs kept in git.
#[derive(Debug, Parser)]
#[command(name = "tierctl", version, about, long_about = None, after_help = EXIT_CODES_HELP, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

/// Flags every command accepts.
#[derive(Debug, clap::Args)]
struct GlobalArgs {
    /// Folder holding the workload files (`<name>.yaml`).
    #[arg(
        long,
        global = true,
        env = "TIERCTL_SPECS",
        default_value = "workloads",
        value_name = "DIR"
    )]
    specs: PathBuf,
    /// Output format [default: text; github for `validate` when GITHUB_ACTIONS=true].
    #[arg(short, long, global = true, value_enum, value_name = "FORMAT")]
    output: Option<Format>,
    /// Region of the DynamoDB tables (defaults to the SDK's region chain).
    #[arg(
        long,
        global = true,
        env = "TIERCTL_DYNAMODB_REGION",
        value_name = "REGION"
    )]
    dynamodb_region: Option<String>,
    /// Name of the workload table.
    #[arg(
        long,
        global = true,
        env = "TIERCTL_WORKLOAD_TABLE",
        default_value = "WorkloadSpecification",
        value_name = "TABLE"
    )]
    workload_table: String,
    /// Name of the tier table.
    #[arg(
        long,
        global = true,
        env = "TIERCTL_TIER_TABLE",
        default_value = "TierSpecification",
        value_name = "TABLE"
    )]
    tier_table: String,
    /// Repository id in the `ManagedBy` marker of synced items (`tierctl:<ID>`)
    /// [default: the specs folder's git remote `origin` as host/owner/name]
    #[arg(long, global = true, env = "TIERCTL_REPO_ID", value_name = "ID")]
    repo_id: Option<String>,
    /// More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    verbose: u8,
    /// Less log output on stderr (-q errors only, -qq nothing).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    quiet: u8,
    /// Colour in text output; NO_COLOR disables it in `auto`.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "auto",
        value_name = "WHEN"
    )]
    color: ColorChoice,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check workload specs: schema, names, paths, AWS formats. Reports every problem with file:line:column.
    Validate(validate::Args),
    /// Make the DynamoDB tables say what the YAML says (creating them when missing).
    Sync(sync::Args),
    /// Show what `run stop|start` would do, tier by tier, and the config diff. Changes nothing.
    Plan(plan::Args),
    /// Stop or start workloads: observe, plan, execute, tier by tier.
    Run(run::Args),
    /// Remove a stale run lock.
    Unlock(unlock::Args),
    /// Turn the original tool's DynamoDB items into workload YAML files.
    Import(import::Args),
    /// Print the least-privilege IAM policy the workloads need.
    IamPolicy(iam_policy::Args),
    /// Write (or check) the JSON Schema generated from the spec types.
    Schema(schema::Args),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completions(completions::Args),
    /// Write the man pages (one per command) into a folder.
    #[command(hide = true)]
    Man(completions::ManArgs),
}

/// Settings every command reads, resolved from the global flags.
#[derive(Debug)]
pub struct Global {
    /// Where workload files live.
    pub specs: PathBuf,
    /// `-o` as given (commands pick their default).
    pub output: Option<Format>,
    /// Colour stdout.
    pub color: bool,
    /// DynamoDB settings.
    pub tables: crate::Tables,
    /// The library session: settings and the one SDK configuration.
    pub session: crate::pipeline::Session,
}

/// Parses argv, runs the command and returns its exit code.
///
/// Usage errors exit 1, not clap's 2: 2 means "changes present".
pub fn run() -> anyhow::Result<Exit> {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                Exit::Error
            } else {
                Exit::Success
            };
            let _ = e.print();
            return Ok(code);
        }
    };
    init_logging(cli.global.verbose, cli.global.quiet);
    let g = &cli.global;
    let tables = crate::Tables {
        region: g.dynamodb_region.clone(),
        workload_table: g.workload_table.clone(),
        tier_table: g.tier_table.clone(),
    };
    let global = Global {
        specs: g.specs.clone(),
        output: g.output,
        color: crate::output::use_color(g.color),
        session: crate::pipeline::Session::new(tables.clone(), g.specs.clone())
            .with_repository(g.repo_id.clone()),
        tables,
    };
    match cli.command {
        Command::Validate(args) => validate::run(&global, args),
        Command::Schema(args) => schema::run(&global, args),
        Command::IamPolicy(args) => iam_policy::run(&global, args),
        Command::Sync(args) => sync::run(&global, args),
        Command::Import(args) => import::run(&global, args),
        Command::Plan(args) => plan::run(&global, args),
        Command::Run(args) => run::run(&global, args),
        Command::Unlock(args) => unlock::run(&global, args),
        Command::Completions(args) => completions::run(args),
        Command::Man(args) => completions::man(args),
    }
}

/// Runs async work on a runtime made for this command.
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("the tokio runtime starts")
        .block_on(f)
}

/// Validates the specs under `paths` (default: the specs folder).
///
/// Invalid specs print their diagnostics on stderr and give `None`: nothing
/// that reads specs acts on a set with an invalid file in it.
fn load_valid(
    global: &Global,
    paths: &[PathBuf],
) -> anyhow::Result<Option<Vec<(PathBuf, crate::spec::Workload)>>> {
    match crate::pipeline::config::load_yaml(&global.session, paths) {
        Ok(w) => Ok(Some(w)),
        Err(e) => pipeline_error(e).map(|_| None),
    }
}

/// Reports a pipeline error the way a person expects: invalid specs with
/// their diagnostics and exit 1, a stale plan with what changed and exit 4,
/// anything else as an error.
fn pipeline_error(e: crate::pipeline::PipelineError) -> anyhow::Result<Exit> {
    use crate::pipeline::PipelineError as P;
    match e {
        P::InvalidSpecs { checked } => {
            let text = crate::output::render_checked(&checked, crate::output::Format::Text, false);
            eprint!("{text}");
            eprintln!("error: invalid workload specs: nothing was done");
            Ok(Exit::Error)
        }
        P::Stale(stale) => {
            eprintln!("error: {stale}");
            Ok(Exit::StalePlan)
        }
        other => Err(other.into()),
    }
}

fn init_logging(verbose: u8, quiet: u8) {
    use tracing_subscriber::EnvFilter;
    let level = match (verbose, quiet) {
        (_, q) if q >= 2 => "off",
        (_, 1) => "error",
        (0, _) => "warn",
        (1, _) => "info",
        (2, _) => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| {
        EnvFilter::new(format!(
            "{level},aws_config=error,aws_smithy_runtime=warn,hyper=warn"
        ))
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(
            std::io::IsTerminal::is_terminal(&std::io::stderr())
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        )
        .with_target(false)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
