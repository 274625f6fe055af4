//! Applying a [`ChangeSet`] to DynamoDB, and reading the tables.
//!
//! Safety rules: the key schema is checked before anything is written; one
//! workload's items are written in one transaction; every write is
//! conditional on the item still being what was read, so a concurrent sync
//! or hand edit is detected instead of overwritten.

use std::collections::BTreeMap;
use std::time::Duration;

use super::diff::{
    Action, ChangeSet, Current, ItemChange, Table, TableNames, WorkloadAction, key_of,
};
use super::item::{self, Item, OWNER_ATTR, TierItem, WorkloadItem};
use crate::aws::dynamodb::{Billing, Condition, Dynamo, KeyShape, TableInfo, WriteOp};
use crate::store::StoreError;

/// The key the original tool's workload table has.
pub fn workload_key() -> KeyShape {
    KeyShape {
        partition: WorkloadItem::SPEC_NAME.into(),
        sort: None,
    }
}

/// The key the original tool's tier table has.
pub fn tier_key() -> KeyShape {
    KeyShape {
        partition: TierItem::SPEC_NAME.into(),
        sort: Some(TierItem::TIER_TAG_VALUE.into()),
    }
}

/// The state of both tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TablesState {
    /// Tables that do not exist (by name).
    pub missing: Vec<String>,
}

/// Checks both tables: a wrong key schema is an error; missing tables are listed.
pub async fn inspect(db: &Dynamo, names: &TableNames) -> Result<TablesState, StoreError> {
    let (w, t) = tokio::join!(db.describe(&names.workload), db.describe(&names.tier));
    let mut missing = Vec::new();
    for (table, info, expected) in [
        (&names.workload, w?, workload_key()),
        (&names.tier, t?, tier_key()),
    ] {
        match info {
            TableInfo::Missing => missing.push(table.clone()),
            TableInfo::Present { key, .. } if key != expected => {
                return Err(StoreError::WrongKeySchema {
                    table: table.clone(),
                    expected: expected.to_string(),
                    found: key.to_string(),
                });
            }
            TableInfo::Present { .. } => {}
        }
    }
    Ok(TablesState { missing })
}

/// Creates the missing tables (together) and waits until they are ACTIVE.
pub async fn create_missing(
    db: &Dynamo,
    names: &TableNames,
    state: &TablesState,
    billing: Billing,
) -> Result<Vec<String>, StoreError> {
    let creates = state.missing.iter().map(|table| async move {
        let key = if *table == names.workload {
            workload_key()
        } else {
            tier_key()
        };
        db.create(table, &key, billing, Duration::from_secs(120))
            .await
            .map(|()| table.clone())
    });
    Ok(futures_util::future::try_join_all(creates).await?)
}

/// Reads every item of both tables (missing tables read as empty).
pub async fn read_current(
    db: &Dynamo,
    names: &TableNames,
    state: &TablesState,
) -> Result<Current, StoreError> {
    let (w, t) = tokio::join!(
        scan_unless_missing(db, &names.workload, state),
        scan_unless_missing(db, &names.tier, state)
    );
    Ok(Current::from_items(w?, t?))
}

async fn scan_unless_missing(
    db: &Dynamo,
    table: &str,
    state: &TablesState,
) -> Result<Vec<Item>, crate::error::AwsError> {
    if state.missing.iter().any(|t| t == table) {
        Ok(Vec::new())
    } else {
        db.scan(table).await
    }
}

/// What `apply` did.
#[derive(Debug, Default)]
pub struct Applied {
    /// Workloads written completely, in name order.
    pub workloads: Vec<String>,
    /// Items written or deleted.
    pub items: usize,
    /// Workloads that were not written, and why, in name order. Each
    /// workload is one transaction: a failed one wrote nothing.
    pub failed: Vec<(String, StoreError)>,
}

/// How many workload transactions are in flight at once by default.
pub const CONCURRENCY: usize = 16;

/// Writes the changes, one transaction per workload, up to `concurrency`
/// at a time (each one conditional, so none ends half written; the SDK's
/// retries absorb throttling of provisioned tables, only slower). A workload that fails (a concurrent edit, another
/// repository's items, an AWS error) does not stop the others: it is listed
/// in [`Applied::failed`].
///
/// `progress(done, total)` is called after each workload's transaction.
pub async fn apply(
    db: &Dynamo,
    names: &TableNames,
    changes: &ChangeSet,
    concurrency: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Applied {
    use futures_util::stream::{self, StreamExt};
    let total = changes
        .workloads
        .iter()
        .filter(|w| w.action == WorkloadAction::Foreign || w.writes().next().is_some())
        .count();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let done = &done;
    let results: Vec<(String, usize, Result<(), StoreError>)> = stream::iter(&changes.workloads)
        .filter_map(|w| async move {
            if w.action == WorkloadAction::Foreign {
                let marker = w
                    .items
                    .iter()
                    .filter_map(|i| i.before.as_ref())
                    .find_map(|i| item::string_attribute(i, OWNER_ATTR))
                    .unwrap_or_default()
                    .to_string();
                let e = StoreError::Foreign {
                    workload: w.name.clone(),
                    marker,
                };
                return Some(futures_util::future::Either::Left(async move {
                    (w.name.clone(), 0, Err(e))
                }));
            }
            let writes: Vec<&ItemChange> = w.writes().collect();
            if writes.is_empty() {
                return None;
            }
            Some(futures_util::future::Either::Right(async move {
                let n = writes.len();
                let res = write_workload(db, names, &w.name, &writes).await;
                progress(
                    done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1,
                    total,
                );
                (w.name.clone(), n, res)
            }))
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let mut results = results;
    results.sort_by(|a, b| a.0.cmp(&b.0));
    let mut applied = Applied::default();
    for (name, n, res) in results {
        match res {
            Ok(()) => {
                applied.workloads.push(name);
                applied.items += n;
            }
            Err(e) => applied.failed.push((name, e)),
        }
    }
    applied
}

/// One workload's writes in one transaction.
async fn write_workload(
    db: &Dynamo,
    names: &TableNames,
    workload: &str,
    writes: &[&ItemChange],
) -> Result<(), StoreError> {
    if writes.len() > 100 {
        return Err(StoreError::TooLarge {
            workload: workload.to_string(),
            actions: writes.len(),
        });
    }
    let ops: Vec<WriteOp> = writes.iter().map(|c| write_op(c, names)).collect();
    match db.transact(&ops).await? {
        Ok(()) => Ok(()),
        Err(rejected) => Err(StoreError::Conflict {
            workload: workload.to_string(),
            items: rejected
                .iter()
                .filter_map(|r| writes.get(r.index))
                .map(|c| c.label(names))
                .collect(),
        }),
    }
}

fn table_name<'a>(c: &ItemChange, names: &'a TableNames) -> &'a str {
    match c.table {
        Table::Workload => &names.workload,
        Table::Tier => &names.tier,
    }
}

/// The write for one change (create, update or delete), conditional on the
/// item still being what was read.
fn write_op(c: &ItemChange, names: &TableNames) -> WriteOp {
    let item = match c.action {
        Action::Create | Action::Update => c.after.clone(),
        Action::Delete => None,
        // `apply` sends only writes; an unchanged item is never part of a transaction.
        Action::Unchanged => unreachable!("unchanged items are not written"),
    };
    WriteOp {
        table: table_name(c, names).to_string(),
        key: key_of(c),
        item,
        condition: Condition::for_before(c.table, c.before.as_ref()),
    }
}

impl Condition {
    fn for_before(table: Table, before: Option<&Item>) -> Self {
        let mut c = Condition {
            expression: String::new(),
            names: BTreeMap::new(),
            values: Item::new(),
        };
        match before {
            None => {
                c.names.insert("#k".into(), WorkloadItem::SPEC_NAME.into());
                c.expression = "attribute_not_exists(#k)".into();
            }
            Some(item) => {
                let sorted: BTreeMap<_, _> = item.iter().collect();
                let mut parts: Vec<String> = sorted
                    .into_iter()
                    .enumerate()
                    .map(|(i, (name, value))| {
                        c.names.insert(format!("#a{i}"), name.clone());
                        c.values.insert(format!(":v{i}"), value.clone());
                        format!("#a{i} = :v{i}")
                    })
                    .collect();
                let absent = item::format_attributes(table.kind())
                    .iter()
                    .filter(|a| !item.contains_key(**a));
                for (i, name) in absent.enumerate() {
                    c.names.insert(format!("#n{i}"), (*name).to_string());
                    parts.push(format!("attribute_not_exists(#n{i})"));
                }
                c.expression = parts.join(" AND ");
            }
        }
        c
    }
}

/// The tables' billing when created.
pub fn billing(provisioned: Option<(i64, i64)>) -> Billing {
    match provisioned {
        Some((read, write)) => Billing::Provisioned { read, write },
        None => Billing::OnDemand,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::example_with_every_field;

    fn names() -> TableNames {
        TableNames {
            workload: "WS".into(),
            tier: "TS".into(),
        }
    }

    fn change(action: Action, before: Option<Item>, after: Option<Item>) -> ItemChange {
        ItemChange {
            table: Table::Tier,
            spec: "W".into(),
            tier: Some("web".into()),
            action,
            before,
            after,
        }
    }

    #[test]
    fn a_create_requires_the_item_to_be_absent() {
        let w = example_with_every_field();
        let item = item::to_items(&w)
            .tiers
            .into_values()
            .next()
            .expect("a tier");
        let op = write_op(&change(Action::Create, None, Some(item.clone())), &names());
        assert_eq!(op.table, "TS");
        assert_eq!(op.item, Some(item));
        assert_eq!(op.key, item::tier_key("W", "web"));
        assert_eq!(op.condition.expression, "attribute_not_exists(#k)");
        assert_eq!(op.condition.names["#k"], "SpecName");
        assert!(op.condition.values.is_empty());
    }

    #[test]
    fn an_update_or_delete_requires_the_item_unchanged_and_absent_attributes_absent() {
        let before = item::tier_key("W", "web");
        for (action, after) in [
            (Action::Update, Some(before.clone())),
            (Action::Delete, None),
        ] {
            let op = write_op(
                &change(action, Some(before.clone()), after.clone()),
                &names(),
            );
            assert_eq!(op.item, after);
            let c = &op.condition;
            // Every attribute that was read is compared, in name order.
            assert!(
                c.expression.starts_with("#a0 = :v0 AND #a1 = :v1 AND "),
                "{}",
                c.expression
            );
            assert_eq!(
                (c.names["#a0"].as_str(), c.names["#a1"].as_str()),
                ("SpecName", "TierTagValue")
            );
            assert_eq!(c.values[":v0"], before["SpecName"]);
            // Every other attribute of the tier format must still be absent.
            let absent: Vec<&str> = c
                .names
                .iter()
                .filter(|(k, _)| k.starts_with("#n"))
                .map(|(_, v)| v.as_str())
                .collect();
            let mut want: Vec<&str> = TierItem::ATTRIBUTES
                .iter()
                .copied()
                .filter(|a| !before.contains_key(*a))
                .collect();
            want.sort_unstable();
            let mut absent = absent;
            absent.sort_unstable();
            assert_eq!(absent, want);
            assert_eq!(
                c.expression.matches("attribute_not_exists").count(),
                want.len()
            );
        }
    }
}
