//! Reload latency: how long after a ConfigMap update the implementation's new rules
//! decide new flows. Measured from the publication to the first new flow that shows the
//! new config's outcome, over many publications; reported, never snapshotted.

use crate::document::Section;
use std::time::{Duration, Instant};

use super::error::StepError;
use super::CaseExecution;
use crate::fixture::targets::all_targets;
use crate::fixture::{ConfigSource, ReloadLatency};
use crate::poll::MAX_WAIT;
use crate::probe;
use crate::probe::ProbeSpec;
use crate::vocabulary::{Outcome, Proto};

/// How long one flow may take to arrive before it counts as not (yet) arrived.
const FLOW_WAIT: Duration = Duration::from_millis(100);
/// The pause between flows while waiting for the new outcome.
const BETWEEN_FLOWS: Duration = Duration::from_millis(5);
/// The slack beyond one resync period that one publication may take to apply.
const SLACK: Duration = Duration::from_secs(5);

/// The p50 and p99 of a set of latencies (nearest rank).
pub fn percentiles(latencies: &[Duration]) -> Option<(Duration, Duration)> {
    let mut sorted = latencies.to_vec();
    sorted.sort();
    let rank = |p: f64| {
        let i = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        sorted[i - 1]
    };
    (!sorted.is_empty()).then(|| (rank(0.50), rank(0.99)))
}

impl CaseExecution<'_> {
    /// One new UDP flow to `address`: its outcome.
    fn flow_outcome(&mut self, address: std::net::IpAddr) -> Result<Outcome, StepError> {
        let spec = [ProbeSpec {
            address,
            proto: Proto::Udp,
            source: None,
        }];
        let tokens = probe::send_from_pod(self.node.sandbox.pod.file(), &spec, FLOW_WAIT)?;
        let seen = self
            .traffic
            .receivers
            .wait_for(&tokens, Instant::now() + FLOW_WAIT);
        Ok(seen
            .get(&tokens[0])
            .map(|a| crate::vocabulary::direction::classify(*a))
            .unwrap_or(Outcome::Dropped))
    }

    pub(super) fn reload_latency(&mut self, r: &ReloadLatency) -> Result<(), StepError> {
        let current: ConfigSource = self.waits.current.clone().ok_or_else(|| {
            StepError::Misuse("reload-latency needs a config published before it".into())
        })?;
        let address = all_targets(self.spec.fixture)
            .into_iter()
            .find(|t| t.name == r.destination)
            .map(|t| t.address)
            .ok_or_else(|| StepError::Misuse(format!("unknown destination {:?}", r.destination)))?;
        // The fixture's promise: one resyncInterval of the configs it publishes (then
        // `act_within` to act), whatever period the profile declares.
        let promised =
            r.to.resync_interval
                .max(self.waits.resync)
                .unwrap_or(self.period())
                + self.spec.profile.act_within();
        let bound = (promised + SLACK).min(MAX_WAIT);
        let before = self.flow_outcome(address)?;
        let mut after: Option<Outcome> = None;
        let mut latencies = Vec::new();
        for swap in 0..r.swaps {
            let (source, want) = if swap % 2 == 0 {
                (&r.to, after)
            } else {
                (&current, Some(before))
            };
            let published = Instant::now();
            self.node.publish_source(source)?;
            loop {
                self.implementation.check_alive()?;
                let seen = self.flow_outcome(address)?;
                let applied = match &want {
                    Some(w) => seen == *w,
                    // The first time: any decided outcome other than the old one.
                    None => seen != before && seen != Outcome::Dropped,
                };
                if applied {
                    latencies.push(published.elapsed());
                    after.get_or_insert(seen);
                    break;
                }
                if published.elapsed() > bound {
                    return Err(StepError::ConfigNotApplied {
                        swap: swap + 1,
                        within: bound,
                        destination: r.destination.clone(),
                        seen: seen.to_string(),
                    });
                }
                std::thread::sleep(BETWEEN_FLOWS);
            }
        }
        if let Some((p50, _)) = percentiles(&latencies) {
            if p50 > promised {
                return Err(StepError::ReloadTooSlow {
                    p50,
                    promised,
                    destination: r.destination.clone(),
                });
            }
        }
        self.out.reload_latencies.extend(latencies);
        self.out.document.push(Section::note(
            "reload-latency",
            self.step_no,
            format!(
                "{} publications, each applied: new flows to {} changed outcome\n",
                r.swaps, r.destination
            ),
        ));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let ms = |v: &[u64]| {
            v.iter()
                .map(|m| Duration::from_millis(*m))
                .collect::<Vec<_>>()
        };
        let (p50, p99) = percentiles(&ms(&[5, 1, 4, 2, 3])).unwrap();
        assert_eq!(
            (p50, p99),
            (Duration::from_millis(3), Duration::from_millis(5))
        );
        let twenty: Vec<u64> = (1..=20).collect();
        let (p50, p99) = percentiles(&ms(&twenty)).unwrap();
        assert_eq!(
            (p50, p99),
            (Duration::from_millis(10), Duration::from_millis(20))
        );
        assert_eq!(percentiles(&[]), None);
    }
}
