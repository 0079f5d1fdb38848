//! Reviewed outcome tables against the model: each `## outcome after step N` section of
//! a snapshot document compared, cell by cell, with what [`super::replay`] predicts.

use super::replay::{predict, Predicted};
use crate::document::{parse_outcome_heading, split_sections};
use crate::fixture::Fixture;
use crate::vocabulary::Proto;

/// The verdict on one outcome section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionCheck {
    /// Every modelled cell agrees (`skipped`: cells the model left out, with why).
    Agrees { cells: usize, skipped: Vec<String> },
    /// The model does not judge this table, and why.
    NotModelled(String),
    /// Cells that disagree: `destination/proto: snapshot X, model Y`.
    Disagrees(Vec<String>),
}

/// One section's result.
#[derive(Debug, Clone)]
pub struct Checked {
    pub step: usize,
    pub check: SectionCheck,
}

/// Compares every outcome section of `document` (a snapshot's body) with the model.
/// `Err`: the whole fixture is not modelled.
pub fn check_document(fixture: &Fixture, document: &str) -> Result<Vec<Checked>, String> {
    let predicted = predict(fixture)?;
    let mut out = Vec::new();
    for (head, body) in split_sections(document) {
        let Some((direction, step)) = parse_outcome_heading(&head) else {
            continue;
        };
        let check = match predicted.iter().find(|p| p.step == step) {
            None => SectionCheck::Disagrees(vec![format!(
                "the model predicts no outcome section after step {step}"
            )]),
            Some(p) if p.direction != direction => SectionCheck::Disagrees(vec![format!(
                "the section after step {step} is headed as flows from {}, the model's are from {}",
                direction.name(),
                p.direction.name()
            )]),
            Some(p) => compare(p, &body),
        };
        out.push(Checked { step, check });
    }
    for p in &predicted {
        if !out.iter().any(|c| c.step == p.step) {
            out.push(Checked {
                step: p.step,
                check: SectionCheck::Disagrees(vec![format!(
                    "the snapshot has no outcome section after step {}",
                    p.step
                )]),
            });
        }
    }
    Ok(out)
}

fn compare(predicted: &Predicted, body: &str) -> SectionCheck {
    let rows = match &predicted.rows {
        Ok(r) => r,
        Err(why) => return SectionCheck::NotModelled(why.clone()),
    };
    let stored: Vec<_> = body
        .lines()
        .skip(1)
        .filter_map(crate::document::parse_outcome_row)
        .collect();
    let mut diffs = Vec::new();
    let mut skipped = Vec::new();
    let mut cells = 0;
    if stored.len() != rows.len() {
        diffs.push(format!(
            "the snapshot has {} rows, the model {}",
            stored.len(),
            rows.len()
        ));
    }
    for (row, (name, address, stored_cells)) in rows.iter().zip(&stored) {
        if &row.name != name || row.address.to_string() != *address {
            diffs.push(format!(
                "row {name} {address}: the model expects {} {}",
                row.name, row.address
            ));
            continue;
        }
        for (i, proto) in Proto::ALL.iter().enumerate() {
            let stored = stored_cells.get(i).map(String::as_str).unwrap_or("-");
            let Some(verdict) = row.cells.get(proto) else {
                if stored != "-" {
                    diffs.push(format!(
                        "{name}/{}: snapshot {stored}, not probed",
                        proto.name()
                    ));
                }
                continue;
            };
            match verdict.cell() {
                None => skipped.push(format!("{name}/{}", proto.name())),
                Some(model) if model == stored => cells += 1,
                Some(model) => diffs.push(format!(
                    "{name} ({address})/{}: snapshot {stored}, model {model}",
                    proto.name()
                )),
            }
        }
    }
    if diffs.is_empty() {
        SectionCheck::Agrees { cells, skipped }
    } else {
        SectionCheck::Disagrees(diffs)
    }
}
