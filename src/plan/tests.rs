use std::collections::BTreeSet;

use proptest::prelude::*;

use super::*;
use crate::observe::{Instance, InstanceState as S, ObservedWorkload};
use crate::spec::{self, StartAction, StopAction};

fn tier(name: &str, stop_seq: u32, start_seq: u32, sync: bool) -> Tier {
    Tier {
        name: name.into(),
        stop: Some(StopAction {
            sequence: stop_seq,
            synchronous: sync,
            delay_seconds: 5,
            override_file: None,
        }),
        start: Some(StartAction {
            sequence: start_seq,
            synchronous: sync,
            delay_seconds: 5,
            ..StartAction::new(0)
        }),
        scaling: BTreeMap::new(),
        members: crate::spec::default_members(),
    }
}

fn workload(tiers: Vec<Tier>) -> Workload {
    Workload {
        tiers,
        disabled: false,
        ..spec::example_with_every_field()
    }
}

fn inst(id: &str, tier: &str, state: S) -> Instance {
    Instance {
        id: id.into(),
        tier: Some(tier.into()),
        state,
        instance_type: "t3.micro".into(),
        name: None,
        launch_time: None,
        resize: None,
        classic_load_balancers: Vec::new(),
        target_groups: Vec::new(),
        group: None,
    }
}

fn observed(instances: Vec<Instance>) -> ObservedWorkload {
    ObservedWorkload {
        region: "us-west-2".into(),
        instances,
        ..ObservedWorkload::default()
    }
}

fn steps_of<'a>(p: &'a WorkloadPlan, tier: &str) -> &'a [Step] {
    &p.waves
        .iter()
        .flat_map(|w| &w.tiers)
        .find(|t| t.name == tier)
        .unwrap()
        .steps
}

#[test]
fn waves_follow_sequences_and_equal_sequences_share_a_wave() {
    let w = workload(vec![
        tier("db", 2, 0, true),
        tier("web", 0, 2, false),
        tier("api", 0, 2, false),
        tier("app", 1, 1, true),
    ]);
    let p = plan_workload(&w, None, &Intent::new(Action::Stop)).unwrap();
    let order: Vec<Vec<&str>> = p
        .waves
        .iter()
        .map(|w| w.tiers.iter().map(|t| t.name.as_str()).collect())
        .collect();
    assert_eq!(order, vec![vec!["api", "web"], vec!["app"], vec!["db"]]);
    let p = plan_workload(&w, None, &Intent::new(Action::Start)).unwrap();
    let order: Vec<Vec<&str>> = p
        .waves
        .iter()
        .map(|w| w.tiers.iter().map(|t| t.name.as_str()).collect())
        .collect();
    assert_eq!(order, vec![vec!["db"], vec!["app"], vec!["api", "web"]]);
}

#[test]
fn stop_handles_every_state() {
    let w = workload(vec![tier("web", 0, 0, true)]);
    let o = observed(vec![
        inst("i-1", "web", S::Running),
        inst("i-2", "web", S::Stopped),
        inst("i-3", "web", S::Stopping),
        inst("i-4", "web", S::Pending),
        inst("i-5", "web", S::Terminated),
    ]);
    let p = plan_workload(&w, Some(&o), &Intent::new(Action::Stop)).unwrap();
    let t = &p.waves[0].tiers[0];
    assert_eq!(
        t.steps[0],
        Step::Stop {
            batches: vec![vec!["i-1".into()]]
        }
    );
    // A synchronous tier also waits for the instance that was already stopping.
    assert_eq!(
        t.steps[1],
        Step::Wait {
            state: S::Stopped,
            instances: vec!["i-1".into(), "i-3".into()],
            timeout_seconds: DEFAULT_WAIT_TIMEOUT_SECONDS
        }
    );
    let unchanged: Vec<(&str, &str)> = t
        .unchanged
        .iter()
        .map(|n| (n.instance.as_str(), n.reason.as_str()))
        .collect();
    assert_eq!(
        unchanged,
        [
            ("i-2", "already stopped"),
            ("i-3", "already stopping"),
            ("i-5", "terminated")
        ]
    );
    assert_eq!(t.held.len(), 1);
    assert!(t.held[0].reason.starts_with("pending"));
    // The last wave has no trailing delay.
    assert!(!t.steps.iter().any(|s| matches!(s, Step::Delay { .. })));
}

#[test]
fn start_handles_every_state() {
    let w = workload(vec![tier("web", 0, 0, false)]);
    let o = observed(vec![
        inst("i-1", "web", S::Stopped),
        inst("i-2", "web", S::Running),
        inst("i-3", "web", S::Pending),
        inst("i-4", "web", S::Stopping),
    ]);
    let p = plan_workload(&w, Some(&o), &Intent::new(Action::Start)).unwrap();
    let t = &p.waves[0].tiers[0];
    assert_eq!(
        t.steps,
        vec![Step::Start {
            batches: vec![vec!["i-1".into()]]
        }]
    );
    assert_eq!(t.unchanged.len(), 2);
    assert_eq!(t.held[0].instance, "i-4");
    assert_eq!(p.summary().held, 1);
}

#[test]
fn override_check_precedes_the_stop_and_delay_follows_the_tier() {
    let mut web = tier("web", 0, 1, false);
    web.stop.as_mut().unwrap().override_file = Some(spec::OverrideFile {
        file: "/tmp/keep".into(),
        os: GuestOs::Linux,
    });
    web.stop.as_mut().unwrap().delay_seconds = 10;
    let w = workload(vec![web, tier("db", 1, 0, true)]);
    let o = observed(vec![
        inst("i-1", "web", S::Running),
        inst("i-2", "db", S::Running),
    ]);
    let p = plan_workload(&w, Some(&o), &Intent::new(Action::Stop)).unwrap();
    assert_eq!(
        steps_of(&p, "web"),
        [
            Step::OverrideCheck {
                file: "/tmp/keep".into(),
                os: GuestOs::Linux,
                instances: vec!["i-1".into()],
                output_bucket: Some("bucket".into()),
                output_key_prefix: Some("prefix".into()),
            },
            Step::Stop {
                batches: vec![vec!["i-1".into()]]
            },
            Step::Delay { seconds: 10 },
        ]
    );
}

#[test]
fn batches_respect_the_batch_size() {
    let w = workload(vec![tier("web", 0, 0, false)]);
    let o = observed(
        (0..250)
            .map(|n| inst(&format!("i-{n:04}"), "web", S::Running))
            .collect(),
    );
    let intent = Intent {
        batch_size: 100,
        ..Intent::new(Action::Stop)
    };
    let p = plan_workload(&w, Some(&o), &intent).unwrap();
    let Step::Stop { batches } = &p.waves[0].tiers[0].steps[0] else {
        panic!()
    };
    assert_eq!(
        batches.iter().map(Vec::len).collect::<Vec<_>>(),
        [100, 100, 50]
    );
}

#[test]
fn profiles_resize_before_start() {
    let mut web = tier("web", 0, 0, false);
    web.scaling.insert("big".into(), "c5.large".into());
    let w = workload(vec![web, tier("db", 1, 1, false)]);
    let mut already = inst("i-2", "web", S::Stopped);
    already.instance_type = "c5.large".into();
    let o = observed(vec![
        inst("i-1", "web", S::Stopped),
        already,
        inst("i-3", "db", S::Stopped),
    ]);
    let intent = Intent {
        profile: Some("big".into()),
        ..Intent::new(Action::Start)
    };
    let p = plan_workload(&w, Some(&o), &intent).unwrap();
    assert_eq!(
        steps_of(&p, "web")[..3],
        [
            Step::Resize {
                resizes: vec![Resize {
                    instance: "i-1".into(),
                    from: "t3.micro".into(),
                    to: "c5.large".into(),
                    disable_ebs_optimized: false,
                }]
            },
            Step::ScaleDelay { seconds: 8 },
            Step::Start {
                batches: vec![vec!["i-1".into(), "i-2".into()]]
            },
        ]
    );
    let db = &p.waves[1].tiers[0];
    assert!(db.notes[0].contains("no `big` profile"), "{:?}", db.notes);
    assert!(!db.steps.iter().any(|s| matches!(s, Step::Resize { .. })));
}

#[test]
fn bad_intents_fail_before_anything() {
    let w = workload(vec![tier("web", 0, 0, false)]);
    let err = plan_workload(
        &w,
        None,
        &Intent {
            profile: Some("huge".into()),
            ..Intent::new(Action::Start)
        },
    )
    .unwrap_err();
    assert!(matches!(err, PlanError::UnknownProfile { .. }), "{err}");
    let err = plan_workload(
        &w,
        None,
        &Intent {
            profile: Some("huge".into()),
            ..Intent::new(Action::Stop)
        },
    )
    .unwrap_err();
    assert_eq!(err, PlanError::ProfileOnStop);
    let err = plan_workload(
        &w,
        None,
        &Intent {
            tiers: vec!["nope".into()],
            ..Intent::new(Action::Stop)
        },
    )
    .unwrap_err();
    assert!(matches!(err, PlanError::UnknownTier { .. }));
}

#[test]
fn kill_switch_plans_nothing_and_says_why() {
    let mut w = workload(vec![tier("web", 0, 0, false)]);
    w.disabled = true;
    let p = plan_workload(
        &w,
        Some(&observed(vec![inst("i-1", "web", S::Running)])),
        &Intent::new(Action::Stop),
    )
    .unwrap();
    assert!(p.waves.is_empty());
    assert!(p.skipped.as_deref().unwrap().contains("kill switch"));
    assert!(!p.has_actions());
}

#[test]
fn instances_in_no_tier_are_reported() {
    let w = workload(vec![tier("web", 0, 0, false)]);
    let mut untagged = inst("i-3", "x", S::Running);
    untagged.tier = None;
    let o = observed(vec![
        inst("i-1", "web", S::Running),
        inst("i-2", "wbe", S::Running),
        untagged,
        inst("i-4", "old", S::Terminated),
    ]);
    let p = plan_workload(&w, Some(&o), &Intent::new(Action::Stop)).unwrap();
    let u: Vec<_> = p
        .unmatched
        .iter()
        .map(|u| (u.instance.as_str(), u.tier.as_deref()))
        .collect();
    assert_eq!(u, [("i-2", Some("wbe")), ("i-3", None)]);
}

#[test]
fn selected_tiers_only() {
    let w = workload(vec![tier("web", 0, 0, false), tier("db", 1, 1, false)]);
    let o = observed(vec![
        inst("i-1", "web", S::Running),
        inst("i-2", "db", S::Running),
    ]);
    let p = plan_workload(
        &w,
        Some(&o),
        &Intent {
            tiers: vec!["db".into()],
            ..Intent::new(Action::Stop)
        },
    )
    .unwrap();
    assert_eq!(p.waves.len(), 1);
    assert_eq!(p.waves[0].tiers[0].name, "db");
    assert!(
        p.unmatched.is_empty(),
        "instances of unselected tiers are not unmatched"
    );
}

#[test]
fn offline_plans_name_no_instances_but_have_actions() {
    let w = workload(vec![tier("web", 0, 0, true)]);
    let p = plan_workload(&w, None, &Intent::new(Action::Stop)).unwrap();
    assert!(!p.observed);
    assert!(p.has_actions());
    assert_eq!(p.waves[0].tiers[0].steps[0], Step::Stop { batches: vec![] });
}

/// Applies a plan the way a successful run would: targets reach the target state.
fn apply(o: &ObservedWorkload, p: &WorkloadPlan) -> ObservedWorkload {
    let target = |id: &str| {
        p.waves
            .iter()
            .flat_map(|w| &w.tiers)
            .flat_map(|t| &t.steps)
            .find_map(|s| match s {
                Step::Stop { batches } if batches.iter().flatten().any(|i| i == id) => {
                    Some(S::Stopped)
                }
                Step::Start { batches } if batches.iter().flatten().any(|i| i == id) => {
                    Some(S::Running)
                }
                _ => None,
            })
    };
    let resized = |id: &str| {
        p.waves
            .iter()
            .flat_map(|w| &w.tiers)
            .flat_map(|t| &t.steps)
            .find_map(|s| match s {
                Step::Resize { resizes } => resizes.iter().find(|r| r.instance == id),
                _ => None,
            })
    };
    let mut out = o.clone();
    for i in &mut out.instances {
        if let Some(s) = target(&i.id) {
            i.state = s;
            if let Some(r) = resized(&i.id) {
                i.instance_type = r.to.clone();
                if r.disable_ebs_optimized
                    && let Some(f) = &mut i.resize
                {
                    f.ebs_optimized = false;
                }
            }
        }
    }
    out
}

fn arb_state() -> impl Strategy<Value = S> {
    prop_oneof![
        Just(S::Running),
        Just(S::Stopped),
        Just(S::Stopping),
        Just(S::Pending),
        Just(S::Terminated)
    ]
}

fn arb_case() -> impl Strategy<Value = (Workload, ObservedWorkload, Action, usize)> {
    let tiers = prop::collection::vec((0u32..4, 0u32..4, any::<bool>()), 1..6);
    let instances = prop::collection::vec((0usize..7, arb_state()), 0..40);
    let action = prop_oneof![Just(Action::Stop), Just(Action::Start)];
    (tiers, instances, action, 1usize..5).prop_map(|(tiers, instances, action, batch)| {
        let tiers: Vec<Tier> = tiers
            .iter()
            .enumerate()
            .map(|(n, (a, b, s))| tier(&format!("t{n}"), *a, *b, *s))
            .collect();
        let count = tiers.len();
        let instances = instances
            .iter()
            .enumerate()
            .map(|(n, (t, s))| inst(&format!("i-{n:03}"), &format!("t{}", t % (count + 2)), *s))
            .collect();
        (workload(tiers), observed(instances), action, batch)
    })
}

proptest! {
    #[test]
    fn every_plan_is_ordered_and_places_each_instance_once((w, o, action, batch) in arb_case()) {
        let intent = Intent { batch_size: batch, ..Intent::new(action) };
        let p = plan_workload(&w, Some(&o), &intent).unwrap();
        // No tier is acted on before a tier with a lower sequence.
        let seqs: Vec<u32> = p.waves.iter().map(|w| w.sequence).collect();
        prop_assert!(seqs.windows(2).all(|s| s[0] < s[1]));
        for wave in &p.waves {
            for t in &wave.tiers {
                let spec_tier = w.tiers.iter().find(|x| x.name == t.name).unwrap();
                prop_assert_eq!(Part::of(spec_tier, action).unwrap().sequence(), wave.sequence);
            }
        }
        // Each live instance is in exactly one place.
        let mut seen: Vec<String> = Vec::new();
        for t in p.waves.iter().flat_map(|w| &w.tiers) {
            for s in &t.steps {
                if let Step::Stop { batches } | Step::Start { batches } = s {
                    prop_assert!(batches.iter().all(|b| !b.is_empty() && b.len() <= batch));
                    seen.extend(batches.iter().flatten().cloned());
                }
            }
            seen.extend(t.unchanged.iter().map(|n| n.instance.clone()));
            seen.extend(t.held.iter().map(|n| n.instance.clone()));
        }
        seen.extend(p.unmatched.iter().map(|u| u.instance.clone()));
        let unique: BTreeSet<&String> = seen.iter().collect();
        prop_assert_eq!(unique.len(), seen.len(), "an instance appears twice");
        let live: BTreeSet<&String> = o.instances.iter()
            .filter(|i| i.state != S::Terminated || w.tiers.iter().any(|t| Some(&t.name) == i.tier.as_ref()))
            .map(|i| &i.id).collect();
        prop_assert_eq!(unique, live);
        // Same input, same output; input order does not matter.
        let mut shuffled = o.clone();
        shuffled.instances.reverse();
        prop_assert_eq!(&plan_workload(&w, Some(&shuffled), &intent).unwrap(), &p);
        // After a successful run, planning again yields nothing to do.
        let after = plan_workload(&w, Some(&apply(&o, &p)), &intent).unwrap();
        prop_assert!(!after.has_actions());
    }
}

/// A richer fleet: override files, scaling profiles with compatibility
/// facts, classic load balancers and health gates.
fn arb_rich_case()
-> impl Strategy<Value = (Workload, ObservedWorkload, Action, Option<String>, usize)> {
    let tiers = prop::collection::vec(
        (
            0u32..3,
            0u32..3,
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            0usize..3,
        ),
        1..5,
    );
    let instances = prop::collection::vec(
        (
            0usize..6,
            arb_state(),
            0usize..3,
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
        ),
        0..30,
    );
    let action = prop_oneof![Just(Action::Stop), Just(Action::Start)];
    let profile = prop_oneof![Just(None), Just(Some("big".to_string()))];
    (tiers, instances, action, profile, 1usize..4).prop_map(
        |(tiers, instances, action, profile, batch)| {
            let types = ["t3.micro", "c5.large", "m6g.large"];
            let tiers: Vec<Tier> = tiers
                .iter()
                .enumerate()
                .map(|(n, &(a, b, sync, keep, rereg, healthy, ty))| {
                    let mut t = tier(&format!("t{n}"), a, b, sync);
                    if keep {
                        t.stop.as_mut().unwrap().override_file = Some(spec::OverrideFile {
                            file: "/tmp/keep".into(),
                            os: GuestOs::Linux,
                        });
                    }
                    let start = t.start.as_mut().unwrap();
                    start.reregister_load_balancers = rereg;
                    start.wait_healthy = healthy;
                    // Tier 0 always maps the profile, so it is never unknown.
                    if n == 0 || ty > 0 {
                        t.scaling.insert("big".into(), types[ty].into());
                    }
                    t
                })
                .collect();
            let count = tiers.len();
            let instances = instances
                .iter()
                .enumerate()
                .map(|(n, &(t, st, ty, spot, clb, tg, ebs))| {
                    let mut i = inst(&format!("i-{n:03}"), &format!("t{}", t % (count + 1)), st);
                    i.instance_type = types[ty].into();
                    i.resize = Some(crate::observe::ResizeFacts {
                        architecture: Some(if ty == 2 { "arm64" } else { "x86_64" }.into()),
                        virtualization: Some("hvm".into()),
                        ena_support: true,
                        ebs_optimized: ebs,
                        spot,
                        hibernation: false,
                    });
                    if clb {
                        i.classic_load_balancers = vec!["clb-1".into()];
                    }
                    if tg {
                        i.target_groups = vec![
                            "arn:aws:elasticloadbalancing:us-west-2:1:targetgroup/tg/1".into(),
                        ];
                    }
                    i
                })
                .collect();
            let mut o = observed(instances);
            o.types_read = true;
            for (n, t) in types.iter().enumerate() {
                o.instance_types.insert(
                    (*t).into(),
                    crate::observe::TypeInfo {
                        architectures: vec![if n == 2 { "arm64" } else { "x86_64" }.into()],
                        virtualization: vec!["hvm".into()],
                        ena: "supported".into(),
                        nvme: "supported".into(),
                        ebs_optimized: if n == 0 { "unsupported" } else { "supported" }.into(),
                    },
                );
            }
            let profile = if action == Action::Start {
                profile
            } else {
                None
            };
            (workload(tiers), o, action, profile, batch)
        },
    )
}

proptest! {
    #[test]
    fn replanning_after_a_run_is_a_no_op_with_overrides_profiles_and_load_balancers(
        (w, o, action, profile, batch) in arb_rich_case()
    ) {
        let intent = Intent { batch_size: batch, profile, ..Intent::new(action) };
        let p = plan_workload(&w, Some(&o), &intent).unwrap();
        // Deterministic, whatever the input order.
        let mut shuffled = o.clone();
        shuffled.instances.reverse();
        prop_assert_eq!(&plan_workload(&w, Some(&shuffled), &intent).unwrap(), &p);
        // Resizes only for instances the start acts on, each to its tier's type.
        for t in p.waves.iter().flat_map(|w| &w.tiers) {
            let spec_tier = w.tiers.iter().find(|x| x.name == t.name).unwrap();
            let started: BTreeSet<String> = t.steps.iter().filter_map(|s| match s {
                Step::Start { batches } => Some(batches.iter().flatten().cloned()),
                _ => None,
            }).flatten().collect();
            for s in &t.steps {
                if let Step::Resize { resizes } = s {
                    for r in resizes {
                        prop_assert!(started.contains(&r.instance), "{} resized but not started", r.instance);
                        prop_assert_eq!(Some(&r.to), intent.profile.as_ref().and_then(|p| spec_tier.scaling.get(p)));
                    }
                }
            }
        }
        // After a successful run (states reached, types changed), planning
        // again has nothing to do: no stop, start, resize, override check or
        // load balancer step; only waits for instances still in flight.
        let after = plan_workload(&w, Some(&apply(&o, &p)), &intent).unwrap();
        prop_assert!(!after.has_actions(), "{:?}", after);
        for t in after.waves.iter().flat_map(|w| &w.tiers) {
            for s in &t.steps {
                prop_assert!(
                    matches!(s, Step::Wait { .. } | Step::WaitHealthy { .. }),
                    "left after a run: {:?}", s
                );
            }
        }
    }
}
