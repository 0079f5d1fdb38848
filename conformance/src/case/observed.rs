//! The implementation's read period as observed, for the waits that rest on reads the
//! runner cannot see (`wait: {unobservable-resyncs: N}`: an absent file, a directory, a
//! symlink loop). Without the profile's `resync_period`, such a wait used to count the
//! config's `resyncInterval`, a hint the implementation may not follow: an
//! implementation that reads every 60 s passed cases whose bad input it never read. The
//! reads of the version before tell: when the implementation left it unread for longer
//! than the hint allows, the wait counts the longest period it was seen to take, and a
//! case whose reads never showed a whole such period cannot be judged.

use std::time::{Duration, Instant};

/// What the reads of one version say of the period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// They agree with the hint (or are too few to contradict it).
    AsHinted,
    /// Longer than the hint: the longest whole period seen between two reads.
    Observed(Duration),
    /// Longer than the hint, and never seen whole: the version went `unread` that long
    /// before it was replaced.
    Unknown { unread: Duration },
}

/// How far beyond the hint a read may come before it contradicts the hint: twice the
/// hint, and a quarter second for a loaded machine.
pub fn tolerance(hint: Duration) -> Duration {
    hint.saturating_mul(2) + Duration::from_millis(250)
}

/// Judges the period from one version's life: `published` at, read at `reads` (as the
/// runner timed them), replaced at `replaced`.
pub fn judge(hint: Duration, published: Instant, reads: &[Instant], replaced: Instant) -> Period {
    let mut reads: Vec<Instant> = reads.iter().copied().filter(|r| *r <= replaced).collect();
    reads.sort();
    let longest = reads.windows(2).map(|w| w[1] - w[0]).max();
    let unread = replaced - reads.last().copied().unwrap_or(published);
    let tolerated = tolerance(hint);
    if unread <= tolerated && longest.is_none_or(|l| l <= tolerated) {
        return Period::AsHinted;
    }
    match longest {
        Some(l) if l >= unread && l > tolerated => Period::Observed(l),
        _ if unread <= tolerated => Period::AsHinted,
        _ => Period::Unknown { unread },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(t0: Instant, ms: &[u64]) -> Vec<Instant> {
        ms.iter().map(|m| t0 + Duration::from_millis(*m)).collect()
    }

    #[test]
    fn reads_at_the_hinted_period_agree_with_it() {
        let t0 = Instant::now();
        let hint = Duration::from_millis(300);
        let reads = at(t0, &[10, 310, 620, 900]);
        let replaced = t0 + Duration::from_millis(1100);
        assert_eq!(judge(hint, t0, &reads, replaced), Period::AsHinted);
    }

    #[test]
    fn a_longer_period_is_used_once_seen_whole() {
        let t0 = Instant::now();
        let hint = Duration::from_millis(300);
        let reads = at(t0, &[10, 2010, 4010]);
        let replaced = t0 + Duration::from_millis(5000);
        assert_eq!(
            judge(hint, t0, &reads, replaced),
            Period::Observed(Duration::from_secs(2))
        );
    }

    #[test]
    fn a_version_left_unread_longer_than_any_period_seen_leaves_it_unknown() {
        let t0 = Instant::now();
        let hint = Duration::from_millis(300);
        // One read at start, then nothing for 3 s (a 60 s period).
        let reads = at(t0, &[10]);
        let replaced = t0 + Duration::from_millis(3010);
        assert_eq!(
            judge(hint, t0, &reads, replaced),
            Period::Unknown {
                unread: Duration::from_secs(3)
            }
        );
        // Never read at all: unknown too.
        assert!(matches!(
            judge(hint, t0, &[], replaced),
            Period::Unknown { .. }
        ));
    }
}
