//! The difference between the YAML and the tables: a pure function from
//! desired workloads and current items to a [`ChangeSet`].
//!
//! Comparison is semantic: an item that says the same thing in another
//! spelling (`"True"` vs `"true"`, a default written out or left implicit) is
//! unchanged, so importing a table and syncing it back writes nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::Serialize;

use super::item::{self, Item, OWNER_ATTR};
use super::owner::{Owner, Ownership};
use crate::spec::Workload;

/// Which configuration table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Table {
    /// `WorkloadSpecification` (or its configured name).
    #[serde(rename = "workload")]
    Workload,
    /// `TierSpecification` (or its configured name).
    #[serde(rename = "tier")]
    Tier,
}

impl Table {
    /// The item format stored in this table.
    pub fn kind(self) -> item::ItemKind {
        match self {
            Table::Workload => item::ItemKind::Workload,
            Table::Tier => item::ItemKind::Tier,
        }
    }
}

/// What happens to one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Written new.
    Create,
    /// Overwritten.
    Update,
    /// Removed.
    Delete,
    /// Left as it is.
    Unchanged,
}

/// What happens to one workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum WorkloadAction {
    /// Not in DynamoDB yet.
    Create,
    /// Some items change.
    Update,
    /// Nothing to write.
    Unchanged,
    /// In DynamoDB but not in the YAML; left alone.
    Orphan,
    /// In DynamoDB but not in the YAML; its tierctl-owned items are removed (`--prune`).
    Prune,
    /// In the YAML, but its items are marked by another repository: not written.
    Foreign,
}

/// One item's change.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemChange {
    /// Which table.
    pub table: Table,
    /// `SpecName`.
    pub spec: String,
    /// `TierTagValue` for tier items.
    pub tier: Option<String>,
    /// What happens.
    pub action: Action,
    /// The item as read (for updates and deletes: also the write condition).
    pub before: Option<Item>,
    /// The item to write.
    pub after: Option<Item>,
}

impl ItemChange {
    /// `WorkloadSpecification BotoTestCase1` / `TierSpecification BotoTestCase1/Role_Web`.
    pub fn label(&self, names: &TableNames) -> String {
        match &self.tier {
            None => format!("{} {}", names.workload, self.spec),
            Some(t) => format!("{} {}/{t}", names.tier, self.spec),
        }
    }
}

/// The configured table names, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableNames {
    /// Workload table.
    pub workload: String,
    /// Tier table.
    pub tier: String,
}

/// One workload's change.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadChange {
    /// `SpecName`.
    pub name: String,
    /// The YAML file, for workloads in the YAML.
    pub file: Option<PathBuf>,
    /// What happens overall.
    pub action: WorkloadAction,
    /// Every item of the workload, changed or not.
    pub items: Vec<ItemChange>,
    /// Things a person should know (kept attributes, items not pruned...).
    pub notes: Vec<String>,
}

impl WorkloadChange {
    /// Items that are written or deleted.
    pub fn writes(&self) -> impl Iterator<Item = &ItemChange> {
        self.items.iter().filter(|i| i.action != Action::Unchanged)
    }
}

/// Everything `sync` would do.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChangeSet {
    /// Per workload, sorted by name.
    pub workloads: Vec<WorkloadChange>,
}

impl ChangeSet {
    /// Whether anything would be written.
    pub fn has_changes(&self) -> bool {
        self.workloads.iter().any(|w| w.writes().next().is_some())
    }

    /// Number of items written or deleted.
    pub fn item_writes(&self) -> usize {
        self.workloads.iter().map(|w| w.writes().count()).sum()
    }

    /// Count of workloads per action.
    pub fn count(&self, action: WorkloadAction) -> usize {
        self.workloads.iter().filter(|w| w.action == action).count()
    }
}

/// What is in the tables now.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Current {
    /// Workload items by `SpecName`.
    pub workloads: BTreeMap<String, Item>,
    /// Tier items by `SpecName`, then `TierTagValue`.
    pub tiers: BTreeMap<String, BTreeMap<String, Item>>,
}

impl Current {
    /// Groups scanned items; items without their key attributes are ignored.
    pub fn from_items(workload_items: Vec<Item>, tier_items: Vec<Item>) -> Self {
        let mut current = Current::default();
        for it in workload_items {
            if let Some(name) = string_attr(&it, item::WorkloadItem::SPEC_NAME) {
                current.workloads.insert(name, it);
            }
        }
        for it in tier_items {
            if let (Some(spec), Some(tier)) = (
                string_attr(&it, item::TierItem::SPEC_NAME),
                string_attr(&it, item::TierItem::TIER_TAG_VALUE),
            ) {
                current.tiers.entry(spec).or_default().insert(tier, it);
            }
        }
        current
    }

    /// Every `SpecName` present in either table.
    pub fn names(&self) -> BTreeSet<String> {
        self.workloads
            .keys()
            .chain(self.tiers.keys())
            .cloned()
            .collect()
    }
}

fn string_attr(item: &Item, name: &str) -> Option<String> {
    item::string_attribute(item, name).map(str::to_string)
}

/// What `diff` compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scope {
    /// The YAML given is every workload (the whole specs folder), so
    /// workloads only in DynamoDB are orphans.
    pub complete: bool,
    /// Delete orphans' owned items.
    pub prune: bool,
}

/// A desired workload and where it came from.
#[derive(Debug, Clone)]
pub struct Desired<'a> {
    /// The spec.
    pub workload: &'a Workload,
    /// Its file.
    pub file: Option<PathBuf>,
}

/// Computes the changes that make the tables say what the YAML says.
///
/// Items are written with `owner`'s marker. A declared workload whose items
/// another repository marked is [`WorkloadAction::Foreign`] and not written;
/// unmarked and plain-`tierctl` items are adopted. Only items with `owner`'s
/// marker are ever deleted (tiers dropped from the YAML, `--prune`).
pub fn diff(desired: &[Desired<'_>], current: &Current, scope: Scope, owner: &Owner) -> ChangeSet {
    let mut out = Vec::new();
    let mut declared = BTreeSet::new();
    for d in desired {
        declared.insert(d.workload.name.clone());
        out.push(diff_workload(d, current, owner));
    }
    if scope.complete {
        for name in current.names().difference(&declared) {
            out.push(orphan(name, current, scope.prune, owner));
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    ChangeSet { workloads: out }
}

fn diff_workload(d: &Desired<'_>, current: &Current, owner: &Owner) -> WorkloadChange {
    let w = d.workload;
    let want = item::to_items_marked(w, owner.marker());
    let cur_w = current.workloads.get(&w.name);
    let no_tiers = BTreeMap::new();
    let cur_t = current.tiers.get(&w.name).unwrap_or(&no_tiers);
    let mut notes = Vec::new();

    // Another repository's workload is never written from here.
    let foreign: BTreeSet<String> = cur_w
        .into_iter()
        .chain(cur_t.values())
        .filter_map(|i| match owner.judge(i) {
            Ownership::Other(m) => Some(m),
            _ => None,
        })
        .collect();
    if !foreign.is_empty() {
        let markers: Vec<String> = foreign.into_iter().collect();
        notes.push(format!(
            "not written: its items are marked {OWNER_ATTR} = {} (another repository); \
this repository is {}. Remove the workload from one of them",
            markers.join(", "),
            owner.marker()
        ));
        let items = cur_w
            .map(|i| (None, i))
            .into_iter()
            .chain(cur_t.iter().map(|(t, i)| (Some(t), i)))
            .map(|(t, i)| ItemChange {
                table: if t.is_some() {
                    Table::Tier
                } else {
                    Table::Workload
                },
                spec: w.name.clone(),
                tier: t.cloned(),
                action: Action::Unchanged,
                before: Some(i.clone()),
                after: None,
            })
            .collect();
        return WorkloadChange {
            name: w.name.clone(),
            file: d.file.clone(),
            action: WorkloadAction::Foreign,
            items,
            notes,
        };
    }

    // The current config as a spec, when it parses: the basis of the semantic comparison.
    let parsed = cur_w.and_then(|cw| {
        let tiers: Vec<Item> = cur_t.values().cloned().collect();
        match item::from_items(cw, &tiers) {
            // The current state goes through the same checks as every other
            // source: an invalid one is never taken as "unchanged".
            Ok(imported) => {
                let errors: Vec<String> = crate::validate::check_workload(&imported.workload, "")
                    .into_iter()
                    .filter(|d| d.severity == crate::validate::Severity::Error)
                    .map(|d| format!("{}: {}", d.path, d.message))
                    .collect();
                if errors.is_empty() {
                    Some(imported.workload)
                } else {
                    notes.push(format!(
                        "the current items are invalid ({}); they are rewritten",
                        crate::text::plain(&errors.join("; "))
                    ));
                    None
                }
            }
            Err(e) => {
                notes.push(format!(
                    "the current items do not parse ({e}); they are rewritten"
                ));
                None
            }
        }
    });

    let mut items = Vec::new();
    let same_workload = parsed
        .as_ref()
        .is_some_and(|p| without_tiers(p) == without_tiers(w));
    items.push(change(
        Table::Workload,
        &w.name,
        None,
        cur_w,
        &want.workload,
        same_workload && cur_w.is_none_or(|i| owner.judge(i) != Ownership::Unscoped),
        &mut notes,
    ));
    for tier in &w.tiers {
        let same = parsed
            .as_ref()
            .and_then(|p| p.tiers.iter().find(|t| t.name == tier.name))
            .is_some_and(|t| t == tier);
        let after = &want.tiers[&tier.name];
        items.push(change(
            Table::Tier,
            &w.name,
            Some(&tier.name),
            cur_t.get(&tier.name),
            after,
            same && cur_t
                .get(&tier.name)
                .is_none_or(|i| owner.judge(i) != Ownership::Unscoped),
            &mut notes,
        ));
    }
    // Plain-`tierctl` items are rewritten with this repository's marker;
    // unmarked ones (the original's) get it with their next real change.
    if cur_w
        .into_iter()
        .chain(cur_t.values())
        .any(|i| owner.judge(i) == Ownership::Unscoped)
    {
        notes.push(format!(
            "adopted by this repository: items marked {OWNER_ATTR} = tierctl are marked {} from now on",
            owner.marker()
        ));
    }
    for (name, before) in cur_t {
        if !want.tiers.contains_key(name) {
            // The workload is this repository's (a foreign one returned
            // above), so its YAML decides; a tier marked by another
            // repository is still never deleted from here.
            let action = match owner.judge(before) {
                Ownership::Other(m) => {
                    notes.push(format!(
                        "tier {name} is not in the YAML but belongs to another repository \
({OWNER_ATTR} = {m}): left alone"
                    ));
                    Action::Unchanged
                }
                _ => Action::Delete,
            };
            items.push(ItemChange {
                table: Table::Tier,
                spec: w.name.clone(),
                tier: Some(name.clone()),
                action,
                before: Some(before.clone()),
                after: None,
            });
        }
    }
    let action = if cur_w.is_none() && cur_t.is_empty() {
        WorkloadAction::Create
    } else if items.iter().all(|i| i.action == Action::Unchanged) {
        WorkloadAction::Unchanged
    } else {
        WorkloadAction::Update
    };
    WorkloadChange {
        name: w.name.clone(),
        file: d.file.clone(),
        action,
        items,
        notes,
    }
}

/// The workload item's part of a spec: no tiers, and no schedule (never in
/// the original tables, so a spec with one must not look changed).
fn without_tiers(w: &Workload) -> Workload {
    Workload {
        tiers: Vec::new(),
        schedule: None,
        ..w.clone()
    }
}

/// One item: unchanged when it means the same, else created or updated.
///
/// Attributes tierctl does not know are kept on update (they may belong to
/// another tool); the note says so.
fn change(
    table: Table,
    spec: &str,
    tier: Option<&str>,
    before: Option<&Item>,
    want: &Item,
    same: bool,
    notes: &mut Vec<String>,
) -> ItemChange {
    let (action, after) = match before {
        None => (Action::Create, Some(want.clone())),
        Some(_) if same => (Action::Unchanged, None),
        Some(b) => {
            let mut after = want.clone();
            for (k, v) in b {
                if !known_attribute(table, k) && !after.contains_key(k) {
                    notes.push(format!(
                        "keeps attribute `{k}` that tierctl does not manage"
                    ));
                    after.insert(k.clone(), v.clone());
                }
            }
            (Action::Update, Some(after))
        }
    };
    ItemChange {
        table,
        spec: spec.to_string(),
        tier: tier.map(str::to_string),
        action,
        before: before.cloned(),
        after,
    }
}

/// Whether `name` is a top-level attribute of the item format (from the item structs).
fn known_attribute(table: Table, name: &str) -> bool {
    item::format_attributes(table.kind()).contains(&name)
}

fn orphan(name: &str, current: &Current, prune: bool, owner: &Owner) -> WorkloadChange {
    let mut items = Vec::new();
    let mut notes = Vec::new();
    let mut consider = |table: Table, tier: Option<&String>, it: &Item| {
        let ownership = owner.judge(it);
        let action = if prune && ownership == Ownership::Ours {
            Action::Delete
        } else {
            if prune {
                let what =
                    tier.map_or_else(|| "workload item".to_string(), |t| format!("tier {t}"));
                let why = match ownership {
                    Ownership::Ours => unreachable!("pruned above"),
                    Ownership::Unmarked => {
                        format!("it was not written by tierctl (no {OWNER_ATTR} marker)")
                    }
                    Ownership::Unscoped => format!(
                        "it is marked {OWNER_ATTR} = tierctl, with no repository; \
declare it to adopt it, or delete it by hand"
                    ),
                    Ownership::Other(m) => {
                        format!("it belongs to another repository ({OWNER_ATTR} = {m})")
                    }
                };
                notes.push(format!("{what} not pruned: {why}"));
            }
            Action::Unchanged
        };
        items.push(ItemChange {
            table,
            spec: name.to_string(),
            tier: tier.cloned(),
            action,
            before: Some(it.clone()),
            after: None,
        });
    };
    if let Some(it) = current.workloads.get(name) {
        consider(Table::Workload, None, it);
    }
    if let Some(tiers) = current.tiers.get(name) {
        for (t, it) in tiers {
            consider(Table::Tier, Some(t), it);
        }
    }
    let action = if items.iter().any(|i| i.action == Action::Delete) {
        WorkloadAction::Prune
    } else {
        WorkloadAction::Orphan
    };
    WorkloadChange {
        name: name.to_string(),
        file: None,
        action,
        items,
        notes,
    }
}

/// The key attributes of an item change, for DynamoDB calls and JSON output.
pub fn key_of(change: &ItemChange) -> Item {
    match &change.tier {
        None => item::workload_key(&change.spec),
        Some(t) => item::tier_key(&change.spec, t),
    }
}
