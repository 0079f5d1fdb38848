//! `masq-conformance verify-report FILE`: a report checks out only if it is a report of
//! *this* suite's corpus (its digest recomputed here), covers all of it (every fixture ×
//! backend exactly once, nothing else), names things strictly, and every summary, feature
//! result and the verdict are what its own case records give. A partial run never
//! verifies. A hand-edited report fails, saying what does not add up.

use std::collections::BTreeMap;

use super::suite_cases::{SuiteCases, SUITE_VERSION};
use super::{claimed, feature_results, verdict, CaseState, CoverageState, Report, Summary};
use super::{FeatureState, API_VERSION, READS};
use crate::vocabulary::identifiers as id;
use crate::vocabulary::{IptablesBackend, Level};

/// How many missing cases a refusal lists before it counts the rest.
const LISTED: usize = 10;

/// Verifies a report's text against `suite`; returns the report, or every problem found.
pub fn verify(text: &str, suite: &SuiteCases) -> Result<Report, Vec<String>> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| vec![format!("not JSON: {e}")])?;
    let schema: serde_json::Value =
        serde_json::from_str(&super::schema()).expect("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let schema_errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| format!("schema: {e} (at {})", e.instance_path()))
        .collect();
    if !schema_errors.is_empty() {
        let mut problems = schema_errors;
        if let Some(v) = value.get("apiVersion").and_then(|v| v.as_str()) {
            if !READS.contains(&v) {
                problems.insert(
                    0,
                    format!("apiVersion is {v:?}; this suite reads {}", READS.join(", ")),
                );
            }
        }
        return Err(problems);
    }
    let report: Report =
        serde_json::from_value(value).map_err(|e| vec![format!("not a report: {e}")])?;
    let mut problems = Vec::new();
    if !READS.contains(&report.api_version.as_str()) {
        problems.push(format!(
            "apiVersion is {:?}; this suite reads {}",
            report.api_version,
            READS.join(", ")
        ));
    }
    identifiers(&report, &mut problems);
    corpus(&report, suite, &mut problems);
    cases(&report, suite, &mut problems);
    consistency(&report, &mut problems);
    causes(&report, &mut problems);
    if problems.is_empty() {
        Ok(report)
    } else {
        Err(problems)
    }
}

/// Names, versions and digests in their strict forms.
fn identifiers(report: &Report, problems: &mut Vec<String>) {
    let mut check = |field: &str, result: Result<(), String>| {
        if let Err(e) = result {
            problems.push(format!("{field}: {e}"));
        }
    };
    let i = &report.implementation;
    check(
        "implementation.name",
        id::check_implementation_name(&i.name),
    );
    if let Some(v) = &i.version {
        check(
            "implementation.version",
            id::check_implementation_version(v),
        );
    }
    check(
        "suite.version",
        id::check_suite_version(&report.suite.version),
    );
    if let Some(c) = &report.suite.commit {
        if !id::is_commit(c) {
            check(
                "suite.commit",
                Err(format!("{c:?} is not a commit id (lowercase hex)")),
            );
        }
    }
    check(
        "suite.fixtures_digest",
        id::check_digest(&report.suite.fixtures_digest),
    );
    check("profile.digest", id::check_digest(&report.profile.digest));
}

/// The report must be of this suite's corpus, and cover all of it.
fn corpus(report: &Report, suite: &SuiteCases, problems: &mut Vec<String>) {
    if report.suite.fixtures_digest != suite.digest {
        problems.push(format!(
            "suite.fixtures_digest is {:?} (suite version {}): a report of another corpus; this suite is masq-conformance {SUITE_VERSION} whose corpus ({}) is {}: verify the report with the suite of that digest (the suite's version is the masq-conformance crate's version; the digest tells corpora apart)",
            report.suite.fixtures_digest,
            report.suite.version,
            suite.dir.display(),
            suite.digest
        ));
    }
    let c = &report.coverage;
    match c.state {
        CoverageState::Partial => problems.push(format!(
            "coverage: partial ({}): a partial run never verifies as conformant; run the whole suite",
            if c.restricted_by.is_empty() {
                "it does not say what restricted it".to_string()
            } else {
                format!("restricted by {}", c.restricted_by.join("; "))
            }
        )),
        CoverageState::Full if !c.restricted_by.is_empty() => problems.push(format!(
            "coverage: full, yet restricted by {}",
            c.restricted_by.join("; ")
        )),
        CoverageState::Full => {}
    }
}

/// Every case of the suite exactly once, each with its fixture's features; nothing else.
fn cases(report: &Report, suite: &SuiteCases, problems: &mut Vec<String>) {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for c in &report.cases {
        let name = format!("{}::{}", c.fixture, c.backend);
        *seen.entry(name.clone()).or_default() += 1;
        if let Err(e) = id::check_case_name(&c.fixture) {
            problems.push(format!("case {name:?}: fixture {e}"));
            continue;
        }
        if !IptablesBackend::ALL.iter().any(|b| b.name() == c.backend) {
            let known: Vec<&str> = IptablesBackend::ALL.iter().map(|b| b.name()).collect();
            problems.push(format!(
                "case {name:?}: backend {:?} is not one of the suite's ({})",
                c.backend,
                known.join(", ")
            ));
            continue;
        }
        match suite.fixtures.get(&c.fixture) {
            None => problems.push(format!(
                "case {name:?}: the suite has no fixture {:?} (corpus {})",
                c.fixture,
                suite.dir.display()
            )),
            Some(features) if features != &c.features => problems.push(format!(
                "case {name:?}: features {:?} are not its fixture's {:?}",
                c.features, features
            )),
            Some(_)
                if c.counts_for
                    .as_ref()
                    .is_some_and(|fs| fs.iter().any(|f| !c.features.contains(f))) =>
            {
                problems.push(format!(
                    "case {name:?}: counts for {:?}, not all among its features {:?}",
                    c.counts_for, c.features
                ))
            }
            Some(_) => {}
        }
    }
    for (name, n) in &seen {
        if *n > 1 {
            problems.push(format!(
                "case {name:?} appears {n} times (once is the rule)"
            ));
        }
    }
    if report.coverage.is_full() {
        let missing: Vec<String> = suite
            .cases()
            .map(|(n, _)| n)
            .filter(|n| !seen.contains_key(n))
            .collect();
        if !missing.is_empty() {
            let mut listed = missing[..missing.len().min(LISTED)].join(", ");
            if missing.len() > LISTED {
                listed.push_str(&format!(" and {} more", missing.len() - LISTED));
            }
            problems.push(format!(
                "{} case(s) of the suite missing from a report that claims full coverage: {listed}",
                missing.len()
            ));
        }
    }
}

/// States, counts, feature results and the verdict recomputed from the cases.
fn consistency(report: &Report, problems: &mut Vec<String>) {
    let claims = claimed(report);
    for (feature, supported) in &claims {
        if !supported && feature.level() == Level::Core {
            problems.push(format!(
                "feature {feature} is core: it can never be unsupported"
            ));
        }
    }
    // Core features are claimed whatever the report says (that is refused above).
    let supported =
        |f: crate::vocabulary::Feature| f.level() == Level::Core || claims.get(&f) == Some(&true);
    for c in &report.cases {
        let name = format!("{}::{}", c.fixture, c.backend);
        match c.state {
            CaseState::Passed if c.reason.is_some() || c.failing_step.is_some() => problems.push(
                format!("case {name} passed, yet carries a failure (reason or failing step)"),
            ),
            CaseState::Failed
            | CaseState::KnownFailure
            | CaseState::NotApplicable
            | CaseState::Unstable
            | CaseState::Inconclusive
                if c.reason.is_none() =>
            {
                problems.push(format!(
                    "case {name} is {} without a reason",
                    c.state.word()
                ))
            }
            _ => {}
        }
        if (c.state == CaseState::Unstable) != c.unstable.is_some() {
            problems.push(format!(
                "case {name}: `unstable` details belong to unstable cases, and every unstable case has them"
            ));
        }
        // (A feature skipped step by step leaves the rest of the case to run.)
        let needs_unclaimed = c
            .features
            .iter()
            .any(|f| !supported(*f) && !f.skips_steps());
        // (A case filtered out of a run, or that nothing could run, is not run whatever
        // it needs.)
        let not_run = matches!(
            c.state,
            CaseState::Unsupported | CaseState::NotApplicable | CaseState::NotRun
        );
        if needs_unclaimed && !not_run {
            problems.push(format!(
                "case {name} needs a feature the report does not claim, yet is {:?}",
                c.state
            ));
        }
        if !needs_unclaimed && c.state == CaseState::Unsupported {
            problems.push(format!(
                "case {name} is unsupported, yet every feature it needs is claimed"
            ));
        }
    }
    let summary = Summary::of(&report.cases);
    if summary != report.summary {
        problems.push(format!(
            "summary says {:?}, the cases add up to {summary:?}",
            report.summary
        ));
    }
    let features = feature_results(&report.cases, &supported);
    if report.features.len() != features.len() {
        problems.push(format!(
            "the report lists {} feature results; the suite has {} features, each once",
            report.features.len(),
            features.len()
        ));
    }
    for f in &features {
        match report.features.iter().find(|r| r.feature == f.feature) {
            None => problems.push(format!("feature {} is missing from the report", f.feature)),
            Some(r) if r != f => problems.push(format!(
                "feature {} says {} with {:?}; its cases give {} with {:?}",
                f.feature,
                r.state.word(),
                r.counts,
                f.state.word(),
                f.counts
            )),
            Some(_) => {}
        }
        // (A partial run is refused as such: its features not run say nothing more.)
        if f.supported && f.state == FeatureState::NotRun && report.coverage.is_full() {
            problems.push(format!(
                "feature {} is claimed as supported, but some of its cases were not run",
                f.feature
            ));
        }
    }
    let recomputed = verdict(&report.coverage, &report.cases, &features);
    if recomputed != report.verdict {
        problems.push(format!(
            "verdict says {}; the cases give {}",
            report.verdict.word(),
            recomputed.word()
        ));
    }
}

/// Recorded causes, when a report has them, account for every failure and known failure
/// (and, from v3 on, every unstable and inconclusive case) once, in its own state, and for
/// nothing else.
fn causes(report: &Report, problems: &mut Vec<String>) {
    let Some(causes) = &report.causes else {
        return; // (written before causes were recorded)
    };
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for cause in causes {
        for name in &cause.cases {
            *seen.entry(name.as_str()).or_default() += 1;
            let case = report
                .cases
                .iter()
                .find(|c| format!("{}::{}", c.fixture, c.backend) == *name);
            match case {
                None => problems.push(format!(
                    "causes: {name:?} (cause {:?}) is not a case of the report",
                    cause.cause
                )),
                Some(c) if c.state != cause.state => problems.push(format!(
                    "causes: {name} is {}, but listed under a {} cause ({:?})",
                    c.state.word(),
                    cause.state.word(),
                    cause.cause
                )),
                Some(_) => {}
            }
        }
    }
    let grouped = |s: CaseState| match s {
        CaseState::Failed | CaseState::KnownFailure => true,
        CaseState::Unstable | CaseState::Inconclusive => report.api_version == API_VERSION,
        _ => false,
    };
    for c in &report.cases {
        if grouped(c.state) {
            let name = format!("{}::{}", c.fixture, c.backend);
            match seen.get(name.as_str()).copied().unwrap_or(0) {
                1 => {}
                0 => problems.push(format!(
                    "causes: case {name} is {} but under no cause",
                    c.state.word()
                )),
                n => problems.push(format!("causes: case {name} is under {n} causes")),
            }
        }
    }
}
