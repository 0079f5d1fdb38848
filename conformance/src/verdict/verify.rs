//! `masq-conformance verify-report FILE`: a report checks out only if it follows the
//! schema and every summary, feature result and the verdict are what its own case
//! records give. A hand-edited report (a count changed, a failure turned into a pass
//! without the rest) fails, saying what does not add up.

use super::{claimed, feature_results, verdict, CaseState, Report, Summary, API_VERSION};

/// Verifies a report's text; returns the report, or every problem found.
pub fn verify(text: &str) -> Result<Report, Vec<String>> {
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
        return Err(schema_errors);
    }
    let report: Report =
        serde_json::from_value(value).map_err(|e| vec![format!("not a report: {e}")])?;
    let mut problems = Vec::new();
    if report.api_version != API_VERSION {
        problems.push(format!(
            "apiVersion is {:?}; this suite reads {API_VERSION:?}",
            report.api_version
        ));
    }
    let claims = claimed(&report);
    let supported = |f| claims.get(&f).copied().unwrap_or(false);
    for c in &report.cases {
        let name = format!("{}::{}", c.fixture, c.backend);
        match c.state {
            CaseState::Passed if c.reason.is_some() || c.failing_step.is_some() => problems.push(
                format!("case {name} passed, yet carries a failure (reason or failing step)"),
            ),
            CaseState::Failed | CaseState::KnownFailure | CaseState::NotApplicable
                if c.reason.is_none() =>
            {
                problems.push(format!("case {name} is {:?} without a reason", c.state))
            }
            _ => {}
        }
        let needs_unclaimed = c.features.iter().any(|f| !supported(*f));
        let not_run = matches!(c.state, CaseState::Unsupported | CaseState::NotApplicable);
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
    for f in &features {
        match report.features.iter().find(|r| r.feature == f.feature) {
            None => problems.push(format!("feature {} is missing from the report", f.feature)),
            Some(r) if r != f => problems.push(format!(
                "feature {} says {:?} with {:?}; its cases give {:?} with {:?}",
                f.feature, r.state, r.counts, f.state, f.counts
            )),
            Some(_) => {}
        }
        if f.supported && f.state == super::FeatureState::NotRun {
            problems.push(format!(
                "feature {} is claimed as supported, but some of its cases were not run",
                f.feature
            ));
        }
    }
    let recomputed = verdict(&report.cases, &features);
    if recomputed != report.verdict {
        problems.push(format!(
            "verdict says {:?}; the cases give {recomputed:?}",
            report.verdict
        ));
    }
    if problems.is_empty() {
        Ok(report)
    } else {
        Err(problems)
    }
}
