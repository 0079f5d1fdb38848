//! Counters reset by a resync. A chain listing's counters hold the flows since the chain
//! was last written, and an implementation that rewrites its chain at every resync (a
//! whole-table restore) can zero them between the probe and the listing. Taken for a
//! listing difference, that race fails an implementation for its period: the runner
//! notices (the chain counted fewer flows than the probe just sent through it, where the
//! snapshot counts them all), zeroes the chain's counters, probes again and lists again,
//! a bounded number of times.

use crate::document::{Body, Heading, Section};
use crate::fixture::Step;
use crate::iptables::IptablesError;
use crate::snapshot::normalize_listing;
use crate::vocabulary::addresses::{
    NODE_MAIN_V4, NODE_MAIN_V6, NODE_POD_SIDE_V4, NODE_POD_SIDE_V6, NODE_V4, NODE_V6,
};
use crate::vocabulary::{Direction, Family, Outcome, OutcomeTable};
use std::net::IpAddr;

use super::error::StepError;
use super::CaseExecution;

/// How many listings a snapshot takes, at most, before it reports a reset.
const ATTEMPTS: usize = 3;

impl CaseExecution<'_> {
    /// The chain's listing in every enabled family, normalised; taken again (after the
    /// previous probe is repeated) when a resync reset its counters.
    pub(super) fn listings(&mut self, chain: &str) -> Result<Vec<Section>, StepError> {
        let mut attempt = 1;
        loop {
            let sections = self.list_chain(chain)?;
            let Some((family, counted, sent)) = self.counters_reset(&sections) else {
                return Ok(sections);
            };
            if attempt >= ATTEMPTS {
                return Err(StepError::CountersReset {
                    family: family.iptables(),
                    counted,
                    sent,
                    attempts: ATTEMPTS,
                });
            }
            attempt += 1;
            eprintln!(
                "note: {}: the {} chain counted {counted} of the {sent} flows the probe sent through it (counters reset by a resync): probing and listing again (attempt {attempt} of {ATTEMPTS})",
                self.spec.name,
                family.iptables()
            );
            // The probe right before this snapshot, again, on zeroed counters (else a
            // reset in the middle of a probe leaves part of it to add to the next): its
            // flows are what the listing counts. Its outcomes were recorded the first time.
            for &family in self.node.families {
                self.node.tables().nat(family, &["-Z", chain])?;
            }
            if let Some(Step::Probe(sel)) = self.previous_step() {
                let sel = sel.clone();
                self.probe_selection(&sel)?;
            }
        }
    }

    fn list_chain(&mut self, chain: &str) -> Result<Vec<Section>, StepError> {
        let mut sections = Vec::new();
        for &family in self.node.families {
            let text = match self.node.tables().list_chain(family, chain) {
                Ok(t) => normalize_listing(&t),
                // A missing chain is an observation, not a runner error.
                Err(IptablesError::Failed { stderr, .. }) => {
                    format!("error: {}\n", stderr.lines().next().unwrap_or(""))
                }
                Err(e) => return Err(e.into()),
            };
            sections.push(Section::listing(self.step_no, family, chain, &text));
        }
        Ok(sections)
    }

    fn previous_step(&self) -> Option<&Step> {
        let steps = &self.spec.fixture.steps;
        self.step_no.checked_sub(2).and_then(|i| steps.get(i))
    }

    /// A family whose chain counted fewer flows than the probe right before this
    /// snapshot sent through it, though the snapshot counts at least that many: `(family,
    /// counted, sent)`.
    fn counters_reset(&self, sections: &[Section]) -> Option<(Family, u64, u64)> {
        let Some(Step::Probe(sel)) = self.previous_step() else {
            return None;
        };
        if sel.direction() != Direction::Pod {
            return None;
        }
        let table = self.out.tables.last()?;
        let expected = self.spec.expected?;
        // A resync rewrites counters, never decisions: when the probe's outcomes differ
        // from the snapshot's, fewer counted flows mean flows that never reached the
        // chain (a rule before the jump), a real difference, not a reset.
        if !outcomes_as_expected(table, self.step_no, &expected.sections) {
            return None;
        }
        sections.iter().find_map(|section| {
            let Heading::Listing { family, .. } = &section.heading else {
                return None;
            };
            let sent = sent_through_chain(table, *family);
            let ours = counted(&section.body.render());
            let snapshot_counts = expected
                .sections
                .iter()
                .find(|s| s.heading == section.heading)
                .map(|s| counted(&s.body.render()))?;
            (ours < sent && snapshot_counts >= sent).then_some((*family, ours, sent))
        })
    }
}

/// Whether every cell of `table` has the outcome of the same cell in the snapshot's
/// outcome table of step `step`, this snapshot's (cells the snapshot does not have are
/// not compared).
fn outcomes_as_expected(table: &OutcomeTable, step: usize, expected: &[Section]) -> bool {
    let Some(snapshot) = expected.iter().find_map(|s| match (&s.heading, &s.body) {
        (
            Heading::Outcome {
                direction,
                step: at,
            },
            Body::Table(t),
        ) if *direction == table.direction && *at == step => Some(t),
        _ => None,
    }) else {
        return true;
    };
    table.rows.iter().all(|row| {
        let Some(want) = snapshot
            .rows
            .iter()
            .find(|r| r.address == row.address && r.name == row.name)
        else {
            return true;
        };
        row.outcomes
            .iter()
            .all(|(proto, got)| want.outcomes.get(proto).is_none_or(|w| w == got))
    })
}

/// The flows of `family` in `table` that arrived (masqueraded or not), except those to
/// the node's own addresses: each other one was a new connection through nat
/// POSTROUTING, so through the chain when the jump is there. A flow to the node is
/// delivered locally (nat INPUT) and never reaches the chain; counting it made every
/// default probe look 3 flows short, so a snapshot whose waived counters add up to more
/// (overlapping rules under `rule-order`) was taken for a reset.
fn sent_through_chain(table: &OutcomeTable, family: Family) -> u64 {
    table
        .rows
        .iter()
        .filter(|r| Family::of(r.address) == family && !is_node_address(r.address))
        .flat_map(|r| r.outcomes.values())
        .filter(|o| matches!(o, Outcome::Masqueraded | Outcome::NotMasqueraded))
        .count() as u64
}

/// One of the node's own addresses: a destination the node delivers locally.
fn is_node_address(addr: IpAddr) -> bool {
    [
        IpAddr::from(NODE_V4),
        IpAddr::from(NODE_V6),
        IpAddr::from(NODE_POD_SIDE_V4),
        IpAddr::from(NODE_POD_SIDE_V6),
        IpAddr::from(NODE_MAIN_V4),
        IpAddr::from(NODE_MAIN_V6),
    ]
    .contains(&addr)
}

/// The packets a normalised listing's rules counted, in all.
fn counted(listing: &str) -> u64 {
    listing
        .lines()
        .filter_map(|l| l.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocabulary::{OutcomeRow, Proto};

    /// A row whose every protocol had `outcome`.
    fn row(address: &str, outcome: Outcome) -> OutcomeRow {
        OutcomeRow {
            name: address.into(),
            address: address.parse().unwrap(),
            outcomes: Proto::ALL.iter().map(|p| (*p, outcome)).collect(),
            notes: Default::default(),
        }
    }

    #[test]
    fn only_arrived_flows_of_the_family_went_through_the_chain() {
        let table = OutcomeTable {
            rows: vec![
                row("10.96.0.10", Outcome::NotMasqueraded),
                row("203.0.113.10", Outcome::Masqueraded),
                row("198.51.100.7", Outcome::Dropped),
                row("2001:db8::10", Outcome::Masqueraded),
            ],
            direction: Direction::Pod,
        };
        assert_eq!(sent_through_chain(&table, Family::V4), 6);
        assert_eq!(sent_through_chain(&table, Family::V6), 3);
    }

    #[test]
    fn flows_to_the_node_never_count_as_sent_through_the_chain() {
        // The default probe's node rows arrive unmasqueraded, but through nat INPUT.
        let table = OutcomeTable {
            rows: vec![
                row("10.96.0.10", Outcome::NotMasqueraded),
                row("198.51.100.1", Outcome::NotMasqueraded),
                row("2001:db8:1::1", Outcome::NotMasqueraded),
            ],
            direction: Direction::Pod,
        };
        assert_eq!(sent_through_chain(&table, Family::V4), 3);
        assert_eq!(sent_through_chain(&table, Family::V6), 0);
    }

    #[test]
    fn counts_add_up_over_the_rules_only() {
        let listing = "Chain X (1 references)\npkts target prot opt in out source destination\n3 RETURN all -- * * 0.0.0.0/0 10.0.0.0/8\n2 MASQUERADE all -- * * 0.0.0.0/0 0.0.0.0/0\n";
        assert_eq!(super::counted(listing), 5);
        assert_eq!(
            super::counted("error: No chain/target/match by that name.\n"),
            0
        );
    }

    #[test]
    fn outcomes_other_than_the_snapshots_are_no_reset() {
        let table = |outcome| OutcomeTable {
            rows: vec![
                row("10.96.0.10", outcome),
                row("203.0.113.10", Outcome::Masqueraded),
            ],
            direction: Direction::Pod,
        };
        let snapshot = [Section {
            heading: Heading::Outcome {
                direction: Direction::Pod,
                step: 4,
            },
            body: Body::Table(table(Outcome::NotMasqueraded)),
        }];
        assert!(outcomes_as_expected(
            &table(Outcome::NotMasqueraded),
            4,
            &snapshot
        ));
        // A rule before the jump masquerades 10.96.0.10: those flows never reach the
        // chain, and that is a difference to report, not a reset to retry.
        assert!(!outcomes_as_expected(
            &table(Outcome::Masqueraded),
            4,
            &snapshot
        ));
        // Another step's table is not this snapshot's.
        assert!(outcomes_as_expected(
            &table(Outcome::Masqueraded),
            5,
            &snapshot
        ));
    }
}
