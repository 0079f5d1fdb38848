//! A fixture's steps run through the model: the outcome tables a conforming
//! implementation must produce, section by section, with "not modelled" where the spec
//! leaves the answer to timing, faults or an implementation's own choices.

use std::collections::BTreeMap;

use super::{decide, pod_source, Effective, Flags, History, ModelVerdict, Published};
use crate::fixture::targets::{selected_protocols, selected_targets};
use crate::fixture::{Fixture, SnapshotPart, Step};
use crate::vocabulary::Direction;
use crate::vocabulary::Proto;
use crate::vocabulary::Target;

/// What the nat table holds, as the model knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kernel {
    /// The rules of this configuration (`None`: no rules at all).
    Rules(Option<Effective>),
    /// The chain or its jump was just damaged: the next resync races every probe.
    TamperedPending,
    /// Damaged, and a wait passed without a resync (§5: a bad config means none):
    /// nothing is masqueraded.
    Tampered,
    /// Unknown until the next wait, or for good, and why.
    Unknown(String),
}

/// One predicted row: a destination and a verdict per probed protocol.
#[derive(Debug, Clone)]
pub struct PredictedRow {
    pub name: String,
    pub address: std::net::IpAddr,
    pub cells: BTreeMap<Proto, ModelVerdict>,
}

/// The predicted table of one `## outcome after step N` section.
#[derive(Debug, Clone)]
pub struct Predicted {
    /// The snapshot step's number (the section's heading).
    pub step: usize,
    /// Where the table's flows started (also in the heading).
    pub direction: Direction,
    /// `Err(why)`: the whole table is not modelled.
    pub rows: Result<Vec<PredictedRow>, String>,
}

/// Why a whole fixture is not modelled, if it is not.
pub fn unmodelled_fixture(fixture: &Fixture) -> Option<String> {
    if fixture.config_files_needed() > 1 {
        return Some(
            "several config files (docs/spec.md §9): only one-file behaviour is modelled".into(),
        );
    }
    None
}

/// Predicts every outcome section of `fixture`, in order.
pub fn predict(fixture: &Fixture) -> Result<Vec<Predicted>, String> {
    if let Some(why) = unmodelled_fixture(fixture) {
        return Err(why);
    }
    let flags = fixture.typed_flags.clone()?;
    let mut history = History::default();
    let mut published = Published::Absent;
    // Before start nothing is written; after start, nothing is known until a wait.
    let mut kernel = Kernel::Rules(None);
    let mut running = false;
    let mut pending = false;
    let mut stopped = false;
    let mut last: Option<(Direction, Result<Vec<PredictedRow>, String>)> = None;
    let mut out = Vec::new();
    let explicit_start = fixture
        .steps
        .iter()
        .any(|s| matches!(s, Step::Start(_) | Step::StartAndProbe(_)));
    for (i, step) in fixture.steps.iter().enumerate() {
        let n = i + 1;
        if !explicit_start
            && !running
            && !stopped
            && !matches!(
                step,
                Step::Config(_) | Step::Preload(_) | Step::PreloadNftables(_)
            )
        {
            running = true;
            if !forever(&kernel) {
                kernel = Kernel::Unknown("no wait since the implementation started".into());
            }
        }
        match step {
            Step::Config(source) => {
                // Read at some point before the next wait ends; until then the table races
                // the implementation's next read.
                published = Published::from(&source.content);
                pending = true;
                if running && !forever(&kernel) {
                    kernel = Kernel::Unknown(format!("no wait since the config of step {n}"));
                }
            }
            Step::Start(_) | Step::StartAndProbe(_) => {
                // (What start-and-probe sees during the start is timing, not modelled.)
                running = true;
                if !forever(&kernel) {
                    kernel = Kernel::Unknown("no wait since the implementation started".into());
                }
            }
            Step::Wait(_) => {
                if !running {
                    continue;
                }
                if pending {
                    history.publish(&published, &flags);
                    pending = false;
                }
                kernel = match kernel {
                    k if forever(&k) => k,
                    // §5: a bad config means no resync that round: the damage stays.
                    Kernel::Tampered | Kernel::TamperedPending if !resyncs(&published, &flags) => {
                        Kernel::Tampered
                    }
                    _ => match history.rules() {
                        Ok(r) => Kernel::Rules(r.cloned()),
                        Err(why) => Kernel::Unknown(format!("for good: {why}")),
                    },
                };
            }
            Step::Tamper(_) => {
                if !forever(&kernel) {
                    kernel = Kernel::TamperedPending;
                }
            }
            Step::Probe(sel) => {
                let targets = selected_targets(fixture, sel);
                let protos = selected_protocols(sel);
                let direction = sel.direction();
                last = Some((
                    direction,
                    table(&kernel, &flags, direction, &targets, &protos),
                ));
            }
            Step::FlowOpen(_) | Step::FlowProbe(_) => {
                // §5: conntrack keeps a flow's NAT decision; which decision was taken when
                // the flow opened is timing, not behaviour.
                last = Some((
                    Direction::Pod,
                    Err("an established flow (conntrack keeps its old decision)".into()),
                ));
            }
            Step::ConntrackFlush(_) => {}
            Step::Terminate(_) => {
                // §5: on SIGTERM the agent exits and leaves its rules in place.
                running = false;
                stopped = true;
            }
            Step::Preload(_) | Step::PreloadNftables(_) => {
                kernel = Kernel::Unknown("for good: rules preloaded by the fixture".into())
            }
            Step::Fault(_) => kernel = Kernel::Unknown("for good: a fault was injected".into()),
            Step::ReloadLatency(r) => {
                // Every publication was seen applied; an odd number of them ends on `to`.
                if r.swaps % 2 == 1 {
                    published = Published::from(&r.to.content);
                    history.publish(&published, &flags);
                    pending = false;
                }
                if running && !forever(&kernel) {
                    kernel = match history.rules() {
                        Ok(rules) => Kernel::Rules(rules.cloned()),
                        Err(why) => Kernel::Unknown(format!("for good: {why}")),
                    };
                }
            }
            Step::Snapshot(sel) => {
                if sel.parts().contains(&SnapshotPart::Outcome) {
                    let (direction, rows) = last.clone().unwrap_or_else(|| {
                        (Direction::Pod, Err("no probe before this snapshot".into()))
                    });
                    out.push(Predicted {
                        step: n,
                        direction,
                        rows,
                    });
                }
            }
        }
    }
    Ok(out)
}

/// Whether nothing the fixture does later makes the table known again.
fn forever(kernel: &Kernel) -> bool {
    matches!(kernel, Kernel::Unknown(w) if w.starts_with("for good"))
}

/// Whether reading `published` resyncs the rules (§5: only a good config does).
fn resyncs(published: &Published, flags: &Flags) -> bool {
    matches!(super::read(published, flags), super::Reading::Good(_))
}

fn table(
    kernel: &Kernel,
    flags: &Flags,
    direction: Direction,
    targets: &[Target],
    protos: &[Proto],
) -> Result<Vec<PredictedRow>, String> {
    let rules = match kernel {
        Kernel::Rules(r) => r.as_ref(),
        Kernel::Tampered => None, // a flushed chain or a missing jump masquerades nothing
        Kernel::TamperedPending => {
            return Err("probed right after a tamper: races the next resync".into())
        }
        Kernel::Unknown(why) => return Err(why.clone()),
    };
    Ok(targets
        .iter()
        .map(|t| {
            // §6: each direction's flow, decided by the same rules.
            let (source, destination) = direction.endpoints(t.address);
            let source = source.unwrap_or_else(|| pod_source(destination));
            PredictedRow {
                name: t.name.clone(),
                address: t.address,
                cells: protos
                    .iter()
                    .map(|p| (*p, decide(rules, flags, source, destination, *p)))
                    .collect(),
            }
        })
        .collect())
}
