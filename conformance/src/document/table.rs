//! An outcome table as the document writes it: fixed-width text, one row per line, and
//! the reading of it back into an [`OutcomeTable`].

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::vocabulary::{Direction, Outcome, OutcomeRow, OutcomeTable, Proto};

/// Fixed-width text, one destination per line.
pub fn render_table(table: &OutcomeTable) -> String {
    let mut out = format!(
        "{:<14} {:<20} {:<16} {:<16} {}\n",
        table.direction.row_label(),
        "address",
        "udp",
        "tcp",
        "icmp"
    );
    for row in &table.rows {
        let line = format!(
            "{:<14} {:<20} {:<16} {:<16} {}",
            row.name,
            row.address.to_string(),
            cell_text(row, Proto::Udp),
            cell_text(row, Proto::Tcp),
            cell_text(row, Proto::Icmp)
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A cell as written: the outcome (`-` when not probed) and, glued on with `!`, what it
/// asserts beyond the address when that failed (one token, so rows split on whitespace).
pub fn cell_text(row: &OutcomeRow, proto: Proto) -> String {
    let text = row
        .outcomes
        .get(&proto)
        .map(|o| o.to_string())
        .unwrap_or_else(|| "-".into());
    match row.notes.get(&proto) {
        Some(note) => format!("{text}!{note}"),
        None => text,
    }
}

/// Reads a table [`render_table`] wrote; `None` for any other text.
pub(super) fn parse_table(direction: Direction, body: &str) -> Option<OutcomeTable> {
    let mut lines = body.lines();
    lines.next()?;
    let rows = lines.map(parse_row).collect::<Option<Vec<_>>>()?;
    let table = OutcomeTable { rows, direction };
    (render_table(&table) == body).then_some(table)
}

/// A row: its name (`flow NAME` for a flow row), its address and a cell per protocol.
fn parse_row(line: &str) -> Option<OutcomeRow> {
    let mut tokens = line.split_whitespace();
    let mut name = tokens.next()?.to_string();
    if name == "flow" {
        name = format!("flow {}", tokens.next()?);
    }
    let address: IpAddr = tokens.next()?.parse().ok()?;
    let mut outcomes = BTreeMap::new();
    let mut notes = BTreeMap::new();
    for proto in Proto::ALL {
        let Some(token) = tokens.next() else {
            break;
        };
        let (word, note) = match token.split_once('!') {
            Some((w, n)) => (w, Some(n)),
            None => (token, None),
        };
        let outcome = match word {
            "-" => None,
            "masqueraded" => Some(Outcome::Masqueraded),
            "not-masqueraded" => Some(Outcome::NotMasqueraded),
            "dropped" => Some(Outcome::Dropped),
            "unexpected" => {
                let next = tokens.next()?;
                let (addr, n) = match next.split_once('!') {
                    Some((a, n)) => (a, Some(n)),
                    None => (next, None),
                };
                if let Some(n) = n {
                    notes.insert(proto, n.to_string());
                }
                Some(Outcome::Unexpected(addr.parse().ok()?))
            }
            _ => return None,
        };
        if let Some(o) = outcome {
            outcomes.insert(proto, o);
        }
        if let Some(n) = note {
            notes.insert(proto, n.to_string());
        }
    }
    if tokens.next().is_some() {
        return None;
    }
    Some(OutcomeRow {
        name,
        address,
        outcomes,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_renders_one_line_per_destination_and_reads_back() {
        let table = OutcomeTable {
            rows: vec![OutcomeRow {
                name: "internet".into(),
                address: "203.0.113.10".parse().unwrap(),
                outcomes: BTreeMap::from([
                    (Proto::Udp, Outcome::Masqueraded),
                    (
                        Proto::Icmp,
                        Outcome::Unexpected("10.9.9.9".parse().unwrap()),
                    ),
                ]),
                notes: BTreeMap::from([(Proto::Udp, "port-40000".to_string())]),
            }],
            direction: Direction::Pod,
        };
        let text = render_table(&table);
        assert_eq!(text.lines().count(), 2);
        assert!(text.lines().nth(1).unwrap().starts_with("internet "));
        assert_eq!(parse_table(Direction::Pod, &text), Some(table));
        assert_eq!(parse_table(Direction::World, &text), None);
    }
}
