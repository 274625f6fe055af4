//! RDS and Aurora: finding a workload's DB instances and clusters (the
//! Resource Groups Tagging API's `GetResources`, since DescribeDBInstances
//! has no tag filter), describing them in batches, and stopping or
//! starting one at a time (RDS takes one identifier per call: the executor
//! runs the calls concurrently, bounded). Decides nothing.

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use aws_sdk_rds::Client;
use aws_sdk_rds::types::Filter;
use aws_smithy_types::date_time::Format;
use futures_util::future::try_join_all;

use super::AwsError;
use crate::observe::rds::{Database, DatabaseKind, KEEP_RUNNING_TAG, ObservedDatabases};
use crate::spec::Selector;

/// Identifiers per `db-instance-id` / `db-cluster-id` filter (RDS's limit).
pub const FILTER_VALUES: usize = 100;

/// RDS and tagging clients in one region.
#[derive(Debug, Clone)]
pub struct Rds {
    client: Client,
    tagging: aws_sdk_resourcegroupstagging::Client,
}

/// What `GetResources` says about one tagged DB instance or cluster.
#[derive(Debug, Clone, Default)]
struct Tagged {
    tier: Option<String>,
    keep_running: Option<String>,
}

impl Rds {
    /// Clients in `region`, with the shared retry policy and the throttle observer.
    pub fn new(config: &SdkConfig, region: &str) -> Self {
        let r = aws_config::Region::new(region.to_string());
        Rds {
            client: Client::from_conf(
                aws_sdk_rds::config::Builder::from(config)
                    .region(r.clone())
                    .interceptor(super::throttle::ThrottleObserver::new(region))
                    .build(),
            ),
            tagging: aws_sdk_resourcegroupstagging::Client::from_conf(
                aws_sdk_resourcegroupstagging::config::Builder::from(config)
                    .region(r)
                    .interceptor(super::throttle::ThrottleObserver::new(region))
                    .build(),
            ),
        }
    }

    /// Every DB instance and Aurora cluster with the workload tag: one
    /// paginated `GetResources` (types `rds:db`, `rds:cluster`), then
    /// `DescribeDBInstances` / `DescribeDBClusters` filtered by identifier,
    /// [`FILTER_VALUES`] per call, the calls concurrently.
    pub async fn workload_databases(
        &self,
        selector: &Selector,
    ) -> Result<ObservedDatabases, AwsError> {
        let read_at = crate::observe::rds::now_rfc3339();
        let tagged = self.tagged(selector).await?;
        let ids = |kind: DatabaseKind| -> Vec<String> {
            tagged
                .keys()
                .filter(|(k, _)| *k == kind)
                .map(|(_, id)| id.clone())
                .collect()
        };
        let instances = ids(DatabaseKind::Instance);
        let clusters = ids(DatabaseKind::Cluster);
        let (mut found, more) = futures_util::future::try_join(
            try_join_all(
                instances
                    .chunks(FILTER_VALUES)
                    .map(|c| self.describe_instances(c)),
            ),
            try_join_all(
                clusters
                    .chunks(FILTER_VALUES)
                    .map(|c| self.describe_clusters(c)),
            ),
        )
        .await?;
        found.extend(more);
        let mut databases: Vec<Database> = found.into_iter().flatten().collect();
        for d in &mut databases {
            if let Some(t) = tagged.get(&(d.kind, d.id.clone())) {
                d.tier = t.tier.clone();
                d.keep_running = t.keep_running.clone();
            }
        }
        databases.sort_by(|a, b| (a.kind, &a.id).cmp(&(b.kind, &b.id)));
        Ok(ObservedDatabases { read_at, databases })
    }

    /// `(kind, identifier) -> tags` of the tagged DB instances and clusters.
    async fn tagged(
        &self,
        selector: &Selector,
    ) -> Result<BTreeMap<(DatabaseKind, String), Tagged>, AwsError> {
        let mut out = BTreeMap::new();
        let mut pages = self
            .tagging
            .get_resources()
            .resource_type_filters("rds:db")
            .resource_type_filters("rds:cluster")
            .tag_filters(
                aws_sdk_resourcegroupstagging::types::TagFilter::builder()
                    .key(&selector.workload_tag.key)
                    .values(&selector.workload_tag.value)
                    .build(),
            )
            .resources_per_page(100)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("tag:GetResources", e))?;
            for m in page.resource_tag_mapping_list() {
                let Some((kind, id)) = m.resource_arn().and_then(parse_arn) else {
                    continue;
                };
                let tag = |key: &str| {
                    m.tags()
                        .iter()
                        .find(|t| t.key() == key)
                        .map(|t| t.value().to_string())
                };
                out.insert(
                    (kind, id),
                    Tagged {
                        tier: tag(&selector.tier_tag_key),
                        keep_running: tag(KEEP_RUNNING_TAG),
                    },
                );
            }
        }
        Ok(out)
    }

    async fn describe_instances(&self, ids: &[String]) -> Result<Vec<Database>, AwsError> {
        let mut pages = self
            .client
            .describe_db_instances()
            .filters(id_filter("db-instance-id", ids))
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("rds:DescribeDBInstances", e))?;
            for i in page.db_instances() {
                let Some(id) = i.db_instance_identifier() else {
                    continue;
                };
                let mut replicas = i.read_replica_db_instance_identifiers().to_vec();
                replicas.sort();
                out.push(Database {
                    kind: DatabaseKind::Instance,
                    id: id.to_string(),
                    tier: None,
                    status: i.db_instance_status().unwrap_or("unknown").to_string(),
                    engine: i.engine().unwrap_or_default().to_string(),
                    cluster: i.db_cluster_identifier().map(str::to_string),
                    members: Vec::new(),
                    replica_of: i
                        .read_replica_source_db_instance_identifier()
                        .map(str::to_string),
                    replicas,
                    multi_az: i.multi_az().unwrap_or(false),
                    global_cluster: None,
                    automatic_restart_time: i
                        .automatic_restart_time()
                        .and_then(|t| t.fmt(Format::DateTime).ok()),
                    keep_running: None,
                    tags_unread: false,
                });
            }
        }
        Ok(out)
    }

    async fn describe_clusters(&self, ids: &[String]) -> Result<Vec<Database>, AwsError> {
        let mut pages = self
            .client
            .describe_db_clusters()
            .filters(id_filter("db-cluster-id", ids))
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("rds:DescribeDBClusters", e))?;
            for c in page.db_clusters() {
                let Some(id) = c.db_cluster_identifier() else {
                    continue;
                };
                let mut members: Vec<String> = c
                    .db_cluster_members()
                    .iter()
                    .filter_map(|m| m.db_instance_identifier().map(str::to_string))
                    .collect();
                members.sort();
                let mut replicas = c.read_replica_identifiers().to_vec();
                replicas.extend(c.replication_source_identifier().map(str::to_string));
                replicas.sort();
                out.push(Database {
                    kind: DatabaseKind::Cluster,
                    id: id.to_string(),
                    tier: None,
                    status: c.status().unwrap_or("unknown").to_string(),
                    engine: c.engine().unwrap_or_default().to_string(),
                    cluster: None,
                    members,
                    replica_of: None,
                    replicas,
                    multi_az: c.multi_az().unwrap_or(false),
                    global_cluster: c
                        .global_cluster_identifier()
                        .filter(|g| !g.is_empty())
                        .map(str::to_string),
                    automatic_restart_time: c
                        .automatic_restart_time()
                        .and_then(|t| t.fmt(Format::DateTime).ok()),
                    keep_running: None,
                    tags_unread: false,
                });
            }
        }
        Ok(out)
    }

    /// Current statuses of exactly these DB instances or clusters (batched
    /// `DescribeDBInstances` / `DescribeDBClusters`); missing: not found.
    pub async fn statuses(
        &self,
        kind: DatabaseKind,
        ids: &[String],
    ) -> Result<BTreeMap<String, String>, AwsError> {
        let found = try_join_all(ids.chunks(FILTER_VALUES).map(|c| async move {
            match kind {
                DatabaseKind::Instance => self.describe_instances(c).await,
                DatabaseKind::Cluster => self.describe_clusters(c).await,
            }
        }))
        .await?;
        Ok(found
            .into_iter()
            .flatten()
            .map(|d| (d.id, d.status))
            .collect())
    }

    /// `StopDBInstance` / `StopDBCluster` for one identifier.
    pub async fn stop(&self, kind: DatabaseKind, id: &str) -> Result<(), AwsError> {
        match kind {
            DatabaseKind::Instance => self
                .client
                .stop_db_instance()
                .db_instance_identifier(id)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| AwsError::from_sdk("rds:StopDBInstance", e)),
            DatabaseKind::Cluster => self
                .client
                .stop_db_cluster()
                .db_cluster_identifier(id)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| AwsError::from_sdk("rds:StopDBCluster", e)),
        }
    }

    /// `StartDBInstance` / `StartDBCluster` for one identifier.
    pub async fn start(&self, kind: DatabaseKind, id: &str) -> Result<(), AwsError> {
        match kind {
            DatabaseKind::Instance => self
                .client
                .start_db_instance()
                .db_instance_identifier(id)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| AwsError::from_sdk("rds:StartDBInstance", e)),
            DatabaseKind::Cluster => self
                .client
                .start_db_cluster()
                .db_cluster_identifier(id)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| AwsError::from_sdk("rds:StartDBCluster", e)),
        }
    }
}

fn id_filter(name: &str, ids: &[String]) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(ids.to_vec()))
        .build()
}

/// `arn:aws:rds:eu-west-1:123:db:orders` -> (instance, `orders`).
fn parse_arn(arn: &str) -> Option<(DatabaseKind, String)> {
    let mut parts = arn.splitn(7, ':');
    let (_, _, service) = (parts.next()?, parts.next()?, parts.next()?);
    let (_, _, kind, id) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if service != "rds" || id.is_empty() {
        return None;
    }
    let kind = match kind {
        "db" => DatabaseKind::Instance,
        "cluster" => DatabaseKind::Cluster,
        _ => return None,
    };
    Some((kind, id.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_of_instances_and_clusters() {
        assert_eq!(
            parse_arn("arn:aws:rds:eu-west-1:123456789012:db:orders"),
            Some((DatabaseKind::Instance, "orders".into()))
        );
        assert_eq!(
            parse_arn("arn:aws-cn:rds:cn-north-1:123456789012:cluster:sales"),
            Some((DatabaseKind::Cluster, "sales".into()))
        );
        assert_eq!(parse_arn("arn:aws:rds:eu-west-1:1:snapshot:x"), None);
        assert_eq!(parse_arn("arn:aws:ec2:eu-west-1:1:db:x"), None);
        assert_eq!(parse_arn("nonsense"), None);
    }
}
