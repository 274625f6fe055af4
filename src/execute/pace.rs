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

use std::collections::HashMap;
use std::sync::Mutex;
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
}

impl Call {
    /// (request capacity, refill per second), (instance capacity, refill per second).
    fn buckets(self) -> ((f64, f64), Option<(f64, f64)>) {
        match self {
            Call::Start => ((5.0, 2.0), Some((1000.0, 2.0))),
            Call::Stop => ((50.0, 5.0), Some((1000.0, 20.0))),
            Call::Modify => ((50.0, 5.0), None),
            Call::Describe => ((100.0, 20.0), None),
        }
    }
}

#[derive(Debug)]
struct Bucket {
    capacity: f64,
    rate: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn new((capacity, rate): (f64, f64), now: Instant) -> Self {
        Bucket {
            capacity,
            rate,
            tokens: capacity,
            at: now,
        }
    }

    /// Reserves `n` tokens; returns how long until they are covered.
    fn reserve(&mut self, n: f64, now: Instant) -> Duration {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        self.at = now;
        // A request larger than the bucket can never be covered in full;
        // cap it so it waits for a full bucket instead of forever.
        self.tokens -= n.min(self.capacity);
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }
}

/// The request bucket and, for some calls, the instance bucket.
type Buckets = (Bucket, Option<Bucket>);

/// Pacing state for the whole process.
#[derive(Debug, Default)]
pub struct Pacer {
    buckets: Mutex<HashMap<(String, Call), Buckets>>,
}

impl Pacer {
    /// Waits until a call naming `instances` instances may be sent.
    pub async fn acquire(&self, region: &str, call: Call, instances: usize) {
        let wait = {
            let now = Instant::now();
            let mut map = self.buckets.lock().expect("pacer lock is never poisoned");
            let (req, inst) = map.entry((region.to_string(), call)).or_insert_with(|| {
                let (r, i) = call.buckets();
                (Bucket::new(r, now), i.map(|i| Bucket::new(i, now)))
            });
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
        let pacer = Pacer::default();
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
        let pacer = Pacer::default();
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
        let pacer = Pacer::default();
        let begin = Instant::now();
        for _ in 0..10 {
            pacer.acquire("a", Call::Stop, 100).await;
            pacer.acquire("b", Call::Stop, 100).await;
        }
        assert_eq!(begin.elapsed(), Duration::ZERO);
    }
}
