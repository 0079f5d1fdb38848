//! The outcome table: one row per destination (or, from `world`, per source), one cell
//! per protocol, and its fixed-width rendering.

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

impl OutcomeTable {
    /// Fixed-width text, one destination per line.
    pub fn render(&self) -> String {
        let mut out = format!(
            "{:<14} {:<20} {:<16} {:<16} {}\n",
            self.direction.row_label(),
            "address",
            "udp",
            "tcp",
            "icmp"
        );
        for row in &self.rows {
            let cell = |p: Proto| {
                let text = row
                    .outcomes
                    .get(&p)
                    .map(|o| o.to_string())
                    .unwrap_or_else(|| "-".into());
                match row.notes.get(&p) {
                    // One token, so that tables still split on whitespace.
                    Some(note) => format!("{text}!{note}"),
                    None => text,
                }
            };
            let line = format!(
                "{:<14} {:<20} {:<16} {:<16} {}",
                row.name,
                row.address.to_string(),
                cell(Proto::Udp),
                cell(Proto::Tcp),
                cell(Proto::Icmp)
            );
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_renders_one_line_per_destination() {
        let table = OutcomeTable {
            rows: vec![OutcomeRow {
                name: "internet".into(),
                address: "203.0.113.10".parse().unwrap(),
                outcomes: BTreeMap::from([(Proto::Udp, Outcome::Masqueraded)]),
                notes: BTreeMap::new(),
            }],
            direction: Direction::Pod,
        };
        let text = table.render();
        assert_eq!(text.lines().count(), 2);
        assert!(text.lines().nth(1).unwrap().starts_with("internet "));
    }
}
