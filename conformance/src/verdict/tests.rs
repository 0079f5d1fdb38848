//! Unit tests of the report's verdict and features.
use super::*;

pub(crate) fn case(fixture: &str, state: CaseState, features: &[Feature]) -> CaseRecord {
    CaseRecord {
        fixture: fixture.into(),
        backend: "legacy".into(),
        state,
        features: features.to_vec(),
        counts_for: None,
        skipped_steps: Vec::new(),
        duration_ms: 1,
        failing_step: None,
        reason: None,
        reload_latency: None,
        unstable: None,
        measurements: None,
    }
}

#[test]
fn words_are_the_json_ones() {
    for v in RunVerdict::ALL {
        assert_eq!(serde_json::to_value(v).unwrap(), v.word());
    }
    for s in [
        FeatureState::Passed,
        FeatureState::Partial,
        FeatureState::Failed,
        FeatureState::Unsupported,
        FeatureState::NotRun,
        FeatureState::Unobserved,
        FeatureState::Inconclusive,
    ] {
        assert_eq!(serde_json::to_value(s).unwrap(), s.word());
    }
}

#[test]
fn verdict_levels() {
    let all = |_: Feature| true;
    let pass = vec![
        case("a", CaseState::Passed, &[Feature::Defaults]),
        case("b", CaseState::Passed, &Feature::ALL),
    ];
    let f = feature_results(&pass, &all);
    assert_eq!(
        verdict(&Coverage::full(), &pass, &f),
        RunVerdict::Conformant
    );

    let mut extended_known = pass.clone();
    extended_known.push(case("c", CaseState::KnownFailure, &[Feature::ToPorts]));
    let f = feature_results(&extended_known, &all);
    assert_eq!(
        verdict(&Coverage::full(), &extended_known, &f),
        RunVerdict::Conformant
    );
    assert_eq!(
        f.iter()
            .find(|r| r.feature == Feature::ToPorts)
            .unwrap()
            .state,
        FeatureState::Partial
    );

    let mut core_known = pass.clone();
    core_known.push(case("d", CaseState::KnownFailure, &[Feature::Healing]));
    let f = feature_results(&core_known, &all);
    assert_eq!(
        verdict(&Coverage::full(), &core_known, &f),
        RunVerdict::PartiallyConformant
    );

    let mut failed = core_known.clone();
    failed.push(case("e", CaseState::Failed, &[Feature::Ipv6]));
    let f = feature_results(&failed, &all);
    assert_eq!(
        verdict(&Coverage::full(), &failed, &f),
        RunVerdict::NonConformant
    );

    let mut filtered = pass.clone();
    filtered.push(case("f", CaseState::NotRun, &[Feature::Ipv6]));
    let f = feature_results(&filtered, &all);
    assert_eq!(
        verdict(&Coverage::full(), &filtered, &f),
        RunVerdict::Incomplete
    );

    let no_ipv6 = |f: Feature| f != Feature::Ipv6;
    let mut unsupported = pass.clone();
    unsupported.push(case("g", CaseState::Unsupported, &[Feature::Ipv6]));
    unsupported[1].features.retain(|f| *f != Feature::Ipv6);
    let f = feature_results(&unsupported, &no_ipv6);
    assert_eq!(
        verdict(&Coverage::full(), &unsupported, &f),
        RunVerdict::Conformant
    );

    // A partial run says nothing of conformance, even when every case passed.
    let partial = Coverage::restricted_by(vec!["--skip x".into()]);
    let f = feature_results(&pass, &all);
    assert_eq!(verdict(&partial, &pass, &f), RunVerdict::PartialRun);
}

#[test]
fn a_core_feature_never_observed_is_incomplete_never_unsupported() {
    let all = |_: Feature| true;
    let mut cases = vec![case("a", CaseState::Passed, &Feature::ALL)];
    cases[0].features.retain(|f| *f != Feature::Healing);
    cases.push(case("h", CaseState::NotApplicable, &[Feature::Healing]));
    let f = feature_results(&cases, &all);
    let healing = f.iter().find(|r| r.feature == Feature::Healing).unwrap();
    assert_eq!(healing.state, FeatureState::Unobserved);
    assert_eq!(
        verdict(&Coverage::full(), &cases, &f),
        RunVerdict::Incomplete
    );
    // An extended feature in the same position is unsupported, and the run conformant.
    let mut cases = vec![case("a", CaseState::Passed, &Feature::ALL)];
    cases[0].features.retain(|f| *f != Feature::ToPorts);
    cases.push(case("t", CaseState::NotApplicable, &[Feature::ToPorts]));
    let f = feature_results(&cases, &all);
    assert_eq!(
        verdict(&Coverage::full(), &cases, &f),
        RunVerdict::Conformant
    );
    // A core feature not claimed is no conformance.
    let no_healing = |f: Feature| f != Feature::Healing;
    let cases = vec![case("a", CaseState::Passed, &Feature::ALL)];
    let f = feature_results(&cases, &no_healing);
    assert_eq!(
        verdict(&Coverage::full(), &cases, &f),
        RunVerdict::NonConformant
    );
}

#[test]
fn unstable_cases_never_pass_and_fail_the_run_only_when_unlisted() {
    let all = |_: Feature| true;
    let unstable = |listed: bool, features: &[Feature]| CaseRecord {
        reason: Some("r".into()),
        unstable: Some(Instability {
            listed,
            repeats: vec!["passed".into(), "failed: x".into()],
            differing_cells: vec!["step 2: internet/udp: masqueraded | dropped".into()],
        }),
        ..case("u", CaseState::Unstable, features)
    };
    let base = vec![case("a", CaseState::Passed, &Feature::ALL)];
    let mut cases = base.clone();
    cases.push(unstable(true, &[Feature::ToPorts]));
    let f = feature_results(&cases, &all);
    assert_eq!(
        verdict(&Coverage::full(), &cases, &f),
        RunVerdict::Conformant
    );
    let to_ports = f.iter().find(|r| r.feature == Feature::ToPorts).unwrap();
    assert_eq!(to_ports.state, FeatureState::Partial, "never passed");
    assert_eq!(to_ports.counts.unstable, 1);
    let mut cases = base.clone();
    cases.push(unstable(true, &[Feature::Healing]));
    let f = feature_results(&cases, &all);
    assert_eq!(
        verdict(&Coverage::full(), &cases, &f),
        RunVerdict::PartiallyConformant
    );
    let mut cases = base;
    cases.push(unstable(false, &[Feature::ToPorts]));
    let f = feature_results(&cases, &all);
    assert_eq!(
        verdict(&Coverage::full(), &cases, &f),
        RunVerdict::NonConformant
    );
    let to_ports = f.iter().find(|r| r.feature == Feature::ToPorts).unwrap();
    assert_eq!(to_ports.state, FeatureState::Failed);
}

#[test]
fn an_inconclusive_case_is_never_passed_and_keeps_the_run_incomplete() {
    let all = |_: Feature| true;
    let inconclusive = CaseRecord {
        reason: Some(
            "step 6 (wait): inconclusive: this wait rests on reads the runner cannot see".into(),
        ),
        failing_step: Some(6),
        ..case("i", CaseState::Inconclusive, &[Feature::KeepLastGood])
    };
    let mut cases = vec![case("a", CaseState::Passed, &Feature::ALL), inconclusive];
    let f = feature_results(&cases, &all);
    let klg = f
        .iter()
        .find(|r| r.feature == Feature::KeepLastGood)
        .unwrap();
    assert_eq!(klg.state, FeatureState::Inconclusive);
    assert_eq!((klg.counts.inconclusive, klg.counts.passed), (1, 1));
    assert_eq!(
        verdict(&Coverage::full(), &cases, &f),
        RunVerdict::Incomplete
    );
    assert_eq!(Summary::of(&cases).inconclusive, 1);
    // A failure elsewhere still makes the run non-conformant.
    cases.push(case("b", CaseState::Failed, &[Feature::ToPorts]));
    let f = feature_results(&cases, &all);
    assert_eq!(
        verdict(&Coverage::full(), &cases, &f),
        RunVerdict::NonConformant
    );
    // Its cause is grouped like a failure's (v2 reports, without `causes`).
    let report_causes = crate::records::causes::group(cases.iter().filter_map(|c| {
        let cause = crate::records::causes::cause_of(c.state, None, c.reason.as_deref()?)?;
        Some((c.state, cause, c.fixture.clone()))
    }));
    assert!(
        report_causes
            .iter()
            .any(|c| c.state == CaseState::Inconclusive
                && c.cause == "wait: inconclusive: this wait rests on reads the runner cannot see"),
        "{report_causes:?}"
    );
}

#[test]
fn a_failure_counts_only_against_the_features_it_is_attributed_to() {
    let all = |_: Feature| true;
    // A sigterm case that failed at a step before its `terminate`: not sigterm's failure.
    let failed = CaseRecord {
        counts_for: Some(vec![Feature::NonMasqueradeCidrs]),
        failing_step: Some(2),
        ..case(
            "sigterm-leaves-rules",
            CaseState::Failed,
            &[Feature::Sigterm, Feature::NonMasqueradeCidrs],
        )
    };
    let cases = vec![
        failed,
        case("other-sigterm", CaseState::Passed, &[Feature::Sigterm]),
    ];
    let f = feature_results(&cases, &all);
    let of = |x: Feature| f.iter().find(|r| r.feature == x).expect("listed").clone();
    assert_eq!(of(Feature::Sigterm).state, FeatureState::Passed);
    assert_eq!(of(Feature::Sigterm).counts.failed, 0);
    assert_eq!(of(Feature::NonMasqueradeCidrs).state, FeatureState::Failed);
    // A pass whose bug-compatibility step was skipped is no pass of that feature.
    let mut skipped = case(
        "duplicated-cidrs",
        CaseState::Passed,
        &[Feature::NonMasqueradeCidrs, Feature::ReferenceBugCompat],
    );
    skipped.counts_for = Some(vec![Feature::NonMasqueradeCidrs]);
    skipped.skipped_steps = vec![5];
    let f = feature_results(&[skipped], &|f| f != Feature::ReferenceBugCompat);
    let compat = f
        .iter()
        .find(|r| r.feature == Feature::ReferenceBugCompat)
        .expect("listed");
    assert_eq!(compat.state, FeatureState::Unsupported);
    assert_eq!(compat.counts.passed, 0);
}

/// The example flags-only profile over the whole corpus, each runnable case taken as
/// passed: the cases its adapter cannot apply to are not applicable, and when that
/// leaves a core feature without a case (keep-last-good, without the fault cases) the
/// verdict is `incomplete`, never `conformant`.
#[test]
fn an_adapter_profile_with_a_core_feature_left_unobserved_is_not_conformant() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let example = root.join("implementations/flags-only-example.yaml");
    let mut fixtures = Vec::new();
    for entry in std::fs::read_dir(root.join("../fixtures")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            fixtures.push((name, crate::fixture::Fixture::load(&path).unwrap()));
        }
    }
    let judge = |profile: &crate::profile::Profile| {
        let cases: Vec<CaseRecord> = fixtures
            .iter()
            .map(|(name, f)| {
                let state = if profile.first_unsupported(&f.features).is_some() {
                    CaseState::Unsupported
                } else if crate::case::source::inapplicable(f, profile).is_some() {
                    CaseState::NotApplicable
                } else {
                    CaseState::Passed
                };
                case(name, state, &f.features)
            })
            .collect();
        let features = feature_results(&cases, &|f| profile.supports(f));
        let keep = features
            .iter()
            .find(|r| r.feature == Feature::KeepLastGood)
            .unwrap()
            .state;
        (verdict(&Coverage::full(), &cases, &features), keep)
    };
    let profile = crate::profile::Profile::load(&example).unwrap();
    assert_eq!(
        judge(&profile),
        (RunVerdict::Conformant, FeatureState::Passed)
    );
    let mut without_faults = profile.clone();
    without_faults.features.unsupported.push(Feature::Faults);
    assert_eq!(
        judge(&without_faults),
        (RunVerdict::Incomplete, FeatureState::Unobserved)
    );
    let reason = |name: &str, p: &crate::profile::Profile| {
        let (_, f) = fixtures.iter().find(|(n, _)| n == name).unwrap();
        crate::case::source::inapplicable(f, p).unwrap_or_default()
    };
    assert!(
        reason("config-junk-after-good", &profile).contains("step 5: it publishes a bad config")
    );
    assert_eq!(reason("masq-link-local-true", &profile), "");
    // Another default list: the cases whose outcomes rest on the reference's do not apply.
    let mut other_defaults = profile.clone();
    other_defaults.default_non_masquerade_cidrs = Some(vec!["10.244.0.0/16".into()]);
    assert!(reason("default-no-config", &other_defaults).contains(
        "rest on the reference's default list, and masq-flags-agent's is [10.244.0.0/16]"
    ));
    assert_eq!(reason("docs-example-config", &other_defaults), "");
    // An adapter that renders no masqLinkLocal: the case about it does not apply.
    let mut fewer_keys = profile.clone();
    if let crate::profile::ConfigSourceKey::Adapter(a) = &mut fewer_keys.config_source {
        a.flags
            .retain(|f| f.when != Some(crate::profile::ConfigKey::MasqLinkLocal));
    }
    assert!(reason("masq-link-local-true", &fewer_keys)
        .contains("sets masqLinkLocal, which the adapter does not render"));
}
