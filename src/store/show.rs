//! Showing a [`ChangeSet`]: a unified diff of the YAML-rendered items for
//! people, a stable JSON document for scripts, markdown for pull requests.

use owo_colors::OwoColorize;
use serde::Serialize;
use serde_json::Value;

use super::diff::{Action, ChangeSet, TableNames, WorkloadAction, WorkloadChange};
use super::item::item_to_json;
use crate::output::JSON_VERSION;

/// Where the tables are, for headings.
#[derive(Debug, Clone)]
pub struct Context {
    /// Table names.
    pub names: TableNames,
    /// Region of the tables.
    pub region: String,
    /// Tables that do not exist yet.
    pub missing_tables: Vec<String>,
}

fn item_yaml(item: Option<&super::item::Item>) -> String {
    item.map(|i| crate::render::to_yaml(&item_to_json(i)))
        .unwrap_or_default()
}

/// The unified diff of one workload's changed items (empty when unchanged):
/// one section per item, each headed by the item's table and key.
pub fn item_diff(w: &WorkloadChange, names: &TableNames) -> String {
    let mut sections = String::new();
    for c in w.writes() {
        let before = item_yaml(c.before.as_ref());
        let after = item_yaml(c.after.as_ref());
        if before == after {
            continue;
        }
        sections.push_str(&format!("{} ({})\n", c.label(names), action_word(c.action)));
        let diff = similar::TextDiff::from_lines(&before, &after);
        for hunk in diff.unified_diff().context_radius(3).iter_hunks() {
            sections.push_str(&hunk.to_string());
        }
    }
    if sections.is_empty() {
        return sections;
    }
    let new_label = w
        .file
        .as_ref()
        .map(|f| f.display().to_string())
        .unwrap_or_else(|| "(not in the YAML)".into());
    format!("--- dynamodb\n+++ {new_label}\n{sections}")
}

fn action_word(a: Action) -> &'static str {
    match a {
        Action::Create => "create",
        Action::Update => "update",
        Action::Delete => "delete",
        Action::Unchanged => "unchanged",
    }
}

fn summary(w: &WorkloadChange) -> String {
    let count = |a: Action, tier: bool| {
        w.items
            .iter()
            .filter(|i| i.action == a && i.tier.is_some() == tier)
            .count()
    };
    let mut parts = Vec::new();
    for (a, word) in [
        (Action::Create, "added"),
        (Action::Update, "changed"),
        (Action::Delete, "removed"),
    ] {
        if count(a, false) > 0 {
            parts.push(format!("workload item {word}"));
        }
        let n = count(a, true);
        if n > 0 {
            parts.push(format!("{n} tier{} {word}", if n == 1 { "" } else { "s" }));
        }
    }
    parts.join(", ")
}

/// Human text: one line per workload, the diff of each changed one, totals.
pub fn text(changes: &ChangeSet, ctx: &Context, color: bool) -> String {
    let mut out = format!(
        "DynamoDB {} ({}, {})\n",
        ctx.region, ctx.names.workload, ctx.names.tier
    );
    for t in &ctx.missing_tables {
        out.push_str(&format!(
            "  table {t} does not exist yet: it will be created\n"
        ));
    }
    for w in &changes.workloads {
        let (sign, what) = match w.action {
            WorkloadAction::Create => ("+", format!("create ({})", summary(w))),
            WorkloadAction::Update => ("~", format!("update ({})", summary(w))),
            WorkloadAction::Unchanged => ("=", "unchanged".to_string()),
            WorkloadAction::Orphan => (
                "!",
                "only in DynamoDB, not in the YAML: left alone (--prune removes what tierctl wrote)".to_string(),
            ),
            WorkloadAction::Prune => ("-", format!("prune ({})", summary(w))),
            WorkloadAction::Foreign => (
                "!",
                "owned by another repository: not written".to_string(),
            ),
        };
        let line = format!("{sign} {} {what}", crate::text::plain(&w.name));
        let line = match (color, w.action) {
            (false, _) => line,
            (true, WorkloadAction::Create) => line.green().to_string(),
            (true, WorkloadAction::Update) => line.yellow().to_string(),
            (true, WorkloadAction::Prune) => line.red().to_string(),
            (true, WorkloadAction::Orphan | WorkloadAction::Foreign) => line.magenta().to_string(),
            (true, WorkloadAction::Unchanged) => line.dimmed().to_string(),
        };
        out.push_str(&line);
        out.push('\n');
        for note in &w.notes {
            out.push_str(&format!("    note: {}\n", crate::text::plain(note)));
        }
        for l in item_diff(w, &ctx.names).lines() {
            let l = format!("    {}", crate::text::plain(l));
            let l = match (color, l.trim_start().chars().next()) {
                (true, Some('+')) => l.green().to_string(),
                (true, Some('-')) => l.red().to_string(),
                (true, Some('@')) => l.cyan().to_string(),
                _ => l,
            };
            out.push_str(&l);
            out.push('\n');
        }
    }
    let deletes: usize = changes
        .workloads
        .iter()
        .map(|w| {
            w.items
                .iter()
                .filter(|i| i.action == Action::Delete)
                .count()
        })
        .sum();
    out.push_str(&format!(
        "{} to create, {} to update, {} to prune, {} unchanged, {} only in DynamoDB; {} item write{}{}\n",
        changes.count(WorkloadAction::Create),
        changes.count(WorkloadAction::Update),
        changes.count(WorkloadAction::Prune),
        changes.count(WorkloadAction::Unchanged),
        changes.count(WorkloadAction::Orphan),
        changes.item_writes(),
        if changes.item_writes() == 1 { "" } else { "s" },
        if deletes > 0 { format!(" ({deletes} deletion{})", if deletes == 1 { "" } else { "s" }) } else { String::new() },
    ));
    out
}

/// One item of [`DiffJson`].
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ItemJson {
    /// Table name.
    pub table: String,
    /// The item's key (`SpecName`, and `TierTagValue` for tiers).
    pub key: Value,
    /// What happens to it.
    pub action: Action,
}

/// One workload of [`DiffJson`].
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadJson {
    /// SpecName.
    pub name: String,
    /// Its YAML file, for declared workloads.
    pub file: Option<String>,
    /// What happens overall.
    pub action: WorkloadAction,
    /// Every item, changed or not.
    pub items: Vec<ItemJson>,
    /// Things a person should know.
    pub notes: Vec<String>,
    /// Unified diff of the items (empty when unchanged).
    pub diff: String,
}

/// Table names of [`DiffJson`].
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct TablesJson {
    /// Workload table.
    pub workload: String,
    /// Tier table.
    pub tier: String,
}

/// The difference between the YAML and the tables (`sync --check -o json`,
/// and the `config` of `plan -o json`).
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DiffJson {
    /// [`crate::json::VERSION`].
    pub version: u32,
    /// Region of the tables.
    pub region: String,
    /// Table names.
    pub tables: TablesJson,
    /// Tables that do not exist yet.
    pub missing_tables: Vec<String>,
    /// Whether anything differs (changes, missing tables, workloads owned by another repository;
    /// for `sync`, also tierctl's SSM document).
    pub drift: bool,
    /// Items written or deleted.
    pub item_writes: usize,
    /// Per workload, by name.
    pub workloads: Vec<WorkloadJson>,
}

/// The change set as JSON data (`version`ed).
pub fn json(changes: &ChangeSet, ctx: &Context) -> Value {
    serde_json::to_value(diff_json(changes, ctx)).expect("serialisable")
}

/// Whether the tables differ from the YAML: changes, missing tables, or
/// declared workloads another repository owns.
pub fn tables_drift(changes: &ChangeSet, ctx: &Context) -> bool {
    changes.has_changes()
        || !ctx.missing_tables.is_empty()
        || changes.count(WorkloadAction::Foreign) > 0
}

/// The change set as a typed document.
pub fn diff_json(changes: &ChangeSet, ctx: &Context) -> DiffJson {
    let workloads: Vec<WorkloadJson> = changes
        .workloads
        .iter()
        .map(|w| WorkloadJson {
            name: w.name.clone(),
            file: w.file.as_ref().map(|f| f.display().to_string()),
            action: w.action,
            items: w
                .items
                .iter()
                .map(|i| ItemJson {
                    table: match i.table {
                        super::diff::Table::Workload => ctx.names.workload.clone(),
                        super::diff::Table::Tier => ctx.names.tier.clone(),
                    },
                    key: item_to_json(&super::diff::key_of(i)),
                    action: i.action,
                })
                .collect(),
            notes: w.notes.clone(),
            diff: item_diff(w, &ctx.names),
        })
        .collect();
    DiffJson {
        version: JSON_VERSION,
        region: ctx.region.clone(),
        tables: TablesJson {
            workload: ctx.names.workload.clone(),
            tier: ctx.names.tier.clone(),
        },
        missing_tables: ctx.missing_tables.clone(),
        drift: tables_drift(changes, ctx),
        item_writes: changes.item_writes(),
        workloads,
    }
}

/// Markdown for a pull request comment: counts first, a collapsible diff per workload.
pub fn markdown(changes: &ChangeSet, ctx: &Context) -> String {
    let mut out = format!(
        "### DynamoDB config ({})\n\n| create | update | prune | unchanged | only in DynamoDB |\n|---|---|---|---|---|\n| {} | {} | {} | {} | {} |\n\n",
        ctx.region,
        changes.count(WorkloadAction::Create),
        changes.count(WorkloadAction::Update),
        changes.count(WorkloadAction::Prune),
        changes.count(WorkloadAction::Unchanged),
        changes.count(WorkloadAction::Orphan),
    );
    for t in &ctx.missing_tables {
        out.push_str(&format!("- table `{t}` will be created\n"));
    }
    for w in &changes.workloads {
        if w.action == WorkloadAction::Foreign {
            out.push_str(&format!(
                "- `{}` is owned by another repository: not written\n",
                w.name
            ));
        }
        let diff = item_diff(w, &ctx.names);
        if diff.is_empty() {
            continue;
        }
        out.push_str(&format!(
            "<details><summary><code>{}</code>: {} ({})</summary>\n\n```diff\n{}```\n</details>\n\n",
            crate::text::cell(&w.name),
            serde_json::to_value(w.action).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(),
            summary(w),
            crate::text::in_fence(&diff)
        ));
    }
    out
}
