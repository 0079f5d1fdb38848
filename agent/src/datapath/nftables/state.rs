//! Is a listing (`nft list table inet T`) exactly the table a sync meant to leave? Pure.
//!
//! The nftables datapath sends no transaction when nothing changed: the desired scripts
//! equal the last applied ones AND the kernel's listing equals the one captured right
//! after that apply (docs/nftables-datapath.md, "Unchanged syncs"). The captured listing
//! is trusted only if [`is_expected`] says it holds exactly our set elements and our
//! rules: a hand edit landing between our apply and our capture is then not taken for our
//! table (it makes the capture be refused, so the next sync applies again). What this
//! cannot see is a change that keeps every element and every rule's comment (a rule
//! edited in place with our comment kept, made in those few milliseconds); the next config
//! change or restart heals that.

use super::{Expected, OWNER_COMMENT};

/// An element as nft lists it: a one-address prefix is printed as the bare address.
fn listed_form(element: &str) -> &str {
    element
        .strip_suffix("/32")
        .filter(|a| !a.contains(':'))
        .or_else(|| element.strip_suffix("/128").filter(|a| a.contains(':')))
        .unwrap_or(element)
}

/// The lines of the block that starts at the line `header` (trimmed), up to its closing
/// `}` (the first `}` line indented as the header: nft indents nested blocks deeper);
/// `None` when there is no such block.
fn block<'a>(lines: &[&'a str], header: &str) -> Option<Vec<&'a str>> {
    let start = lines.iter().position(|l| l.trim() == header)?;
    let indent = &lines[start][..lines[start].len() - lines[start].trim_start().len()];
    let close = format!("{indent}}}");
    let mut out = Vec::new();
    for l in &lines[start + 1..] {
        if l.trim_end() == close {
            return Some(out);
        }
        out.push(*l);
    }
    None
}

/// The elements a set block lists (`elements = { a, b,\n c }`), in order.
fn elements(set_block: &[&str]) -> Vec<String> {
    let text = set_block.join(" ");
    let Some(start) = text.find("elements = {") else {
        return Vec::new();
    };
    let rest = &text[start + "elements = {".len()..];
    let end = rest.find('}').unwrap_or(rest.len());
    rest[..end]
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(str::to_string)
        .collect()
}

/// Whether `listing` holds exactly our sets' elements and our chain's rules, and nothing
/// else: no other chain, no other set, no rule without our comment.
pub fn is_expected(listing: &str, expect: &Expected) -> bool {
    let lines: Vec<&str> = listing.lines().collect();
    let table = block(&lines, &format!("table inet {} {{", expect.table));
    let Some(table) = table else { return false };
    let count = |prefix: &str| {
        table
            .iter()
            .filter(|l| l.trim_start().starts_with(prefix))
            .count()
    };
    if count("chain ") != 1 || count("set ") != expect.sets.len() || count("map ") != 0 {
        return false;
    }
    for (name, want) in &expect.sets {
        let Some(set) = block(&table, &format!("set {name} {{")) else {
            return false;
        };
        let want: Vec<&str> = want.iter().map(|e| listed_form(e)).collect();
        if elements(&set) != want {
            return false;
        }
    }
    let Some(chain) = block(&table, &format!("chain {} {{", expect.chain)) else {
        return false;
    };
    let owner = format!("comment \"{OWNER_COMMENT}\"");
    let rules: Vec<&&str> = chain
        .iter()
        .filter(|l| {
            let t = l.trim();
            !(t.is_empty() || t == owner || t.starts_with("type nat hook postrouting"))
        })
        .collect();
    rules.len() == expect.rules
        && rules
            .iter()
            .all(|r| r.trim_end().ends_with('"') && r.contains(" comment \"ip-masq-agent: "))
}

#[cfg(test)]
mod tests;
