//! Set element changes sent over netlink ([`super::netlink`]), one transaction each: the
//! difference a config change makes to the sets the table already holds ([`edit`]), so a
//! round sends only those, and the full refill of every set ([`fill`]: flushed and
//! refilled in one commit), which a full apply sends instead of nft's `flush set` and
//! `add element` (nft checks every element against the set's others in user space,
//! about 50 ms of CPU at 10,000). Pure.

use super::Expected;
use ipnet::IpNet;
use std::collections::HashSet;

/// One set's change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetEdit {
    pub set: String,
    /// Every element removed first (`NFT_MSG_DELSETELEM` without elements), in the same
    /// transaction as the additions: readers see the old or the new contents, never none.
    pub flush: bool,
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
        // Each list holds each element once, in the same (address) order: what both
        // start and end with is in both, and none of it is anywhere else in the other
        // list, so only the middles can differ. A one-CIDR change compares strings up
        // to it instead of hashing 20,000 of them.
        let head = old.iter().zip(new).take_while(|(a, b)| a == b).count();
        let tail = old[head..]
            .iter()
            .rev()
            .zip(new[head..].iter().rev())
            .take_while(|(a, b)| a == b)
            .count();
        let (old, new) = (&old[head..old.len() - tail], &new[head..new.len() - tail]);
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
                flush: false,
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

/// The element changes that turn sets holding `current` (one list per set of `to`, in
/// its order, as [`super::contents`] reads them) into `to`'s, applied only at
/// `generation`; `None` when the lists do not match `to`'s sets or an element of `to`
/// does not read as a prefix. Sorted lists merged, no strings: this runs on every full
/// apply, over every element.
pub fn difference(current: &[Vec<IpNet>], to: &Expected, generation: u32) -> Option<ElementEdit> {
    if current.len() != to.sets.len() {
        return None;
    }
    let mut sets = Vec::new();
    for ((name, want), now) in to.sets.iter().zip(current) {
        let mut want = want
            .iter()
            .map(|e| e.parse().ok())
            .collect::<Option<Vec<IpNet>>>()?;
        want.sort_unstable();
        let mut now = now.clone();
        now.sort_unstable();
        let (delete, add) = only_in_each(&now, &want);
        if !delete.is_empty() || !add.is_empty() {
            sets.push(SetEdit {
                set: name.clone(),
                flush: false,
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

/// What only `a` holds and what only `b` holds, both sorted (each list sorted).
fn only_in_each(a: &[IpNet], b: &[IpNet]) -> (Vec<IpNet>, Vec<IpNet>) {
    let (mut only_a, mut only_b) = (Vec::new(), Vec::new());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x == y => {
                i += 1;
                j += 1;
            }
            (Some(x), Some(y)) if x < y => {
                only_a.push(*x);
                i += 1;
            }
            (Some(_), Some(y)) | (None, Some(y)) => {
                only_b.push(*y);
                j += 1;
            }
            (Some(x), None) => {
                only_a.push(*x);
                i += 1;
            }
            (None, None) => break,
        }
    }
    (only_a, only_b)
}

/// Every set of `to` flushed and refilled with its elements, in one transaction applied
/// only at `generation`; `None` when an element does not read back as a prefix.
pub fn fill(to: &Expected, generation: u32) -> Option<ElementEdit> {
    let sets = to
        .sets
        .iter()
        .map(|(name, elements)| {
            let add = elements
                .iter()
                .map(|e| e.parse().ok())
                .collect::<Option<Vec<IpNet>>>()?;
            Some(SetEdit {
                set: name.clone(),
                flush: true,
                delete: Vec::new(),
                add,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(ElementEdit {
        table: to.table.clone(),
        generation,
        sets,
    })
}

#[cfg(test)]
mod tests;
