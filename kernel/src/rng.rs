//! Seeded randomness, one independent stream per component.
//!
//! Every component (a link, a node's fencing delay, the workload, the nemesis) draws from its own
//! stream derived from the run seed and the component's name. Adding a component, or drawing more
//! numbers in one, therefore never reshuffles what the others draw: a scenario edited to add a NIC
//! keeps the same message jitter on every other link.

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// Derives per-component streams from one run seed.
#[derive(Clone, Copy, Debug)]
pub struct SeedTree {
    seed: u64,
}

impl SeedTree {
    pub fn new(seed: u64) -> Self {
        SeedTree { seed }
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The stream for the component called `name` (for example `link/public/mbx1->mbx2`).
    pub fn stream(&self, name: &str) -> RngStream {
        let mut hasher = Sha256::new();
        hasher.update(b"drill-rng-v1\0");
        hasher.update(self.seed.to_le_bytes());
        hasher.update(name.as_bytes());
        let digest: [u8; 32] = hasher.finalize().into();
        RngStream { inner: ChaCha8Rng::from_seed(digest) }
    }
}

/// A deterministic random stream (ChaCha8, seeded through SHA-256 of seed and component name).
#[derive(Clone, Debug)]
pub struct RngStream {
    inner: ChaCha8Rng,
}

impl RngStream {
    pub fn next_u64(&mut self) -> u64 {
        self.inner.next_u64()
    }

    /// A uniform float in `[0, 1)`, built from the top 53 bits.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `probability` (clamped to `[0, 1]`). A probability of zero draws nothing,
    /// so disabling a fault does not shift the stream of a component that never uses it.
    pub fn chance(&mut self, probability: f64) -> bool {
        if probability <= 0.0 {
            return false;
        }
        if probability >= 1.0 {
            return true;
        }
        self.unit() < probability
    }

    /// A uniform integer in `[0, bound)`; `bound == 0` returns 0 without drawing.
    pub fn below(&mut self, bound: u64) -> u64 {
        if bound == 0 {
            return 0;
        }
        // Lemire's multiply-shift; the tiny bias for huge bounds does not matter for simulation.
        ((self.next_u64() as u128 * bound as u128) >> 64) as u64
    }

    /// A uniform duration in `[0, max]`.
    pub fn duration_up_to(&mut self, max: Duration) -> Duration {
        let max_nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(self.below(max_nanos.saturating_add(1)))
    }

    /// An exponentially distributed duration with the given mean (for Poisson arrivals).
    pub fn exponential(&mut self, mean: Duration) -> Duration {
        let u = 1.0 - self.unit(); // in (0, 1]
        let nanos = -u.ln() * mean.as_nanos() as f64;
        Duration::from_nanos(nanos.min(u64::MAX as f64) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_and_name_give_the_same_stream() {
        let tree = SeedTree::new(7);
        let a: Vec<u64> = (0..8)
            .map({
                let mut s = tree.stream("link/a");
                move |_| s.next_u64()
            })
            .collect();
        let b: Vec<u64> = (0..8)
            .map({
                let mut s = SeedTree::new(7).stream("link/a");
                move |_| s.next_u64()
            })
            .collect();
        assert_eq!(a, b);
    }

    #[test]
    fn different_names_or_seeds_give_different_streams() {
        let tree = SeedTree::new(7);
        assert_ne!(tree.stream("link/a").next_u64(), tree.stream("link/b").next_u64());
        assert_ne!(tree.stream("link/a").next_u64(), SeedTree::new(8).stream("link/a").next_u64());
    }

    #[test]
    fn chance_of_zero_never_draws_and_never_fires() {
        let mut with_zero = SeedTree::new(1).stream("x");
        let mut untouched = SeedTree::new(1).stream("x");
        assert!(!with_zero.chance(0.0));
        assert_eq!(with_zero.next_u64(), untouched.next_u64());
    }

    #[test]
    fn chance_fires_at_roughly_its_probability() {
        let mut stream = SeedTree::new(3).stream("coin");
        let hits = (0..10_000).filter(|_| stream.chance(0.25)).count();
        assert!((2_300..2_700).contains(&hits), "{hits} hits of 10000 at p=0.25");
    }

    #[test]
    fn below_stays_in_bounds() {
        let mut stream = SeedTree::new(5).stream("dice");
        assert!((0..1_000).all(|_| stream.below(6) < 6));
        assert_eq!(stream.below(0), 0);
    }

    #[test]
    fn exponential_durations_average_near_their_mean() {
        let mut stream = SeedTree::new(9).stream("arrivals");
        let mean = Duration::from_millis(50);
        let total: Duration = (0..20_000).map(|_| stream.exponential(mean)).sum();
        let average_ms = total.as_secs_f64() * 1_000.0 / 20_000.0;
        assert!((47.0..53.0).contains(&average_ms), "average {average_ms} ms");
    }
}
