//! RDS DB instances and Aurora DB clusters as AWS reports them: plain data
//! the planner reads (and `--observed` files carry). Decides nothing.

use serde::{Deserialize, Serialize};

/// The tag whose value `true` keeps a DB instance or cluster running at a
/// stop (their override: the override file does not apply to them).
pub const KEEP_RUNNING_TAG: &str = "tierctl:keep-running";

/// A DB instance or an Aurora DB cluster.
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
#[serde(rename_all = "camelCase")]
pub enum DatabaseKind {
    /// An RDS DB instance (`StopDBInstance`).
    Instance,
    /// An Aurora DB cluster (`StopDBCluster`).
    Cluster,
}

impl DatabaseKind {
    /// `DB instance` / `DB cluster`, for people.
    pub fn words(self) -> &'static str {
        match self {
            DatabaseKind::Instance => "DB instance",
            DatabaseKind::Cluster => "DB cluster",
        }
    }
}

/// One DB instance or cluster, as far as planning cares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Database {
    /// Instance or cluster.
    pub kind: DatabaseKind,
    /// `DBInstanceIdentifier` / `DBClusterIdentifier`.
    pub id: String,
    /// Value of the workload's tier tag; `None` without the tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    /// `DBInstanceStatus` / `Status` as RDS says it (`available`, `stopped`, `stopping`...).
    pub status: String,
    /// `postgres`, `aurora-mysql`, `sqlserver-se`...
    pub engine: String,
    /// Instance: the Aurora cluster it belongs to (`DBClusterIdentifier`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// Cluster: its member instances (`DBClusterMembers`), sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
    /// Instance: the source it replicates (`ReadReplicaSourceDBInstanceIdentifier`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_of: Option<String>,
    /// Instance: its read replicas; cluster: its (cross-Region) replica clusters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replicas: Vec<String>,
    /// `MultiAZ`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub multi_az: bool,
    /// Cluster: the global database it is part of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global_cluster: Option<String>,
    /// `AutomaticRestartTime` (RFC 3339) of a stopped DB: AWS starts it again by itself then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automatic_restart_time: Option<String>,
    /// The value of the [`KEEP_RUNNING_TAG`] tag, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_running: Option<String>,
    /// Its tags could not be read (so the keep-running tag is unknown).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tags_unread: bool,
}

impl Database {
    /// `DB instance orders` / `DB cluster sales`.
    pub fn label(&self) -> String {
        format!("{} {}", self.kind.words(), self.id)
    }
}

/// What one read of a region's DB instances and clusters found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObservedDatabases {
    /// When they were read (RFC 3339, UTC): the base of "a stop now
    /// restarts by itself on ...".
    pub read_at: String,
    /// Every DB instance and cluster carrying the workload tag, sorted by kind and id.
    pub databases: Vec<Database>,
}

/// Adds `days` to an RFC 3339 UTC timestamp's date and returns
/// `YYYY-MM-DD HH:MM UTC`; `None` when the text is not such a timestamp.
pub fn add_days(rfc3339: &str, days: i64) -> Option<String> {
    let (date, time) = rfc3339.split_once('T')?;
    let mut d = date.splitn(3, '-');
    let y: i64 = d.next()?.parse().ok()?;
    let m: i64 = d.next()?.parse().ok()?;
    let day: i64 = d.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) || time.len() < 5 {
        return None;
    }
    let (y, m, day) = civil_from_days(days_from_civil(y, m, day) + days);
    Some(format!("{y:04}-{m:02}-{day:02} {} UTC", &time[..5]))
}

/// The date and time of an RFC 3339 UTC timestamp as `YYYY-MM-DD HH:MM UTC`.
pub fn readable(rfc3339: &str) -> String {
    add_days(rfc3339, 0).unwrap_or_else(|| rfc3339.to_string())
}

// Howard Hinnant's civil calendar algorithms.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

/// Now as RFC 3339 UTC (seconds), for the AWS observer's `read_at`.
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let secs = i64::try_from(secs).unwrap_or(0);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seven_days_later_across_months_years_and_leap_days() {
        assert_eq!(
            add_days("2026-12-28T10:15:00Z", 7).as_deref(),
            Some("2027-01-04 10:15 UTC")
        );
        assert_eq!(
            add_days("2028-02-25T23:59:59.123Z", 7).as_deref(),
            Some("2028-03-03 23:59 UTC")
        );
        assert_eq!(
            add_days("2027-02-25T00:00:00+00:00", 7).as_deref(),
            Some("2027-03-04 00:00 UTC")
        );
        assert_eq!(add_days("yesterday", 7), None);
        assert_eq!(readable("2026-12-02T15:48:21Z"), "2026-12-02 15:48 UTC");
        let now = now_rfc3339();
        assert!(add_days(&now, 7).is_some(), "{now}");
    }
}
