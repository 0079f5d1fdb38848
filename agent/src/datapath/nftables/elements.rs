//! Set element differences: what a config change adds to and removes from the sets the
//! table already holds, so that a sync sends only those (one transaction, over netlink:
//! [`super::netlink`]) instead of refilling every set. Pure.

use super::Expected;
use ipnet::IpNet;
use std::collections::HashSet;

/// One set's change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetEdit {
    pub set: String,
    /// Elements to delete, as the set holds them (prefixes, sorted).
    pub delete: Vec<IpNet>,
    /// Elements to add (prefixes, sorted).
    pub add: Vec<IpNet>,
}

/// The element changes that turn a table holding `from` into one holding `to`, applied
/// only while the ruleset generation is `generation` (the one that vouches the table
/// holds `from`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElementEdit {
    pub table: String,
    pub generation: u32,
    /// Only the sets that change.
    pub sets: Vec<SetEdit>,
}

impl ElementEdit {
    /// How many elements are deleted and added, for the log.
    pub fn counts(&self) -> (usize, usize) {
        self.sets
            .iter()
            .fold((0, 0), |(d, a), s| (d + s.delete.len(), a + s.add.len()))
    }
}

/// The element changes from `from` to `to`, or `None` when they differ in more than set
/// elements (another table, other sets or rules: the full sync is needed) or an element
/// does not read back as a prefix.
pub fn edit(from: &Expected, to: &Expected, generation: u32) -> Option<ElementEdit> {
    let same_sets = from.sets.len() == to.sets.len()
        && from
            .sets
            .iter()
            .zip(&to.sets)
            .all(|((a, _), (b, _))| a == b);
    if from.table != to.table || from.chain != to.chain || from.rules != to.rules || !same_sets {
        return None;
    }
    let mut sets = Vec::new();
    for ((name, old), (_, new)) in from.sets.iter().zip(&to.sets) {
        let old_set: HashSet<&String> = old.iter().collect();
        let new_set: HashSet<&String> = new.iter().collect();
        let parse = |v: Vec<&&String>| -> Option<Vec<IpNet>> {
            let mut nets = v
                .into_iter()
                .map(|e| e.parse().ok())
                .collect::<Option<Vec<IpNet>>>()?;
            nets.sort();
            Some(nets)
        };
        let delete = parse(old_set.difference(&new_set).collect())?;
        let add = parse(new_set.difference(&old_set).collect())?;
        if !delete.is_empty() || !add.is_empty() {
            sets.push(SetEdit {
                set: name.clone(),
                delete,
                add,
            });
        }
    }
    Some(ElementEdit {
        table: to.table.clone(),
        generation,
        sets,
    })
}

#[cfg(test)]
mod tests;
