use super::*;

fn expected(v4: &[&str], rules: usize) -> Expected {
    Expected {
        table: "T".into(),
        chain: "T".into(),
        sets: vec![
            (
                "nomasq-v4".into(),
                v4.iter().map(|s| s.to_string()).collect(),
            ),
            ("nomasq-v6".into(), vec!["fd00::/8".into()]),
        ],
        rules,
    }
}

#[test]
fn only_the_changed_elements_of_the_changed_sets() {
    let from = expected(&["10.0.0.0/8", "172.16.0.0/12"], 5);
    let to = expected(&["10.0.0.0/8", "192.168.0.0/16"], 5);
    let e = edit(&from, &to, 7).unwrap();
    assert_eq!(e.generation, 7);
    assert_eq!(
        e.sets,
        [SetEdit {
            set: "nomasq-v4".into(),
            flush: false,
            delete: vec!["172.16.0.0/12".parse().unwrap()],
            add: vec!["192.168.0.0/16".parse().unwrap()],
        }]
    );
    assert_eq!(e.counts(), (1, 1));
    assert!(edit(&from, &from, 7).unwrap().sets.is_empty());
}

/// The difference is the same whatever part of the lists agrees: what both start and end
/// with is skipped, the rest compared as sets (a naive set difference as the oracle).
#[test]
fn the_difference_skips_what_both_lists_share_and_equals_the_set_difference() {
    let all: Vec<String> = (0..40).map(|i| format!("10.{i}.0.0/16")).collect();
    let pick = |keep: &dyn Fn(usize) -> bool| -> Vec<&str> {
        all.iter()
            .enumerate()
            .filter(|(i, _)| keep(*i))
            .map(|(_, s)| s.as_str())
            .collect()
    };
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (pick(&|i| i < 30), pick(&|i| i < 31)), // one added at the end
        (pick(&|i| i > 0 && i < 30), pick(&|i| i < 30)), // one added at the start
        (pick(&|i| i != 15), pick(&|_| true)),  // one added in the middle
        (pick(&|_| true), pick(&|i| i != 15)),  // one removed in the middle
        (pick(&|i| i % 2 == 0), pick(&|i| i % 3 == 0)), // everything differs
        (pick(&|i| i < 20), pick(&|i| i >= 20)), // disjoint
        (pick(&|_| false), pick(&|i| i < 3)),   // from empty
        (pick(&|i| i < 3), pick(&|_| false)),   // to empty
        (pick(&|i| i != 5 && i != 35), pick(&|i| i != 6 && i != 34)),
    ];
    for (old, new) in cases {
        let (from, to) = (expected(&old, 5), expected(&new, 5));
        let e = edit(&from, &to, 1).unwrap();
        let nets = |v: &[&str], w: &[&str]| -> Vec<IpNet> {
            let mut d: Vec<IpNet> = v
                .iter()
                .filter(|x| !w.contains(x))
                .map(|x| x.parse().unwrap())
                .collect();
            d.sort();
            d
        };
        let (delete, add) = (nets(&old, &new), nets(&new, &old));
        let got = e.sets.first().map(|s| (s.delete.clone(), s.add.clone()));
        if delete.is_empty() && add.is_empty() {
            assert!(e.sets.is_empty(), "{old:?} -> {new:?}");
        } else {
            assert_eq!(got, Some((delete, add)), "{old:?} -> {new:?}");
        }
    }
}

#[test]
fn anything_but_elements_needs_the_full_sync() {
    let from = expected(&["10.0.0.0/8"], 5);
    assert_eq!(edit(&from, &expected(&["10.0.0.0/8"], 6), 1), None);
    let mut other = expected(&["10.0.0.0/8"], 5);
    other.sets.pop();
    assert_eq!(edit(&from, &other, 1), None);
    let mut renamed = expected(&["10.0.0.0/8"], 5);
    renamed.table = "U".into();
    assert_eq!(edit(&from, &renamed, 1), None);
}

#[test]
fn the_difference_from_what_the_sets_hold() {
    let to = expected(&["10.0.0.0/8", "192.168.0.0/16"], 5);
    let nets = |v: &[&str]| -> Vec<IpNet> { v.iter().map(|s| s.parse().unwrap()).collect() };
    let now = [
        nets(&["192.168.0.0/16", "100.64.0.0/10", "172.16.0.0/12"]),
        nets(&["fd00::/8"]),
    ];
    let e = difference(&now, &to, 3).unwrap();
    assert_eq!(e.generation, 3);
    assert_eq!(
        e.sets,
        [SetEdit {
            set: "nomasq-v4".into(),
            flush: false,
            delete: nets(&["100.64.0.0/10", "172.16.0.0/12"]),
            add: nets(&["10.0.0.0/8"]),
        }]
    );
    // Sets that hold exactly the config's elements: nothing to send.
    let same = [nets(&["10.0.0.0/8", "192.168.0.0/16"]), nets(&["fd00::/8"])];
    assert!(difference(&same, &to, 3).unwrap().sets.is_empty());
    // Everything into empty sets; and lists that do not match the sets: no difference.
    let empty = difference(&[vec![], vec![]], &to, 3).unwrap();
    assert_eq!(empty.counts(), (0, 3));
    assert_eq!(difference(&[vec![]], &to, 3), None);
}
