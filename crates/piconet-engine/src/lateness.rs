//! How late lease reverts were: the fail-safe's own figure of merit,
//! reported by `get_info` so it can be watched on a live board.

use core::time::Duration;

/// Sub-buckets per power of two: percentiles are exact to within 1/8.
const SUB: usize = 8;
/// Powers of two of microseconds covered: up to about 1.1 hours.
const OCTAVES: usize = 32;

/// A fixed-size histogram of revert lateness in microseconds
/// (log-linear buckets, no allocation, about 1 KiB).
#[derive(Clone, Debug)]
pub struct Lateness {
    counts: [u32; SUB * OCTAVES],
    total: u64,
    max_us: u64,
}

impl Default for Lateness {
    fn default() -> Self {
        Lateness {
            counts: [0; SUB * OCTAVES],
            total: 0,
            max_us: 0,
        }
    }
}

fn bucket(us: u64) -> usize {
    if us < SUB as u64 {
        return us as usize;
    }
    let octave = 63 - us.leading_zeros() as usize; // >= 3
    let shift = octave - SUB.trailing_zeros() as usize;
    let sub = ((us >> shift) as usize) & (SUB - 1);
    ((octave - 2) * SUB + sub).min(SUB * OCTAVES - 1)
}

/// The largest value that falls in bucket `b`.
fn upper(b: usize) -> u64 {
    if b < SUB {
        return b as u64;
    }
    let octave = b / SUB + 2;
    let sub = (b % SUB) as u64;
    let shift = octave - SUB.trailing_zeros() as usize;
    ((SUB as u64 + sub + 1) << shift) - 1
}

impl Lateness {
    /// Record one revert `late` after its deadline.
    pub fn record(&mut self, late: Duration) {
        let us = u64::try_from(late.as_micros()).unwrap_or(u64::MAX);
        self.counts[bucket(us)] = self.counts[bucket(us)].saturating_add(1);
        self.total += 1;
        self.max_us = self.max_us.max(us);
    }

    /// Reverts recorded.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// The latest revert, in microseconds.
    pub fn max_us(&self) -> u64 {
        self.max_us
    }

    /// An upper bound of the `p`-th percentile (0–100), in microseconds.
    pub fn percentile_us(&self, p: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        // ceil() without std.
        let exact = (p / 100.0) * self.total as f64;
        let mut rank = exact as u64;
        if (rank as f64) < exact {
            rank += 1;
        }
        let rank = rank.max(1);
        let mut seen = 0u64;
        for (b, &c) in self.counts.iter().enumerate() {
            seen += u64::from(c);
            if seen >= rank {
                return upper(b).min(self.max_us);
            }
        }
        self.max_us
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_ordered_and_tight() {
        let mut prev = 0;
        for us in 0..100_000u64 {
            let b = bucket(us);
            assert!(b >= prev, "{us}");
            assert!(upper(b) >= us, "{us} in bucket {b} up to {}", upper(b));
            assert!(upper(b) <= us + us / SUB as u64 + 1, "{us}: {}", upper(b));
            prev = b;
        }
        assert_eq!(bucket(u64::MAX), SUB * OCTAVES - 1);
    }

    #[test]
    fn percentiles_of_a_known_sample() {
        let mut l = Lateness::default();
        assert_eq!(l.percentile_us(99.0), 0);
        for us in 1..=1000u64 {
            l.record(Duration::from_micros(us));
        }
        assert_eq!(l.count(), 1000);
        assert_eq!(l.max_us(), 1000);
        let p50 = l.percentile_us(50.0);
        assert!((500..=563).contains(&p50), "{p50}");
        let p99 = l.percentile_us(99.0);
        assert!((990..=1000).contains(&p99), "{p99}");
        assert_eq!(l.percentile_us(100.0), 1000);
    }
}
