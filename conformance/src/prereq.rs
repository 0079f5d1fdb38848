//! Prerequisites of tests that need root or tools: a test that cannot run is reported as
//! ignored with its reason, never as a pass — and under `CI=true` it fails the run, so a
//! CI machine that lacks something cannot go green by skipping.

/// Whether missing prerequisites must fail the run (`CI=true`, as CI systems set it).
pub fn required() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// What a harness does about a missing prerequisite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrereqAction {
    /// Everything is there: run.
    Run,
    /// Report the tests as ignored, with this reason.
    Ignore(String),
    /// Fail the run with this reason (CI).
    Fail(String),
}

/// What to do about a missing prerequisite (`None`: nothing missing).
pub fn action(missing: Option<String>) -> PrereqAction {
    match missing {
        None => PrereqAction::Run,
        Some(why) if required() => PrereqAction::Fail(format!(
            "{why}; CI=true, so a test that cannot run fails instead of being ignored"
        )),
        Some(why) => PrereqAction::Ignore(why),
    }
}
