//! The outcome table: one row per destination (or, from `world`, per source), one cell
//! per protocol (the document renders it: [`crate::document::render_table`]).

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::{Direction, Outcome, Proto};

/// One row of an outcome table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeRow {
    pub name: String,
    pub address: IpAddr,
    pub outcomes: BTreeMap<Proto, Outcome>,
    /// What a cell asserts beyond the source address, when it fails: with `--to-ports`,
    /// a translated port outside the ranges, or `--random-fully` not spreading flows.
    /// Rendered after the cell's outcome as `masqueraded!NOTE` (one token, no spaces);
    /// empty whenever the ports are right, so tables read as before.
    pub notes: BTreeMap<Proto, String>,
}

/// The result of one probe step.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OutcomeTable {
    pub rows: Vec<OutcomeRow>,
    /// Where the flows started (names the section and the first column).
    pub direction: Direction,
}
