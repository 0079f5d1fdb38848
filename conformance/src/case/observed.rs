//! The implementation's read period as observed, for the waits that rest on reads the
//! runner cannot see (`wait: {unobservable-resyncs: N}`: an absent file, a directory, a
//! symlink loop). Without the profile's `resync_period`, such a wait used to count the
//! config's `resyncInterval`, a hint the implementation may not follow: an
//! implementation that reads every 60 s passed cases whose bad input it never read. The
//! reads of the version before tell: when the implementation left it unread for longer
//! than the hint allows, the wait counts the longest period it was seen to take, and a
//! case whose reads never showed a whole such period cannot be judged.
//!
//! What the runner measured of a case's timing ([`Measurements`]: each interval between
//! reads, each delay from a read to the change of the rules, and what the waits made of
//! them) goes into the trial's record, the report and the closing lines, not only stderr.

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

/// What the runner measured of one case's timing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Measurements {
    /// The reads the runner saw, of every version it could see read (reads within
    /// [`SAME_READ`] of each other count once).
    pub reads: usize,
    /// Each interval between two reads of one published version ([`read_intervals`]).
    pub read_periods: Vec<Duration>,
    /// Each delay from the first read of a config to the change of the rules it caused
    /// (measured by `wait: rules-changed`, so at most a poll late).
    pub act_delays: Vec<Duration>,
    /// What the waits made of them, as the run says it: an observed period that replaced
    /// the config's hint, an act later than `act_within`.
    pub notes: Vec<String>,
}

/// Reads closer together than this are one read (several files of one version, or the
/// events of one read drained apart).
const SAME_READ: Duration = Duration::from_millis(50);

/// The intervals between the reads of one version (the runner's times of them, in any
/// order), reads within [`SAME_READ`] of the one before counting once: one fewer than
/// the reads it counts, for a version read at all.
pub fn read_intervals(reads: &[Instant]) -> Vec<Duration> {
    let mut reads = reads.to_vec();
    reads.sort();
    let mut out = Vec::new();
    let mut last: Option<Instant> = None;
    for r in reads {
        match last {
            Some(l) if r - l < SAME_READ => continue,
            Some(l) => out.push(r - l),
            None => {}
        }
        last = Some(r);
    }
    out
}

/// The median and the largest of some samples, and how many.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub samples: usize,
    pub median: Duration,
    pub max: Duration,
}

/// `None` without samples; the median of an even count is the upper middle one.
pub fn stat(samples: &[Duration]) -> Option<Stat> {
    let mut sorted = samples.to_vec();
    sorted.sort();
    Some(Stat {
        samples: sorted.len(),
        median: *sorted.get(sorted.len() / 2)?,
        max: *sorted.last()?,
    })
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

    #[test]
    fn reads_close_together_count_once_and_stats_take_the_median_and_max() {
        let t0 = Instant::now();
        // Two files of one version read 10 ms apart, then every 300 ms.
        let reads = at(t0, &[600, 0, 10, 300, 900]);
        let ms = |m| Duration::from_millis(m);
        assert_eq!(read_intervals(&reads), vec![ms(300), ms(300), ms(300)]);
        assert_eq!(stat(&[]), None);
        let s = stat(&[ms(5), ms(1), ms(9), ms(2)]).unwrap();
        assert_eq!((s.samples, s.median, s.max), (4, ms(5), ms(9)));
    }
}
