//! The executor against an in-memory fleet, on paused time.

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::*;
use crate::error::AwsErrorKind;
use crate::observe::{Instance, ObservedWorkload};
use crate::plan::{Intent, plan_workload};
use crate::spec::{self, StartAction, StopAction, Tier, Workload};

/// A fleet in memory: stop/start flip states at once; failures on demand.
#[derive(Default)]
struct Fleet {
    states: Mutex<BTreeMap<String, InstanceState>>,
    /// Calls made: (call, ids).
    calls: Mutex<Vec<(&'static str, Vec<String>)>>,
    /// Starting any batch with one of these fails the whole batch, naming nobody.
    no_capacity: BTreeSet<String>,
    /// Stopping fails for everyone with this error kind.
    deny_all: bool,
    /// Instances that never reach their state.
    stuck: BTreeSet<String>,
    /// Override answers.
    answers: BTreeMap<String, CheckOutcome>,
    /// Stopping a batch with one of these panics (a bug in an effect).
    panic_on: BTreeSet<String>,
}

impl Fleet {
    fn with(states: &[(&str, InstanceState)]) -> Self {
        Fleet {
            states: Mutex::new(states.iter().map(|(i, s)| (i.to_string(), *s)).collect()),
            ..Fleet::default()
        }
    }

    fn calls(&self, name: &str) -> Vec<Vec<String>> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(c, _)| *c == name)
            .map(|(_, ids)| ids.clone())
            .collect()
    }

    fn set(&self, ids: &[String], s: InstanceState) {
        let mut states = self.states.lock().unwrap();
        for id in ids {
            if !self.stuck.contains(id) {
                states.insert(id.clone(), s);
            }
        }
    }
}

fn err(code: &str, message: String, kind: AwsErrorKind) -> AwsError {
    AwsError {
        call: "ec2:Test".into(),
        kind,
        code: Some(code.into()),
        message,
    }
}

impl Effects for Fleet {
    async fn stop(&self, _: &str, ids: &[String], _: bool) -> Result<(), AwsError> {
        self.calls.lock().unwrap().push(("stop", ids.to_vec()));
        if ids.iter().any(|i| self.panic_on.contains(i)) {
            panic!("injected panic stopping {ids:?}");
        }
        if self.deny_all {
            return Err(err(
                "UnauthorizedOperation",
                "not allowed".into(),
                AwsErrorKind::AccessDenied,
            ));
        }
        self.set(ids, InstanceState::Stopped);
        Ok(())
    }

    async fn start(&self, _: &str, ids: &[String], _: bool) -> Result<(), AwsError> {
        self.calls.lock().unwrap().push(("start", ids.to_vec()));
        if ids.iter().any(|i| self.no_capacity.contains(i)) {
            return Err(err(
                "InsufficientInstanceCapacity",
                "We currently do not have sufficient capacity".into(),
                AwsErrorKind::Other,
            ));
        }
        let stopping: Vec<&String> = {
            let states = self.states.lock().unwrap();
            ids.iter()
                .filter(|i| states.get(*i) == Some(&InstanceState::Stopping))
                .collect()
        };
        if let Some(i) = stopping.first() {
            return Err(err(
                "IncorrectInstanceState",
                format!("The instance '{i}' is not in a state from which it can be started."),
                AwsErrorKind::Other,
            ));
        }
        self.set(ids, InstanceState::Running);
        Ok(())
    }

    async fn states(
        &self,
        _: &str,
        ids: &[String],
    ) -> Result<BTreeMap<String, InstanceState>, AwsError> {
        self.calls.lock().unwrap().push(("states", ids.to_vec()));
        let states = self.states.lock().unwrap();
        Ok(ids
            .iter()
            .filter_map(|i| states.get(i).map(|s| (i.clone(), *s)))
            .collect())
    }

    async fn resize(&self, _: &str, r: &crate::plan::Resize, _: bool) -> Result<(), AwsError> {
        self.calls
            .lock()
            .unwrap()
            .push(("resize", vec![r.instance.clone()]));
        Ok(())
    }

    async fn deregister_classic(&self, _: &str, _: &str, ids: &[String]) -> Result<(), AwsError> {
        self.calls
            .lock()
            .unwrap()
            .push(("deregister", ids.to_vec()));
        Ok(())
    }

    async fn register_classic(&self, _: &str, _: &str, ids: &[String]) -> Result<(), AwsError> {
        self.calls.lock().unwrap().push(("register", ids.to_vec()));
        Ok(())
    }

    async fn unhealthy(
        &self,
        _: &str,
        _: &BTreeMap<String, Vec<String>>,
        _: &[String],
    ) -> Result<BTreeMap<String, String>, AwsError> {
        Ok(BTreeMap::new())
    }

    async fn check_overrides(
        &self,
        _: &str,
        _: &OverrideCheck,
        ids: &[String],
    ) -> BTreeMap<String, CheckOutcome> {
        self.calls.lock().unwrap().push(("check", ids.to_vec()));
        ids.iter()
            .map(|i| {
                (
                    i.clone(),
                    self.answers.get(i).cloned().unwrap_or(CheckOutcome::Absent),
                )
            })
            .collect()
    }
}

fn tier(name: &str, seq: u32, sync: bool) -> Tier {
    Tier {
        name: name.into(),
        stop: Some(StopAction {
            sequence: seq,
            synchronous: sync,
            delay_seconds: 5,
            override_file: None,
        }),
        start: Some(StartAction {
            sequence: seq,
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

fn observed(fleet: &Fleet, tiers: &[(&str, &[&str])]) -> ObservedWorkload {
    let states = fleet.states.lock().unwrap();
    let mut instances = Vec::new();
    for (t, ids) in tiers {
        for id in *ids {
            instances.push(Instance {
                id: id.to_string(),
                tier: Some(t.to_string()),
                state: states[*id],
                instance_type: "t3.micro".into(),
                name: None,
                launch_time: None,
                resize: None,
                classic_load_balancers: Vec::new(),
                target_groups: Vec::new(),
                group: None,
            });
        }
    }
    ObservedWorkload {
        region: "us-west-2".into(),
        instances,
        ..ObservedWorkload::default()
    }
}

async fn run(
    fleet: Arc<Fleet>,
    w: &Workload,
    o: &ObservedWorkload,
    intent: &Intent,
    options: Options,
) -> RunReport {
    let plan = Plan {
        version: 1,
        action: intent.action,
        profile: intent.profile.clone(),
        workloads: vec![plan_workload(w, Some(o), intent).unwrap()],
    };
    let (_tx, rx) = watch::channel(false);
    execute(
        &plan,
        fleet,
        Arc::new(Silent),
        options,
        Arc::new(super::fence::NoFence),
        rx,
    )
    .await
}

fn status_of(r: &RunReport, id: &str) -> Status {
    r.outcomes().find(|o| o.instance == id).unwrap().status
}

#[tokio::test(start_paused = true)]
async fn waves_run_in_order_and_delays_follow_tiers() {
    use InstanceState::Running;
    let fleet = Arc::new(Fleet::with(&[
        ("i-web", Running),
        ("i-app", Running),
        ("i-db", Running),
    ]));
    let w = workload(vec![
        tier("web", 0, false),
        tier("app", 1, true),
        tier("db", 2, true),
    ]);
    let o = observed(
        &fleet,
        &[("web", &["i-web"]), ("app", &["i-app"]), ("db", &["i-db"])],
    );
    let begin = Instant::now();
    let r = run(
        fleet.clone(),
        &w,
        &o,
        &Intent::new(Action::Stop),
        Options::default(),
    )
    .await;
    let stops = fleet.calls("stop");
    assert_eq!(
        stops,
        vec![
            vec!["i-web".to_string()],
            vec!["i-app".into()],
            vec!["i-db".into()]
        ]
    );
    // Two delays of 5 s (none after the last wave) and short polls.
    let took = begin.elapsed();
    assert!(
        took >= Duration::from_secs(10) && took < Duration::from_secs(11),
        "{took:?}"
    );
    assert_eq!(r.count(Status::Stopped), 3);
}

#[tokio::test(start_paused = true)]
async fn capacity_failures_are_isolated_by_splitting_and_halt_later_waves() {
    use InstanceState::Stopped;
    let ids: Vec<String> = (0..10).map(|n| format!("i-{n:02}")).collect();
    let mut states: Vec<(&str, InstanceState)> =
        ids.iter().map(|i| (i.as_str(), Stopped)).collect();
    states.push(("i-db", Stopped));
    let mut fleet = Fleet::with(&states);
    fleet.no_capacity = ["i-03".to_string(), "i-07".to_string()].into();
    let fleet = Arc::new(fleet);
    let w = workload(vec![tier("app", 0, false), tier("db", 1, false)]);
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let o = observed(&fleet, &[("app", &refs), ("db", &["i-db"])]);
    let r = run(
        fleet.clone(),
        &w,
        &o,
        &Intent::new(Action::Start),
        Options::default(),
    )
    .await;
    for id in &ids {
        let want = if id == "i-03" || id == "i-07" {
            Status::Failed
        } else {
            Status::Started
        };
        assert_eq!(status_of(&r, id), want, "{id}");
    }
    let failed = r.outcomes().find(|o| o.instance == "i-03").unwrap();
    assert_eq!(
        failed.error_code.as_deref(),
        Some("InsufficientInstanceCapacity")
    );
    assert_eq!(
        status_of(&r, "i-db"),
        Status::NotAttempted,
        "later waves are halted"
    );
    assert!(r.workloads[0].halted);
    // Splitting is bounded: about two calls per halving per bad instance.
    assert!(
        fleet.calls("start").len() <= 17,
        "{:?}",
        fleet.calls("start")
    );

    // With --continue-on-error the next wave runs.
    let mut again = Fleet::with(&states);
    again.no_capacity = ["i-03".to_string()].into();
    let again = Arc::new(again);
    let r = run(
        again,
        &w,
        &o,
        &Intent::new(Action::Start),
        Options {
            continue_on_error: true,
            ..Options::default()
        },
    )
    .await;
    assert_eq!(status_of(&r, "i-db"), Status::Started);
}

#[tokio::test(start_paused = true)]
async fn named_instances_are_set_aside_and_the_rest_retried() {
    use InstanceState::{Stopped, Stopping};
    let fleet = Arc::new(Fleet::with(&[
        ("i-1", Stopped),
        ("i-2", Stopped),
        ("i-3", Stopped),
    ]));
    let w = workload(vec![tier("app", 0, false)]);
    let o = observed(&fleet, &[("app", &["i-1", "i-2", "i-3"])]);
    // i-2 starts stopping after the plan was made (someone else stopped it meanwhile).
    fleet.states.lock().unwrap().insert("i-2".into(), Stopping);
    let r = run(
        fleet.clone(),
        &w,
        &o,
        &Intent::new(Action::Start),
        Options::default(),
    )
    .await;
    assert_eq!(
        fleet.calls("start"),
        vec![
            vec!["i-1".to_string(), "i-2".into(), "i-3".into()],
            vec!["i-1".into(), "i-3".into()]
        ]
    );
    assert_eq!(status_of(&r, "i-2"), Status::Failed);
    assert_eq!(status_of(&r, "i-1"), Status::Started);
}

#[tokio::test(start_paused = true)]
async fn access_denied_is_not_split() {
    use InstanceState::Running;
    let mut fleet = Fleet::with(&[("i-1", Running), ("i-2", Running), ("i-3", Running)]);
    fleet.deny_all = true;
    let fleet = Arc::new(fleet);
    let w = workload(vec![tier("app", 0, false)]);
    let o = observed(&fleet, &[("app", &["i-1", "i-2", "i-3"])]);
    let r = run(
        fleet.clone(),
        &w,
        &o,
        &Intent::new(Action::Stop),
        Options::default(),
    )
    .await;
    assert_eq!(fleet.calls("stop").len(), 1);
    assert_eq!(r.count(Status::Failed), 3);
}

#[tokio::test(start_paused = true)]
async fn synchronous_tiers_wait_for_exactly_their_instances_with_a_timeout() {
    use InstanceState::Running;
    let mut fleet = Fleet::with(&[("i-1", Running), ("i-2", Running), ("i-x", Running)]);
    fleet.stuck = ["i-2".to_string()].into();
    let fleet = Arc::new(fleet);
    let w = workload(vec![tier("app", 0, true), tier("db", 1, false)]);
    let o = observed(&fleet, &[("app", &["i-1", "i-2"]), ("db", &["i-x"])]);
    let intent = Intent {
        wait_timeout_seconds: 30,
        ..Intent::new(Action::Stop)
    };
    let begin = Instant::now();
    let r = run(fleet.clone(), &w, &o, &intent, Options::default()).await;
    let took = begin.elapsed();
    assert!(
        took >= Duration::from_secs(29) && took <= Duration::from_secs(31),
        "{took:?}"
    );
    assert!(
        fleet
            .calls("states")
            .iter()
            .all(|ids| ids.iter().all(|i| i == "i-1" || i == "i-2")),
        "polls name only the tier's instances"
    );
    let stuck = r.outcomes().find(|o| o.instance == "i-2").unwrap();
    assert_eq!(stuck.status, Status::Failed);
    assert!(
        stuck
            .detail
            .as_deref()
            .unwrap()
            .contains("did not reach stopped within 30s (last seen running)")
    );
    assert_eq!(status_of(&r, "i-x"), Status::NotAttempted);
}

#[tokio::test(start_paused = true)]
async fn override_answers_decide_per_instance() {
    use InstanceState::Running;
    let mut fleet = Fleet::with(&[("i-1", Running), ("i-2", Running), ("i-3", Running)]);
    fleet.answers = [
        ("i-2".to_string(), CheckOutcome::Present),
        (
            "i-3".to_string(),
            CheckOutcome::Unchecked("SSM agent not online".into()),
        ),
    ]
    .into();
    let fleet = Arc::new(fleet);
    let mut web = tier("web", 0, false);
    web.stop.as_mut().unwrap().override_file = Some(spec::OverrideFile {
        file: "/tmp/keep".into(),
        os: GuestOs::Linux,
    });
    let w = workload(vec![web]);
    let o = observed(&fleet, &[("web", &["i-1", "i-2", "i-3"])]);
    let r = run(
        fleet.clone(),
        &w,
        &o,
        &Intent::new(Action::Stop),
        Options::default(),
    )
    .await;
    assert_eq!(
        fleet.calls("check"),
        vec![vec!["i-1".to_string(), "i-2".into(), "i-3".into()]]
    );
    assert_eq!(fleet.calls("stop"), vec![vec!["i-1".to_string()]]);
    assert_eq!(status_of(&r, "i-2"), Status::Bypassed);
    assert_eq!(status_of(&r, "i-3"), Status::HeldBack);
    assert!(
        r.outcomes()
            .find(|o| o.instance == "i-3")
            .unwrap()
            .detail
            .as_deref()
            .unwrap()
            .contains("agent not online")
    );
}

#[tokio::test(start_paused = true)]
async fn cancellation_stops_new_steps() {
    use InstanceState::Running;
    let fleet = Arc::new(Fleet::with(&[("i-1", Running), ("i-2", Running)]));
    let w = workload(vec![tier("web", 0, false), tier("db", 1, false)]);
    let o = observed(&fleet, &[("web", &["i-1"]), ("db", &["i-2"])]);
    let plan = Plan {
        version: 1,
        action: Action::Stop,
        profile: None,
        workloads: vec![plan_workload(&w, Some(&o), &Intent::new(Action::Stop)).unwrap()],
    };
    let (tx, rx) = watch::channel(false);
    let handle = tokio::spawn({
        let fleet = fleet.clone();
        async move {
            execute(
                &plan,
                fleet,
                Arc::new(Silent),
                Options::default(),
                Arc::new(super::fence::NoFence),
                rx,
            )
            .await
        }
    });
    // Interrupt during web's 5 s delay.
    tokio::time::sleep(Duration::from_secs(1)).await;
    tx.send(true).unwrap();
    let r = handle.await.unwrap();
    assert!(r.interrupted);
    assert_eq!(status_of(&r, "i-1"), Status::Stopped);
    assert_eq!(status_of(&r, "i-2"), Status::NotAttempted);
    assert_eq!(fleet.calls("stop").len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_panicking_tier_task_fails_all_its_instances_and_the_others_finish() {
    use InstanceState::Running;
    let mut fleet = Fleet::with(&[
        ("i-web1", Running),
        ("i-web2", Running),
        ("i-api", Running),
        ("i-db", Running),
    ]);
    fleet.panic_on = ["i-web2".to_string()].into();
    let fleet = Arc::new(fleet);
    // web and api stop in the same wave; db after them.
    let w = workload(vec![
        tier("web", 0, false),
        tier("api", 0, false),
        tier("db", 1, true),
    ]);
    let o = observed(
        &fleet,
        &[
            ("web", &["i-web1", "i-web2"]),
            ("api", &["i-api"]),
            ("db", &["i-db"]),
        ],
    );
    let r = run(
        fleet.clone(),
        &w,
        &o,
        &Intent::new(Action::Stop),
        Options::default(),
    )
    .await;
    // Every instance of the panicked task has an outcome, and says why.
    for id in ["i-web1", "i-web2"] {
        let o = r.outcomes().find(|o| o.instance == id).unwrap();
        assert_eq!(o.status, Status::Failed, "{id}");
        let why = format!("{o:?}");
        assert!(why.contains("panicked"), "{why}");
    }
    // The other task of the wave finished; the next wave is halted.
    assert_eq!(status_of(&r, "i-api"), Status::Stopped);
    assert_eq!(status_of(&r, "i-db"), Status::NotAttempted);
    assert!(
        fleet
            .calls("stop")
            .iter()
            .all(|b| !b.contains(&"i-db".to_string()))
    );
    assert_eq!(r.outcomes().count(), 4, "one outcome per instance");
    assert_eq!(
        crate::pipeline::run::exit_for(&r, false),
        crate::exit::Exit::Error
    );
}
