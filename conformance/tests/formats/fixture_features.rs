//! Every fixture declares every feature its inputs use (a config key, a JSON config,
//! several files, a flag), so an implementation that lacks the key gets the case
//! unsupported, never a vacuous pass; and a failure is attributed to the features of its
//! step and cells, not to every feature the fixture declares.

use std::path::Path;

use masq_conformance::document::mismatch::{Cell, Difference};
use masq_conformance::fixture::{uses, Fixture};
use masq_conformance::vocabulary::{Direction, Feature, Proto};

fn fixtures() -> Vec<(String, Fixture)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    let mut out: Vec<(String, Fixture)> = std::fs::read_dir(&dir)
        .expect("fixtures/ is readable")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (name, Fixture::load(&p).unwrap_or_else(|e| panic!("{e}")))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn fixture(name: &str) -> Fixture {
    fixtures()
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no fixture {name}"))
        .1
}

#[test]
fn every_fixture_declares_what_its_inputs_use() {
    let mut missing = Vec::new();
    for (name, f) in fixtures() {
        for (feature, why) in uses::implied(&f) {
            if !f.features.contains(&feature) {
                missing.push(format!("{name}: {why} needs feature {feature}"));
            }
        }
    }
    missing.dedup();
    assert!(
        missing.is_empty(),
        "undeclared features:\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_test_would_see_an_undeclared_key_or_flag() {
    let path = Path::new("t.yaml");
    let text = "description: x\nfeatures: [non-masquerade-cidrs]\nflags: [\"--v=4\"]\nsteps:\n  - config: {raw: \"nonMasqueradeCIDRs: []\\nresyncInterval: >\\n  1s\"}\n  - config: {nonMasqueradeCIDRs: [], cidrLimit: 3, resyncInterval: 1s}\n  - config: {json: {masqLinkLocal: true}}\n";
    let f = Fixture::from_text(path, text).expect("loads");
    let implied: Vec<Feature> = uses::implied(&f).into_iter().map(|(f, _)| f).collect();
    for want in [
        Feature::KlogFlags,
        Feature::ResyncIntervalFromConfig,
        Feature::CidrLimit,
        Feature::JsonConfig,
        Feature::MasqLinkLocal,
    ] {
        assert!(implied.contains(&want), "{want} not implied: {implied:?}");
    }
    // A valid interval in a mapping is only the period hint.
    let hint = Fixture::from_text(
        path,
        "description: x\nfeatures: [resync]\nsteps:\n  - config: {nonMasqueradeCIDRs: [], resyncInterval: 300ms}\n",
    )
    .expect("loads");
    assert!(uses::implied(&hint).is_empty());
}

fn cell(destination: &str, address: &str, direction: Direction) -> Difference {
    Difference {
        step: None,
        cell: Some(Cell {
            direction,
            destination: destination.into(),
            address: address.into(),
            proto: Proto::Udp,
        }),
        text: format!("{destination}/udp expected masqueraded, got not-masqueraded"),
    }
}

fn at(step: usize, mut d: Difference) -> Difference {
    d.step = Some(step);
    d
}

#[test]
fn a_failure_is_attributed_to_its_step_and_cells() {
    // sigterm-leaves-rules: config, wait rules, probe, snapshot, terminate, probe, snapshot.
    let f = fixture("sigterm-leaves-rules");
    let before = Difference {
        step: Some(2),
        cell: None,
        text: "did not see the rules within 15s".into(),
    };
    assert_eq!(
        f.features_of_failure(&[before]),
        vec![Feature::NonMasqueradeCidrs]
    );
    let after = at(7, cell("rfc1918-10", "10.96.0.10", Direction::Pod));
    assert_eq!(
        f.features_of_failure(std::slice::from_ref(&after)),
        vec![Feature::Sigterm]
    );
    // The same cell wrong before SIGTERM too (the snapshot of step 4) is no SIGTERM bug.
    let before_too = at(4, cell("rfc1918-10", "10.96.0.10", Direction::Pod));
    assert_eq!(
        f.features_of_failure(&[before_too, after]),
        vec![Feature::NonMasqueradeCidrs]
    );

    // An IPv6 cell counts against ipv6, an IPv4 one against the list.
    let f = fixture("ipv6-dual-stack");
    let v6 = at(3, cell("internet6", "2001:db8:ffff::1", Direction::Pod));
    assert!(f.features_of_failure(&[v6]).contains(&Feature::Ipv6));

    // A link-local cell under masqLinkLocal counts against masq-link-local.
    let f = fixture("masq-link-local-false");
    let ll = at(4, cell("link-local", "169.254.169.254", Direction::Pod));
    assert_eq!(f.features_of_failure(&[ll]), vec![Feature::MasqLinkLocal]);
    let ten = at(4, cell("rfc1918-10", "10.96.0.10", Direction::Pod));
    assert_eq!(
        f.features_of_failure(&[ten]),
        vec![Feature::NonMasqueradeCidrs]
    );

    // The flags of a case fail it before its first probe (an implementation refusing
    // --v=4 exits at start): klog-flags, not the list.
    let f = fixture("klog-flags-accepted");
    let start = Difference {
        step: Some(2),
        cell: None,
        text: "the implementation exited (exit status: 2)".into(),
    };
    assert_eq!(f.features_of_failure(&[start]), vec![Feature::KlogFlags]);

    // An exit under a bad config is keep-last-good's, wherever it happens; a wrong cell
    // after a tamper is healing's, unless the step says otherwise.
    let f = fixture("invalid-config-does-not-heal-tampering");
    let exit = Difference {
        step: Some(8),
        cell: None,
        text: "the implementation exited (exit status: 255) 0.4s after its last read of the bad config in force".into(),
    };
    assert_eq!(f.features_of_failure(&[exit]), vec![Feature::KeepLastGood]);
    let kept = at(10, cell("internet", "203.0.113.10", Direction::Pod));
    assert_eq!(f.features_of_failure(&[kept]), vec![Feature::KeepLastGood]);
    let healed = at(15, cell("internet", "203.0.113.10", Direction::Pod));
    assert_eq!(f.features_of_failure(&[healed]), vec![Feature::Healing]);
    let f = fixture("tamper-flush-chain-healed");
    let after = at(6, cell("internet", "203.0.113.10", Direction::Pod));
    assert_eq!(f.features_of_failure(&[after]), vec![Feature::Healing]);

    // A step's explicit feature decides.
    let f = fixture("duplicated-cidrs");
    let (n, feature) = f.steps.explicit().next().expect("a step names its feature");
    let listing = Difference {
        step: Some(n),
        cell: None,
        text: format!("rules (iptables-save -t nat) after step {n} differs"),
    };
    assert_eq!(f.features_of_failure(&[listing]), vec![feature]);
    assert_eq!(feature, Feature::ReferenceBugCompat);
}

#[test]
fn bug_compatibility_is_its_own_extended_feature_shown_by_steps() {
    assert_eq!(
        Feature::ReferenceBugCompat.level(),
        masq_conformance::vocabulary::Level::Extended
    );
    for name in ["duplicated-cidrs", "upgrade-stale-quoted-jump"] {
        let f = fixture(name);
        assert!(f.features.contains(&Feature::ReferenceBugCompat), "{name}");
        assert!(
            f.steps
                .explicit()
                .any(|(_, g)| g == Feature::ReferenceBugCompat),
            "{name}: no step shows reference-bug-compat"
        );
    }
}

#[test]
fn a_cell_wrong_before_an_event_is_not_the_events_failure() {
    // established-flow-keeps-nat-decision: an outcome after `flow-open` (step 4), and the
    // same cell again after the config changed (step 16, after `probe: default`).
    let f = fixture("established-flow-keeps-nat-decision");
    let first = at(4, cell("internet", "203.0.113.10", Direction::Pod));
    let later = at(14, cell("internet", "203.0.113.10", Direction::Pod));
    assert_eq!(
        f.features_of_failure(std::slice::from_ref(&later)),
        vec![Feature::Resync]
    );
    assert_eq!(
        f.features_of_failure(&[first, later]),
        vec![Feature::EstablishedFlows]
    );
}

#[test]
fn a_listing_beside_wrong_cells_counts_as_the_cells() {
    let f = fixture("masq-link-local-false");
    let ll = at(4, cell("link-local", "169.254.169.254", Direction::Pod));
    let rules = Difference {
        step: Some(4),
        cell: None,
        text: "rules (iptables-save -t nat) after step 4 differs".into(),
    };
    assert_eq!(
        f.features_of_failure(&[ll, rules.clone()]),
        vec![Feature::MasqLinkLocal]
    );
    // Alone, it is the fixture's base features'.
    assert_eq!(
        f.features_of_failure(&[rules]),
        vec![Feature::NonMasqueradeCidrs]
    );
}
