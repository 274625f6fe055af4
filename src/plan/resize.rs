//! Whether an instance may change to a type: the checks AWS itself only
//! makes at start, when a bad change would leave the tier stopped.

use crate::observe::{Instance, ObservedWorkload};

/// What a permitted change needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Permitted {
    /// EBS optimization must be turned off first (the target does not support it).
    pub disable_ebs_optimized: bool,
}

/// Checks a change of `i` to type `to`; `Err` says why it must not happen.
///
/// Without type data (offline plans) nothing can be checked: `Ok`.
pub fn check(i: &Instance, to: &str, observed: &ObservedWorkload) -> Result<Permitted, String> {
    if !observed.types_read {
        return Ok(Permitted::default());
    }
    let facts = i.resize.clone().unwrap_or_default();
    if facts.spot {
        return Err("Spot Instances cannot change type".into());
    }
    if facts.hibernation {
        return Err("hibernation is enabled on the instance, so its type cannot change".into());
    }
    let Some(target) = observed.instance_types.get(to) else {
        return Err(format!("type {to} does not exist in {}", observed.region));
    };
    if let Some(arch) = &facts.architecture
        && !target.architectures.iter().any(|a| a == arch)
    {
        return Err(format!(
            "{to} runs {}, the instance is {arch}",
            target.architectures.join("/")
        ));
    }
    if let Some(virt) = &facts.virtualization
        && !target.virtualization.is_empty()
        && !target.virtualization.iter().any(|v| v == virt)
    {
        return Err(format!("{to} does not support {virt} virtualization"));
    }
    if target.ena == "required" && !facts.ena_support {
        return Err(format!(
            "{to} requires ENA enhanced networking, which is not enabled on the instance (its AMI)"
        ));
    }
    Ok(Permitted {
        disable_ebs_optimized: facts.ebs_optimized && target.ebs_optimized == "unsupported",
    })
}

/// A remark worth a human's attention for `from -> to`, if any.
pub fn note(from: &str, to: &str, observed: &ObservedWorkload) -> Option<String> {
    let (a, b) = (
        observed.instance_types.get(from)?,
        observed.instance_types.get(to)?,
    );
    (b.nvme == "required" && a.nvme == "unsupported").then(|| {
        format!("{from} -> {to}: EBS volumes become NVMe devices (/dev/nvme*); the AMI needs NVMe drivers")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::{InstanceState, ResizeFacts, TypeInfo};

    fn observed() -> ObservedWorkload {
        let t = |arch: &str, ena: &str, nvme: &str, ebs: &str| TypeInfo {
            architectures: vec![arch.into()],
            virtualization: vec!["hvm".into()],
            ena: ena.into(),
            nvme: nvme.into(),
            ebs_optimized: ebs.into(),
        };
        ObservedWorkload {
            region: "us-west-2".into(),
            instances: Vec::new(),
            instance_types: [
                (
                    "t2.nano".to_string(),
                    t("x86_64", "unsupported", "unsupported", "unsupported"),
                ),
                (
                    "c5.large".to_string(),
                    t("x86_64", "required", "required", "default"),
                ),
                (
                    "m6g.large".to_string(),
                    t("arm64", "required", "required", "default"),
                ),
                (
                    "t2.micro".to_string(),
                    t("x86_64", "unsupported", "unsupported", "unsupported"),
                ),
            ]
            .into(),
            types_read: true,
            ..ObservedWorkload::default()
        }
    }

    fn inst(facts: ResizeFacts) -> Instance {
        Instance {
            id: "i-1".into(),
            tier: None,
            state: InstanceState::Stopped,
            instance_type: "t2.nano".into(),
            name: None,
            launch_time: None,
            resize: Some(facts),
            classic_load_balancers: Vec::new(),
            target_groups: Vec::new(),
            group: None,
        }
    }

    fn x86() -> ResizeFacts {
        ResizeFacts {
            architecture: Some("x86_64".into()),
            virtualization: Some("hvm".into()),
            ena_support: true,
            ..ResizeFacts::default()
        }
    }

    #[test]
    fn compatible_change_is_permitted() {
        assert_eq!(
            check(&inst(x86()), "c5.large", &observed()),
            Ok(Permitted::default())
        );
    }

    #[test]
    fn incompatible_changes_are_refused_with_a_reason() {
        let o = observed();
        assert!(
            check(&inst(x86()), "m6g.large", &o)
                .unwrap_err()
                .contains("runs arm64, the instance is x86_64")
        );
        assert!(
            check(&inst(x86()), "x9.huge", &o)
                .unwrap_err()
                .contains("does not exist in us-west-2")
        );
        let no_ena = ResizeFacts {
            ena_support: false,
            ..x86()
        };
        assert!(
            check(&inst(no_ena), "c5.large", &o)
                .unwrap_err()
                .contains("requires ENA")
        );
        let spot = ResizeFacts {
            spot: true,
            ..x86()
        };
        assert!(
            check(&inst(spot), "c5.large", &o)
                .unwrap_err()
                .contains("Spot")
        );
        let hib = ResizeFacts {
            hibernation: true,
            ..x86()
        };
        assert!(
            check(&inst(hib), "c5.large", &o)
                .unwrap_err()
                .contains("hibernation")
        );
        let pv = ResizeFacts {
            virtualization: Some("paravirtual".into()),
            ..x86()
        };
        assert!(
            check(&inst(pv), "c5.large", &o)
                .unwrap_err()
                .contains("paravirtual")
        );
    }

    #[test]
    fn ebs_optimization_is_turned_off_for_types_without_it() {
        let ebs = ResizeFacts {
            ebs_optimized: true,
            ..x86()
        };
        assert_eq!(
            check(&inst(ebs.clone()), "t2.micro", &observed()),
            Ok(Permitted {
                disable_ebs_optimized: true
            })
        );
        assert_eq!(
            check(&inst(ebs), "c5.large", &observed()),
            Ok(Permitted::default())
        );
    }

    #[test]
    fn offline_plans_check_nothing_and_nvme_changes_are_noted() {
        let offline = ObservedWorkload {
            types_read: false,
            ..observed()
        };
        assert!(
            check(
                &inst(ResizeFacts {
                    spot: true,
                    ..x86()
                }),
                "c5.large",
                &offline
            )
            .is_ok()
        );
        assert!(
            note("t2.nano", "c5.large", &observed())
                .unwrap()
                .contains("NVMe")
        );
        assert_eq!(note("c5.large", "m6g.large", &observed()), None);
    }
}
