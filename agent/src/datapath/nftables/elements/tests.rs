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
