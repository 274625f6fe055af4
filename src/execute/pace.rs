//! Client-side pacing from EC2's documented throttling buckets, so a large
//! fleet is started at the rate AWS accepts instead of fired all at once
//! and throttled.
//!
//! Each (region, call) has a request bucket and, for Start/StopInstances, an
//! instance bucket (tokens are instances). Tokens are reserved up front and
//! the caller sleeps until its reservation is covered, which keeps callers
//! in arrival order without holding a lock while sleeping. The buckets
//! assume the account's own are full when the process starts: other
//! traffic on the account still shows up as throttling, which the SDK's
//! retries absorb.
//!
//! Throttling the clients see (every throttled attempt, counted by an SDK
//! interceptor into [`throttles`]) feeds back: the next call of that kind
//! in that region waits for a refill of an emptied bucket whose refill rate
//! is halved (down to [`MIN_FACTOR`]), and the rate grows back to the
//! documented one over [`RECOVERY`] without further throttles.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// A paced EC2 call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Call {
    /// `StartInstances`: request bucket 5 / 2 per s, instance bucket 1000 / 2 per s.
    Start,
    /// `StopInstances`: request bucket 50 / 5 per s, instance bucket 1000 / 20 per s.
    Stop,
    /// `ModifyInstanceAttribute` (mutating): 50 / 5 per s.
    Modify,
    /// `DescribeInstances` with a filter or ids: 100 / 20 per s.
    Describe,
    /// Auto Scaling's mutating calls (`UpdateAutoScalingGroup`, tags) and
    /// describes: AWS documents no bucket sizes; 40 / 8 per s, slowed
    /// further by throttles like the other buckets.
    AutoScaling,
}

impl Call {
    /// The paced call an SDK operation is (service and operation names as
    /// the SDK's metadata gives them); `None` for calls not paced.
    pub fn of(service: &str, operation: &str) -> Option<Call> {
        if service.replace(' ', "").eq_ignore_ascii_case("autoscaling") {
            return Some(Call::AutoScaling);
        }
        if !service.eq_ignore_ascii_case("ec2") {
            return None;
        }
        match operation {
            "StartInstances" => Some(Call::Start),
            "StopInstances" => Some(Call::Stop),
            "ModifyInstanceAttribute" => Some(Call::Modify),
            o if o.starts_with("Describe") => Some(Call::Describe),
            _ => None,
        }
    }

    /// (request capacity, refill per second), (instance capacity, refill per second).
    fn buckets(self) -> ((f64, f64), Option<(f64, f64)>) {
        match self {
            Call::Start => ((5.0, 2.0), Some((1000.0, 2.0))),
            Call::Stop => ((50.0, 5.0), Some((1000.0, 20.0))),
            Call::Modify => ((50.0, 5.0), None),
            Call::Describe => ((100.0, 20.0), None),
            Call::AutoScaling => ((40.0, 8.0), None),
        }
    }
}

/// Lowest share of the documented refill rate after repeated throttles.
pub const MIN_FACTOR: f64 = 0.125;

/// Time without throttles in which a slowed bucket is back to its rate.
pub const RECOVERY: Duration = Duration::from_secs(3);

/// Throttled attempts seen by the AWS clients, per (region, paced call),
/// and in all (unpaced services included).
#[derive(Debug, Default)]
pub struct Throttles {
    seen: Mutex<HashMap<(String, Call), u64>>,
    total: AtomicU64,
}

impl Throttles {
    /// One throttled attempt of `call` (`None`: a call that is not paced).
    pub fn record(&self, region: &str, call: Option<Call>) {
        self.total.fetch_add(1, Ordering::Relaxed);
        if let Some(call) = call {
            let mut seen = self
                .seen
                .lock()
                .expect("throttle log lock is never poisoned");
            *seen.entry((region.to_string(), call)).or_default() += 1;
        }
    }

    /// Throttled attempts of `call` in `region` so far.
    pub fn count(&self, region: &str, call: Call) -> u64 {
        let seen = self
            .seen
            .lock()
            .expect("throttle log lock is never poisoned");
        seen.get(&(region.to_string(), call)).copied().unwrap_or(0)
    }

    /// Throttled attempts of every call so far.
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }
}

static THROTTLES: LazyLock<Arc<Throttles>> = LazyLock::new(Arc::default);

/// The process's throttle log, fed by every AWS client tierctl builds.
pub fn throttles() -> Arc<Throttles> {
    Arc::clone(&THROTTLES)
}

#[derive(Debug)]
struct Bucket {
    capacity: f64,
    rate: f64,
    tokens: f64,
    at: Instant,
    /// Share of `rate` right after the last throttle, and when that was.
    slowed: Option<(f64, Instant)>,
}

impl Bucket {
    fn new((capacity, rate): (f64, f64), now: Instant) -> Self {
        Bucket {
            capacity,
            rate,
            tokens: capacity,
            at: now,
            slowed: None,
        }
    }

    /// The share of the documented rate in force at `now`: back to 1 over
    /// [`RECOVERY`] after a throttle.
    fn factor(&self, now: Instant) -> f64 {
        match self.slowed {
            None => 1.0,
            Some((f0, since)) => {
                let t = now.saturating_duration_since(since).as_secs_f64() / RECOVERY.as_secs_f64();
                (f0 + (1.0 - f0) * t).min(1.0)
            }
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate * self.factor(now)).min(self.capacity);
        self.at = now;
        if self.factor(now) >= 1.0 {
            self.slowed = None;
        }
    }

    /// AWS throttled this kind of call: empty the bucket and halve its rate.
    fn throttled(&mut self, now: Instant) {
        self.refill(now);
        let f = (self.factor(now) / 2.0).max(MIN_FACTOR);
        self.slowed = Some((f, now));
        self.tokens = self.tokens.min(0.0);
    }

    /// Reserves `n` tokens; returns how long until they are covered.
    fn reserve(&mut self, n: f64, now: Instant) -> Duration {
        self.refill(now);
        // A request larger than the bucket can never be covered in full;
        // cap it so it waits for a full bucket instead of forever.
        self.tokens -= n.min(self.capacity);
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            // The rate is the one in force now; a recovering bucket is
            // slightly pessimistic, which errs on the safe side.
            Duration::from_secs_f64(-self.tokens / (self.rate * self.factor(now)))
        }
    }
}

/// The request bucket, for some calls the instance bucket, and the
/// throttle count already acted on.
type Buckets = (Bucket, Option<Bucket>, u64);

/// Pacing state for the whole process.
#[derive(Debug)]
pub struct Pacer {
    buckets: Mutex<HashMap<(String, Call), Buckets>>,
    throttles: Arc<Throttles>,
}

impl Default for Pacer {
    /// A pacer fed by the process's throttle log.
    fn default() -> Self {
        Pacer::observing(throttles())
    }
}

impl Pacer {
    /// A pacer fed by this throttle log.
    pub fn observing(throttles: Arc<Throttles>) -> Self {
        Pacer {
            buckets: Mutex::new(HashMap::new()),
            throttles,
        }
    }

    /// Waits until a call naming `instances` instances may be sent.
    pub async fn acquire(&self, region: &str, call: Call, instances: usize) {
        let seen = self.throttles.count(region, call);
        let wait = {
            let now = Instant::now();
            let mut map = self.buckets.lock().expect("pacer lock is never poisoned");
            let (req, inst, acted) = map.entry((region.to_string(), call)).or_insert_with(|| {
                let (r, i) = call.buckets();
                (Bucket::new(r, now), i.map(|i| Bucket::new(i, now)), seen)
            });
            if seen > *acted {
                *acted = seen;
                req.throttled(now);
                tracing::debug!(?call, region, "throttled: slowing this call down");
            }
            let a = req.reserve(1.0, now);
            let b = inst
                .as_mut()
                .map(|b| b.reserve(instances as f64, now))
                .unwrap_or_default();
            a.max(b)
        };
        if !wait.is_zero() {
            tracing::debug!(
                ?call,
                region,
                ?wait,
                "pacing to stay within EC2's throttling buckets"
            );
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn thousand_starts_are_paced_by_the_request_bucket() {
        let pacer = Pacer::observing(Arc::default());
        let begin = Instant::now();
        // 10 calls of 100 instances: 5 at once, then one every 0.5 s.
        for _ in 0..10 {
            pacer.acquire("us-west-2", Call::Start, 100).await;
        }
        let took = begin.elapsed();
        assert!(
            took >= Duration::from_millis(2400) && took <= Duration::from_millis(2600),
            "{took:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn instance_bucket_limits_starts_beyond_a_thousand() {
        let pacer = Pacer::observing(Arc::default());
        let begin = Instant::now();
        pacer.acquire("r", Call::Start, 1000).await;
        assert_eq!(begin.elapsed(), Duration::ZERO);
        // The bucket is empty; 10 more instances need 5 s at 2 per second.
        pacer.acquire("r", Call::Start, 10).await;
        let took = begin.elapsed();
        assert!(
            took >= Duration::from_secs(5) && took < Duration::from_millis(5100),
            "{took:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn stops_of_a_thousand_are_not_delayed_and_regions_are_separate() {
        let pacer = Pacer::observing(Arc::default());
        let begin = Instant::now();
        for _ in 0..10 {
            pacer.acquire("a", Call::Stop, 100).await;
            pacer.acquire("b", Call::Stop, 100).await;
        }
        assert_eq!(begin.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_throttle_slows_the_next_calls_which_recover_within_seconds() {
        let log = Arc::new(Throttles::default());
        let pacer = Pacer::observing(Arc::clone(&log));
        let begin = Instant::now();
        for _ in 0..10 {
            pacer.acquire("r", Call::Stop, 10).await;
        }
        assert_eq!(begin.elapsed(), Duration::ZERO);
        // A throttled attempt: the bucket is emptied and refills at half
        // of 5 per second, so the next call waits 0.4 s.
        log.record("r", Some(Call::Stop));
        log.record("r", None);
        assert_eq!(log.total(), 2);
        let t = Instant::now();
        pacer.acquire("r", Call::Stop, 10).await;
        let took = t.elapsed();
        assert!(
            took >= Duration::from_millis(390) && took <= Duration::from_millis(410),
            "{took:?}"
        );
        // Other calls and regions are not slowed.
        let t = Instant::now();
        pacer.acquire("r", Call::Describe, 10).await;
        pacer.acquire("other", Call::Stop, 10).await;
        assert_eq!(t.elapsed(), Duration::ZERO);
        // Throttled again and again: the rate halves down to its floor.
        for _ in 0..6 {
            log.record("r", Some(Call::Stop));
            let t = Instant::now();
            pacer.acquire("r", Call::Stop, 10).await;
            assert!(
                t.elapsed()
                    <= Duration::from_secs_f64(1.0 / (5.0 * MIN_FACTOR))
                        + Duration::from_millis(10)
            );
        }
        // Quiet for the recovery time: full speed, the bucket refilled.
        tokio::time::sleep(RECOVERY + Duration::from_secs(10)).await;
        let t = Instant::now();
        for _ in 0..20 {
            pacer.acquire("r", Call::Stop, 10).await;
        }
        assert_eq!(t.elapsed(), Duration::ZERO);
    }

    #[test]
    fn sdk_operations_map_to_paced_calls() {
        assert_eq!(Call::of("EC2", "StopInstances"), Some(Call::Stop));
        assert_eq!(Call::of("ec2", "StartInstances"), Some(Call::Start));
        assert_eq!(
            Call::of("ec2", "DescribeInstanceStatus"),
            Some(Call::Describe)
        );
        assert_eq!(
            Call::of("ec2", "ModifyInstanceAttribute"),
            Some(Call::Modify)
        );
        assert_eq!(Call::of("ssm", "SendCommand"), None);
        assert_eq!(Call::of("ec2", "CreateTags"), None);
    }
}
