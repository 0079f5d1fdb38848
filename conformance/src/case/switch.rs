//! Switching datapaths: rules another datapath left on the node (`preload-nftables`; the
//! iptables ones are `preload`), and probing while the implementation starts over them
//! (`start-and-probe`), to show that outcomes are never wrong in between.

use crate::document::Section;
use std::time::{Duration, Instant};

use super::error::StepError;
use super::CaseExecution;
use crate::document::render_table;
use crate::fixture::{ProbeSelection, Step};
use crate::nftables::NodeNft;

/// Fewer rounds than this show nothing about the switch: the case's error.
const MIN_ROUNDS: usize = 2;

impl CaseExecution<'_> {
    /// Runs the script with `nft -f -` in the node (the runner's own nft).
    pub(super) fn preload_nftables(&mut self, script: &str) -> Result<(), StepError> {
        let nft = NodeNft {
            ns: self.node.sandbox.node.file(),
            table: None,
        };
        nft.run(&["-f", "-"], Some(script))?;
        Ok(())
    }

    /// Starts the implementation, then probes the last probe step's selection for
    /// `duration`, round after round, and records whether every round showed that step's
    /// table.
    pub(super) fn start_and_probe(&mut self, duration: Duration) -> Result<(), StepError> {
        let selection = self.last_probe_selection().ok_or_else(|| {
            StepError::Misuse("start-and-probe needs a probe step before it".into())
        })?;
        let unbound = self.ipv6_cells_unbound();
        let bound = |t: &crate::vocabulary::OutcomeTable| {
            let mut t = t.clone();
            t.rows.retain(|r| !(unbound && r.address.is_ipv6()));
            t
        };
        let before = self.out.tables.last().map(bound).ok_or_else(|| {
            StepError::Misuse("start-and-probe needs a probe step before it".into())
        })?;
        self.start()?;
        let deadline = Instant::now() + duration;
        let (mut rounds, mut first_difference) = (0usize, None);
        while Instant::now() < deadline {
            self.implementation.check_alive()?;
            let table = bound(&self.probe_selection(&selection)?);
            rounds += 1;
            if table != before && first_difference.is_none() {
                first_difference = Some((rounds, differing_lines(&before, &table)));
            }
        }
        if std::env::var_os("MASQ_CONFORMANCE_TRACE").is_some() {
            eprintln!(
                "trace: {}: start-and-probe: {rounds} rounds in {duration:?}",
                self.spec.name
            );
        }
        if rounds < MIN_ROUNDS {
            return Err(StepError::Misuse(format!(
                "start-and-probe: only {rounds} probe round(s) in {duration:?}: give it longer"
            )));
        }
        // How many rounds fit varies with the machine; whether one differed does not.
        let verdict = match first_difference {
            None => "yes".to_string(),
            Some((round, lines)) => format!("no: round {round} showed\n{lines}"),
        };
        self.out.document.push(Section::note(
            "start-and-probe",
            self.step_no,
            format!("every probe round for {duration:?} after the start showed the outcomes of the probe before it: {verdict}\n"),
        ));
        Ok(())
    }

    /// The selection of the last probe step before the current one.
    fn last_probe_selection(&self) -> Option<ProbeSelection> {
        self.spec.fixture.steps[..self.step_no.saturating_sub(1)]
            .iter()
            .rev()
            .find_map(|s| match s {
                Step::Probe(sel) => Some(sel.clone()),
                _ => None,
            })
    }
}

/// The lines of `after`'s rendering that are not in `before`'s.
fn differing_lines(
    before: &crate::vocabulary::OutcomeTable,
    after: &crate::vocabulary::OutcomeTable,
) -> String {
    let old = render_table(before);
    render_table(after)
        .lines()
        .filter(|l| !old.lines().any(|o| o == *l))
        .map(|l| format!("{l}\n"))
        .collect()
}
