//! DynamoDB: the two configuration tables of the original tool.

use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, Delete, KeySchemaElement, KeyType, ProvisionedThroughput,
    Put, ScalarAttributeType, TableStatus, TransactWriteItem,
};

use super::{AwsError, AwsErrorKind};

/// One DynamoDB item, as the SDK represents it.
pub type Item = std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>;

/// One conditional write of a transaction, built by `store::sync`; [`Dynamo::transact`]
/// turns it into the SDK's `TransactWriteItem`.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteOp {
    /// Table name.
    pub table: String,
    /// The item's key attributes.
    pub key: Item,
    /// The whole item to put; `None` deletes the item at `key`.
    pub item: Option<Item>,
    /// What the item must still be for the write to happen.
    pub condition: Condition,
}

/// "The item is still what was read": absent, or every attribute equal and
/// every attribute of the item format that was absent still absent (so a
/// kill switch set in the console between read and write fails the write).
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// The condition expression.
    pub expression: String,
    /// Its attribute-name placeholders (`#a0` → name).
    pub names: std::collections::BTreeMap<String, String>,
    /// Its value placeholders (`:v0` → value).
    pub values: Item,
}

/// How a created table is billed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Billing {
    /// On-demand (`PAY_PER_REQUEST`).
    OnDemand,
    /// Provisioned read and write capacity units.
    Provisioned {
        /// Read capacity units.
        read: i64,
        /// Write capacity units.
        write: i64,
    },
}

/// A table's key: partition key and optional sort key, all strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyShape {
    /// Partition (HASH) key.
    pub partition: String,
    /// Sort (RANGE) key.
    pub sort: Option<String>,
}

impl std::fmt::Display for KeyShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.sort {
            Some(s) => write!(f, "partition key `{}`, sort key `{s}`", self.partition),
            None => write!(f, "partition key `{}`", self.partition),
        }
    }
}

/// What DescribeTable found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableInfo {
    /// No such table.
    Missing,
    /// The table, its key and status.
    Present {
        /// Its key.
        key: KeyShape,
        /// e.g. `ACTIVE`, `CREATING`.
        status: String,
    },
}

/// A DynamoDB client for the configuration tables.
#[derive(Debug, Clone)]
pub struct Dynamo {
    client: Client,
}

/// One item a transaction could not write because its condition failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// Index of the action in the transaction.
    pub index: usize,
    /// DynamoDB's reason code (`ConditionalCheckFailed`, `TransactionConflict`...).
    pub code: String,
}

impl Dynamo {
    /// A client in `region`.
    pub fn new(config: &SdkConfig, region: aws_config::Region) -> Self {
        let conf = aws_sdk_dynamodb::config::Builder::from(config)
            .interceptor(super::throttle::ThrottleObserver::new(region.as_ref()))
            .region(region)
            .build();
        Dynamo {
            client: Client::from_conf(conf),
        }
    }

    /// Describes a table: its key and status, or that it is missing.
    pub async fn describe(&self, table: &str) -> Result<TableInfo, AwsError> {
        match self.client.describe_table().table_name(table).send().await {
            Ok(out) => {
                let t = out.table.unwrap_or_else(|| {
                    aws_sdk_dynamodb::types::TableDescription::builder().build()
                });
                let mut key = KeyShape {
                    partition: String::new(),
                    sort: None,
                };
                for k in t.key_schema() {
                    match k.key_type() {
                        KeyType::Hash => key.partition = k.attribute_name().to_string(),
                        KeyType::Range => key.sort = Some(k.attribute_name().to_string()),
                        _ => {}
                    }
                }
                let status = t
                    .table_status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default();
                Ok(TableInfo::Present { key, status })
            }
            Err(e) => {
                let err = AwsError::from_sdk("dynamodb:DescribeTable", e);
                if err.kind == AwsErrorKind::NotFound {
                    Ok(TableInfo::Missing)
                } else {
                    Err(err)
                }
            }
        }
    }

    /// Creates a table with string keys and waits (bounded) until it is ACTIVE.
    pub async fn create(
        &self,
        table: &str,
        key: &KeyShape,
        billing: Billing,
        wait: Duration,
    ) -> Result<(), AwsError> {
        let mut req = self
            .client
            .create_table()
            .table_name(table)
            .key_schema(key_element(&key.partition, KeyType::Hash))
            .attribute_definitions(string_attribute(&key.partition));
        if let Some(sort) = &key.sort {
            req = req
                .key_schema(key_element(sort, KeyType::Range))
                .attribute_definitions(string_attribute(sort));
        }
        req = match billing {
            Billing::OnDemand => req.billing_mode(BillingMode::PayPerRequest),
            Billing::Provisioned { read, write } => req
                .billing_mode(BillingMode::Provisioned)
                .provisioned_throughput(
                    ProvisionedThroughput::builder()
                        .read_capacity_units(read)
                        .write_capacity_units(write)
                        .build()
                        .expect("both units are set"),
                ),
        };
        req.send()
            .await
            .map_err(|e| AwsError::from_sdk("dynamodb:CreateTable", e))?;
        self.wait_active(table, wait).await
    }

    async fn wait_active(&self, table: &str, wait: Duration) -> Result<(), AwsError> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut pause = Duration::from_millis(100);
        loop {
            let out = self
                .client
                .describe_table()
                .table_name(table)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("dynamodb:DescribeTable", e))?;
            if out.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
                return Ok(());
            }
            if tokio::time::Instant::now() + pause > deadline {
                return Err(AwsError {
                    call: "dynamodb:DescribeTable".into(),
                    kind: AwsErrorKind::Other,
                    code: None,
                    message: format!("table {table} was created but is not ACTIVE after {wait:?}"),
                });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(5));
        }
    }

    /// Reads every item of a table (paginated, strongly consistent).
    pub async fn scan(&self, table: &str) -> Result<Vec<Item>, AwsError> {
        let mut items = Vec::new();
        let mut pages = self
            .client
            .scan()
            .table_name(table)
            .consistent_read(true)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("dynamodb:Scan", e))?;
            items.extend(page.items.unwrap_or_default());
        }
        Ok(items)
    }

    /// Writes items all-or-nothing (at most 100 actions).
    ///
    /// `Ok(Err(rejected))` when conditions failed: nothing was written.
    pub async fn transact(&self, ops: &[WriteOp]) -> Result<Result<(), Vec<Rejected>>, AwsError> {
        let actions = ops.iter().map(transact_item).collect();
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(actions))
            .send()
            .await
        {
            Ok(_) => Ok(Ok(())),
            Err(e) => {
                if let Some(TransactWriteItemsError::TransactionCanceledException(c)) =
                    e.as_service_error()
                {
                    let rejected: Vec<Rejected> = c
                        .cancellation_reasons()
                        .iter()
                        .enumerate()
                        .filter_map(|(index, r)| {
                            let code = r.code().unwrap_or("None");
                            (code != "None").then(|| Rejected {
                                index,
                                code: code.to_string(),
                            })
                        })
                        .collect();
                    let only_conditions = !rejected.is_empty()
                        && rejected.iter().all(|r| {
                            r.code == "ConditionalCheckFailed" || r.code == "TransactionConflict"
                        });
                    if only_conditions {
                        return Ok(Err(rejected));
                    }
                }
                Err(AwsError::from_sdk("dynamodb:TransactWriteItems", e))
            }
        }
    }
}

/// The SDK's transaction action for one conditional write: a `Put` of the
/// whole item, or a `Delete` of its key.
fn transact_item(op: &WriteOp) -> TransactWriteItem {
    let c = &op.condition;
    let names = Some(c.names.clone().into_iter().collect());
    let values = (!c.values.is_empty()).then(|| c.values.clone());
    match &op.item {
        Some(item) => {
            let put = Put::builder()
                .table_name(&op.table)
                .set_item(Some(item.clone()))
                .condition_expression(&c.expression)
                .set_expression_attribute_names(names)
                .set_expression_attribute_values(values)
                .build()
                .expect("table, item and condition are set");
            TransactWriteItem::builder().put(put).build()
        }
        None => {
            let delete = Delete::builder()
                .table_name(&op.table)
                .set_key(Some(op.key.clone()))
                .condition_expression(&c.expression)
                .set_expression_attribute_names(names)
                .set_expression_attribute_values(values)
                .build()
                .expect("table, key and condition are set");
            TransactWriteItem::builder().delete(delete).build()
        }
    }
}

fn key_element(name: &str, kind: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .expect("name and type are set")
}

fn string_attribute(name: &str) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .expect("name and type are set")
}

/// A lease as stored, with the instances its run acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockRecord {
    /// The workload.
    pub id: String,
    /// Who.
    pub holder: String,
    /// Lease end, seconds since the epoch.
    pub expires_at: i64,
    /// Instances the run acts on.
    pub instances: Vec<String>,
}

/// The current holder of a lock item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockHolder {
    /// Who.
    pub holder: String,
    /// Lease end, seconds since the epoch.
    pub expires_at: i64,
}

fn lock_holder(
    item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
) -> Option<LockHolder> {
    use aws_sdk_dynamodb::types::AttributeValue as V;
    let holder = item.get("Holder").and_then(|v| v.as_s().ok()).cloned()?;
    let expires_at = item
        .get("ExpiresAt")
        .and_then(|v| match v {
            V::N(n) | V::S(n) => n.parse().ok(),
            _ => None,
        })
        .unwrap_or(0);
    Some(LockHolder { holder, expires_at })
}

impl Dynamo {
    /// Takes the lease `id` unless someone else holds one that expired no
    /// earlier than `stale_before` (the caller's clock minus a skew margin).
    ///
    /// `Ok(Err(holder))` names whoever holds it.
    pub async fn acquire_lock(
        &self,
        table: &str,
        id: &str,
        holder: &str,
        now: i64,
        expires_at: i64,
        stale_before: i64,
    ) -> Result<Result<(), LockHolder>, AwsError> {
        use aws_sdk_dynamodb::types::{AttributeValue as V, ReturnValuesOnConditionCheckFailure};
        let res = self
            .client
            .put_item()
            .table_name(table)
            .item("LockId", V::S(id.into()))
            .item("Holder", V::S(holder.into()))
            .item("AcquiredAt", V::N(now.to_string()))
            .item("ExpiresAt", V::N(expires_at.to_string()))
            .condition_expression(
                "attribute_not_exists(LockId) OR ExpiresAt < :stale OR Holder = :me",
            )
            .expression_attribute_values(":stale", V::N(stale_before.to_string()))
            .expression_attribute_values(":me", V::S(holder.into()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match res {
            Ok(_) => Ok(Ok(())),
            Err(e) => {
                use aws_sdk_dynamodb::operation::put_item::PutItemError;
                if let Some(PutItemError::ConditionalCheckFailedException(c)) = e.as_service_error()
                {
                    let held = c.item().and_then(lock_holder).unwrap_or(LockHolder {
                        holder: "someone else".into(),
                        expires_at: 0,
                    });
                    return Ok(Err(held));
                }
                Err(AwsError::from_sdk("dynamodb:PutItem", e))
            }
        }
    }

    /// Extends a lease this holder owns, only while its `ExpiresAt` is still
    /// after `min_expires_at`. `Ok(false)` when it was lost.
    pub async fn renew_lock(
        &self,
        table: &str,
        id: &str,
        holder: &str,
        expires_at: i64,
        min_expires_at: i64,
    ) -> Result<bool, AwsError> {
        use aws_sdk_dynamodb::types::AttributeValue as V;
        let res = self
            .client
            .update_item()
            .table_name(table)
            .key("LockId", V::S(id.into()))
            .update_expression("SET ExpiresAt = :e")
            .condition_expression("Holder = :me AND ExpiresAt > :min")
            .expression_attribute_values(":e", V::N(expires_at.to_string()))
            .expression_attribute_values(":me", V::S(holder.into()))
            .expression_attribute_values(":min", V::N(min_expires_at.to_string()))
            .send()
            .await;
        match res {
            Ok(_) => Ok(true),
            Err(e) => {
                condition_failed(AwsError::from_sdk("dynamodb:UpdateItem", e)).map(|()| false)
            }
        }
    }

    /// Records in this holder's lease the instances its run acts on.
    /// `Ok(false)` when the lease is no longer this holder's.
    pub async fn claim_instances(
        &self,
        table: &str,
        id: &str,
        holder: &str,
        instances: &[String],
    ) -> Result<bool, AwsError> {
        use aws_sdk_dynamodb::types::AttributeValue as V;
        let mut req = self
            .client
            .update_item()
            .table_name(table)
            .key("LockId", V::S(id.into()))
            .condition_expression("Holder = :me")
            .expression_attribute_values(":me", V::S(holder.into()));
        // DynamoDB has no empty sets.
        req = if instances.is_empty() {
            req.update_expression("REMOVE Instances")
        } else {
            req.update_expression("SET Instances = :i")
                .expression_attribute_values(":i", V::Ss(instances.to_vec()))
        };
        match req.send().await {
            Ok(_) => Ok(true),
            Err(e) => {
                condition_failed(AwsError::from_sdk("dynamodb:UpdateItem", e)).map(|()| false)
            }
        }
    }

    /// Every lease in the lock table (one paginated, consistent `Scan`).
    pub async fn scan_locks(&self, table: &str) -> Result<Vec<LockRecord>, AwsError> {
        let items = self.scan(table).await?;
        Ok(items
            .iter()
            .filter_map(|item| {
                let id = item.get("LockId").and_then(|v| v.as_s().ok()).cloned()?;
                let h = lock_holder(item)?;
                let instances = item
                    .get("Instances")
                    .and_then(|v| v.as_ss().ok())
                    .cloned()
                    .unwrap_or_default();
                Some(LockRecord {
                    id,
                    holder: h.holder,
                    expires_at: h.expires_at,
                    instances,
                })
            })
            .collect())
    }

    /// The current holder of lease `id`, if any.
    pub async fn get_lock(&self, table: &str, id: &str) -> Result<Option<LockHolder>, AwsError> {
        use aws_sdk_dynamodb::types::AttributeValue as V;
        let out = self
            .client
            .get_item()
            .table_name(table)
            .key("LockId", V::S(id.into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("dynamodb:GetItem", e))?;
        Ok(out.item().and_then(lock_holder))
    }

    /// Removes a lease: only this holder's, or any (`holder` = None, for `unlock`).
    pub async fn release_lock(
        &self,
        table: &str,
        id: &str,
        holder: Option<&str>,
    ) -> Result<Option<LockHolder>, AwsError> {
        use aws_sdk_dynamodb::types::{AttributeValue as V, ReturnValue};
        let mut req = self
            .client
            .delete_item()
            .table_name(table)
            .key("LockId", V::S(id.into()))
            .return_values(ReturnValue::AllOld);
        if let Some(h) = holder {
            req = req
                .condition_expression("Holder = :me")
                .expression_attribute_values(":me", V::S(h.into()));
        }
        match req.send().await {
            Ok(out) => Ok(out.attributes().and_then(lock_holder)),
            Err(e) => condition_failed(AwsError::from_sdk("dynamodb:DeleteItem", e)).map(|()| None),
        }
    }
}

impl Dynamo {
    /// The number attributes of item `id` (keyed by `LockId`), empty when
    /// there is no such item.
    pub async fn get_numbers(
        &self,
        table: &str,
        id: &str,
    ) -> Result<std::collections::BTreeMap<String, i64>, AwsError> {
        use aws_sdk_dynamodb::types::AttributeValue as V;
        let out = self
            .client
            .get_item()
            .table_name(table)
            .key("LockId", V::S(id.into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("dynamodb:GetItem", e))?;
        Ok(out
            .item()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.clone(), v.as_n().ok()?.parse().ok()?)))
            .collect())
    }

    /// Sets number attribute `name` of item `id` (created when missing) to
    /// `value`, unless it already holds `value` or more. `Ok(false)` then.
    pub async fn raise_number(
        &self,
        table: &str,
        id: &str,
        name: &str,
        value: i64,
    ) -> Result<bool, AwsError> {
        use aws_sdk_dynamodb::types::AttributeValue as V;
        let res = self
            .client
            .update_item()
            .table_name(table)
            .key("LockId", V::S(id.into()))
            .update_expression("SET #a = :v")
            .condition_expression("attribute_not_exists(#a) OR #a < :v")
            .expression_attribute_names("#a", name)
            .expression_attribute_values(":v", V::N(value.to_string()))
            .send()
            .await;
        match res {
            Ok(_) => Ok(true),
            Err(e) => {
                condition_failed(AwsError::from_sdk("dynamodb:UpdateItem", e)).map(|()| false)
            }
        }
    }
}

/// `Ok(())` when a conditional write failed on its condition (someone
/// else's data: an answer, not an error); the error otherwise.
fn condition_failed(err: AwsError) -> Result<(), AwsError> {
    if err.kind == AwsErrorKind::Conflict {
        Ok(())
    } else {
        Err(err)
    }
}
