//! Reviewed outcome tables against the model: each `## outcome after step N` section of
//! a snapshot document compared, cell by cell, with what [`super::replay`] predicts.

use super::replay::{predict, Predicted};
use crate::document::{cell_text, Body, Document, Heading};
use crate::fixture::Fixture;
use crate::vocabulary::{OutcomeTable, Proto};

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
pub fn check_document(fixture: &Fixture, document: &Document) -> Result<Vec<Checked>, String> {
    let predicted = predict(fixture)?;
    let mut out = Vec::new();
    for section in &document.sections {
        let Heading::Outcome { direction, step } = section.heading else {
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
            Some(p) => match &section.body {
                Body::Table(table) => compare(p, table),
                Body::Text(_) => SectionCheck::Disagrees(vec![format!(
                    "the outcome section after step {step} is not a table as the runner writes them"
                )]),
            },
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

fn compare(predicted: &Predicted, table: &OutcomeTable) -> SectionCheck {
    let rows = match &predicted.rows {
        Ok(r) => r,
        Err(why) => return SectionCheck::NotModelled(why.clone()),
    };
    let stored = &table.rows;
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
    for (row, stored_row) in rows.iter().zip(stored) {
        let (name, address) = (&stored_row.name, stored_row.address);
        if &row.name != name || row.address != address {
            diffs.push(format!(
                "row {name} {address}: the model expects {} {}",
                row.name, row.address
            ));
            continue;
        }
        for proto in Proto::ALL.iter() {
            let stored = cell_text(stored_row, *proto);
            let stored = stored.as_str();
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
