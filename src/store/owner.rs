//! Who manages an item: the `ManagedBy` marker.
//!
//! tierctl marks every item it writes with `ManagedBy = tierctl:<repository>`
//! (for example `tierctl:github.com/acme/fleet`), so that two repositories
//! syncing into the same tables never write or prune each other's
//! workloads. Items marked with the plain `tierctl` of earlier versions (or
//! by a sync that knows no repository) are adopted by the first repository
//! that declares them; unmarked items (written by hand, as the original's
//! users did) are adopted the same way when declared, and never pruned.

use super::item::{Item, OWNER_ATTR, OWNER_VALUE};

/// How an item relates to the repository that syncs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ownership {
    /// Marked with this repository's marker.
    Ours,
    /// Marked with the plain `tierctl` marker while this sync names a
    /// repository: free to adopt, not to prune.
    Unscoped,
    /// No marker: written by hand or by another tool.
    Unmarked,
    /// Marked by another repository (or something that is not tierctl): the
    /// marker as found.
    Other(String),
}

/// The marker this sync writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    marker: String,
}

/// A repository id that cannot go into a marker.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "repository id {0:?}: use 1 to 200 characters of letters, digits and . _ - / : \
(for example github.com/acme/fleet)"
)]
pub struct BadRepositoryId(pub String);

impl Owner {
    /// The marker of a repository: `tierctl:<id>`.
    pub fn repository(id: &str) -> Result<Self, BadRepositoryId> {
        let plain = !id.is_empty()
            && id.len() <= 200
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-/:".contains(c));
        if !plain {
            return Err(BadRepositoryId(id.to_string()));
        }
        Ok(Owner {
            marker: format!("{OWNER_VALUE}:{id}"),
        })
    }

    /// The plain `tierctl` marker, when no repository is known.
    pub fn unscoped() -> Self {
        Owner {
            marker: OWNER_VALUE.to_string(),
        }
    }

    /// The attribute value written.
    pub fn marker(&self) -> &str {
        &self.marker
    }

    /// How a resource marked `marker` (a schedule's description, say)
    /// relates to this owner; `None`: no marker.
    pub fn judge_marker(&self, marker: Option<&str>) -> Ownership {
        match marker {
            None => Ownership::Unmarked,
            Some(m) if m == self.marker => Ownership::Ours,
            Some(m) if m == OWNER_VALUE => Ownership::Unscoped,
            Some(m) => Ownership::Other(m.to_string()),
        }
    }

    /// How `item` relates to this owner.
    pub fn judge(&self, item: &Item) -> Ownership {
        match item.get(OWNER_ATTR) {
            None => Ownership::Unmarked,
            Some(v) => match v.as_s() {
                Ok(m) if *m == self.marker => Ownership::Ours,
                Ok(m) if m == OWNER_VALUE => Ownership::Unscoped,
                Ok(m) => Ownership::Other(m.clone()),
                Err(_) => Ownership::Other(format!("{v:?}")),
            },
        }
    }
}

/// A git remote URL as `host/owner/name`: `git@github.com:acme/fleet.git`,
/// `https://github.com/acme/fleet` and `ssh://git@github.com:22/acme/fleet.git`
/// all give `github.com/acme/fleet`. `None` for what is not a remote URL.
pub fn repository_id_from_remote(url: &str) -> Option<String> {
    let url = url.trim();
    let (host, path) = if let Some((scheme, rest)) = url.split_once("://") {
        if !matches!(scheme, "https" | "http" | "ssh" | "git") {
            return None;
        }
        let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
        let (host, path) = rest.split_once('/')?;
        (host.split(':').next().unwrap_or(host), path)
    } else {
        // scp-like: [user@]host:path
        let (host, path) = url.split_once(':')?;
        let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
        if host.contains('/') {
            return None;
        }
        (host, path)
    };
    let path = path.trim_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    if host.is_empty() || path.is_empty() {
        return None;
    }
    let id = format!("{}/{}", host.to_ascii_lowercase(), path);
    Owner::repository(&id).ok().map(|_| id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::AttributeValue;

    #[test]
    fn remote_urls_normalise_to_host_owner_name() {
        for url in [
            "git@github.com:acme/fleet.git",
            "https://github.com/acme/fleet",
            "https://github.com/acme/fleet.git",
            "https://token@GitHub.com/acme/fleet/",
            "ssh://git@github.com:22/acme/fleet.git",
        ] {
            assert_eq!(
                repository_id_from_remote(url).as_deref(),
                Some("github.com/acme/fleet"),
                "{url}"
            );
        }
        assert_eq!(repository_id_from_remote("/srv/git/fleet"), None);
        assert_eq!(repository_id_from_remote("file:///srv/git/fleet"), None);
        assert_eq!(repository_id_from_remote("https://github.com"), None);
    }

    #[test]
    fn markers_name_the_repository_and_judge_items() {
        let a = Owner::repository("github.com/acme/a").unwrap();
        assert_eq!(a.marker(), "tierctl:github.com/acme/a");
        let item = |m: Option<&str>| -> Item {
            m.map(|m| (OWNER_ATTR.to_string(), AttributeValue::S(m.into())))
                .into_iter()
                .collect()
        };
        assert_eq!(
            a.judge(&item(Some("tierctl:github.com/acme/a"))),
            Ownership::Ours
        );
        assert_eq!(a.judge(&item(Some("tierctl"))), Ownership::Unscoped);
        assert_eq!(a.judge(&item(None)), Ownership::Unmarked);
        assert_eq!(
            a.judge(&item(Some("tierctl:github.com/acme/b"))),
            Ownership::Other("tierctl:github.com/acme/b".into())
        );
        assert_eq!(
            Owner::unscoped().judge(&item(Some("tierctl"))),
            Ownership::Ours
        );
        assert!(Owner::repository("a b").is_err());
        assert!(Owner::repository("x\u{1b}[31m").is_err());
        assert!(Owner::repository("").is_err());
    }
}
