//! A case run several times (`repeats`, `--repeat`): whether its repeats agree, and if
//! not, which outcome cells differed, with each repeat's outcome, so that the report names
//! the nondeterminism instead of blaming one run.

use crate::document::mismatch::{cell_outcome, differing_cells};
use crate::document::Document;
use crate::vocabulary::Instability;

/// What the repeats did: `ends` is each repeat's failure line (`None`: it passed), `docs`
/// its document, in order.
pub fn instability(listed: bool, ends: &[Option<&str>], docs: &[&Document]) -> Instability {
    let repeats = ends
        .iter()
        .map(|e| match e {
            None => "passed".to_string(),
            Some(h) => format!("failed: {h}"),
        })
        .collect();
    let mut cells = Vec::new();
    for other in docs.iter().skip(1) {
        for (step, cell) in differing_cells(docs[0], other) {
            if !cells.contains(&(step, cell.clone())) {
                cells.push((step, cell));
            }
        }
    }
    let differing_cells = cells
        .iter()
        .map(|(step, cell)| {
            let per_repeat: Vec<String> =
                docs.iter().map(|d| cell_outcome(d, *step, cell)).collect();
            let at = step.map(|s| format!("step {s}: ")).unwrap_or_default();
            format!("{at}{cell}: {}", per_repeat.join(" | "))
        })
        .collect();
    Instability {
        listed,
        repeats,
        differing_cells,
    }
}

fn passes(u: &Instability) -> usize {
    u.repeats.iter().filter(|r| *r == "passed").count()
}

fn cells_note(u: &Instability) -> String {
    match u.differing_cells.as_slice() {
        [] => String::new(),
        [one] => format!("; differing cell: {one}"),
        [first, rest @ ..] => format!("; differing cells: {first} (and {} more)", rest.len()),
    }
}

/// The line of a case the profile lists as unstable.
pub fn listed_headline(u: &Instability) -> String {
    format!(
        "passed in {} of {} repeat(s){}",
        passes(u),
        u.repeats.len(),
        cells_note(u)
    )
}

/// The line of a case whose repeats disagreed, which the profile does not list.
pub fn unlisted_headline(u: &Instability, implementation: &str, repeats: usize) -> String {
    format!(
        "unstable: its {repeats} repeats disagree (passed in {}){}; not listed in unstable of {implementation}",
        passes(u),
        cells_note(u)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(outcome: &str) -> Document {
        Document::parse(&format!(
            "## outcome after step 2\ndestination    address              udp              tcp              icmp\ninternet       203.0.113.10         {outcome:<17}{outcome:<17}{outcome}\n"
        ))
    }

    #[test]
    fn differing_cells_name_each_repeats_outcome() {
        let (m, k) = (doc("masqueraded"), doc("not-masqueraded"));
        assert!(
            matches!(m.sections[0].body, crate::document::Body::Table(_)),
            "{:?}",
            m.sections[0]
        );
        let u = instability(false, &[None, Some("step 2: x"), None], &[&m, &k, &m]);
        assert!(u.disagreed());
        assert_eq!(u.differing_cells.len(), 3, "{:?}", u.differing_cells);
        assert_eq!(
            u.differing_cells[0],
            "step 2: internet/udp: masqueraded | not-masqueraded | masqueraded"
        );
        assert_eq!(u.repeats, vec!["passed", "failed: step 2: x", "passed"]);
        let line = unlisted_headline(&u, "impl", 3);
        assert!(line.starts_with("unstable: its 3 repeats disagree (passed in 2); differing cells: step 2: internet/udp: masqueraded | not-masqueraded | masqueraded (and 2 more); not listed in unstable of impl"), "{line}");
        let worded = instability(
            false,
            &[Some("within 1.2 s"), Some("within 1.3 s")],
            &[&m, &m],
        );
        assert!(!worded.disagreed(), "two failures worded differently agree");
        let same = instability(true, &[None, None], &[&m, &m]);
        assert!(!same.disagreed());
        assert_eq!(listed_headline(&same), "passed in 2 of 2 repeat(s)");
    }
}
