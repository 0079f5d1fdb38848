//! Building a report from a finished run.

use std::path::Path;

use super::{
    environment, feature_results, verdict, CaseRecord, Coverage, ImplementationInfo, ProfileInfo,
    Report, SuiteInfo, Summary, API_VERSION,
};
use crate::profile::Profile;
use crate::records::Record;
use crate::vocabulary::{CaseState, Feature, IptablesBackend};

/// One trial the run knew of, run or not.
pub struct Planned {
    pub fixture: String,
    pub backend: IptablesBackend,
    pub features: Vec<Feature>,
}

/// What a report is built from.
pub struct RunFacts<'a> {
    pub profile: &'a Profile,
    pub profile_path: &'a Path,
    /// The profile's digest, of the bytes read before the run (`sha256:...`).
    pub profile_digest: &'a str,
    /// The suite's git commit, asked before the run ([`git_commit`]).
    pub commit: Option<&'a str>,
    /// The corpus digest, of what the trials were judged against.
    pub fixtures_digest: &'a str,
    /// Whether the run covered the whole suite.
    pub coverage: &'a Coverage,
    pub planned: &'a [Planned],
    pub records: &'a [Record],
    pub backends: &'a [IptablesBackend],
    pub argv: &'a [String],
    /// Why nothing ran, when nothing could.
    pub blocker: Option<&'a str>,
    /// The machine ([`environment::current`]).
    pub environment: environment::Environment,
}

fn limits_info(profile: &Profile) -> super::LimitsInfo {
    let settings = profile.limits();
    super::LimitsInfo {
        pids: settings.pids,
        memory_bytes: settings.memory_bytes,
        output_bytes: settings.output_bytes,
        mechanism: match crate::limits::Mechanism::detect() {
            crate::limits::Mechanism::V2 => "cgroup-v2",
            crate::limits::Mechanism::V1 => "cgroup-v1",
            crate::limits::Mechanism::Rlimits => "rlimits",
        }
        .into(),
    }
}

/// The git commit of the checkout `dir` is in, when it is in one.
pub fn git_commit(dir: &Path) -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(dir)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Quotes an argument for a POSIX shell when it needs it.
fn shell_quote(arg: &str) -> String {
    if !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@+".contains(c))
    {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', "'\\''"))
    }
}

/// The report of a run.
pub fn build(facts: &RunFacts<'_>) -> Report {
    let cases: Vec<CaseRecord> = facts
        .planned
        .iter()
        .map(|p| {
            let trial = format!("{}::{}", p.fixture, p.backend.name());
            let record = facts.records.iter().find(|r| r.trial == trial);
            let (state, reason) = match record {
                None => (
                    CaseState::NotRun,
                    Some(
                        facts
                            .blocker
                            .unwrap_or("filtered out of this run")
                            .to_string(),
                    ),
                ),
                Some(r) => match r.state {
                    CaseState::Passed => (CaseState::Passed, None),
                    CaseState::KnownFailure => (
                        CaseState::KnownFailure,
                        Some(format!(
                            "{} — {}",
                            r.reason.clone().unwrap_or_default(),
                            r.headline
                        )),
                    ),
                    CaseState::Unstable => (
                        CaseState::Unstable,
                        Some(match &r.reason {
                            Some(reason) => format!("{reason} — {}", r.headline),
                            None => r.headline.clone(),
                        }),
                    ),
                    other => (other, Some(r.headline.clone())),
                },
            };
            CaseRecord {
                fixture: p.fixture.clone(),
                backend: p.backend.name().to_string(),
                state,
                features: p.features.clone(),
                counts_for: record.and_then(|r| r.counts_for.clone()),
                skipped_steps: record.map(|r| r.skipped_steps.clone()).unwrap_or_default(),
                duration_ms: record.map(|r| r.duration.as_millis() as u64).unwrap_or(0),
                failing_step: record.and_then(|r| r.failing_step),
                reason,
                unstable: record.and_then(|r| r.unstable.clone()),
                measurements: record
                    .and_then(|r| super::measurements::Measurements::of_case(&r.measurements)),
                reload_latency: record.and_then(|r| {
                    let (p50, p99) = crate::case::reload::percentiles(&r.reload_latencies)?;
                    Some(super::Latency {
                        publications: r.reload_latencies.len(),
                        p50_ms: p50.as_secs_f64() * 1e3,
                        p99_ms: p99.as_secs_f64() * 1e3,
                    })
                }),
            }
        })
        .collect();
    let supported = |f: Feature| facts.profile.supports(f);
    let features = feature_results(&cases, &supported);
    let verdict = verdict(facts.coverage, &cases, &features);
    let mut command = vec!["masq-conformance".to_string()];
    command.extend(facts.argv.iter().skip(1).map(|a| shell_quote(a)));
    Report {
        api_version: API_VERSION.to_string(),
        implementation: ImplementationInfo {
            name: facts.profile.name.clone(),
            version: facts.profile.version.clone(),
            url: facts.profile.url.clone(),
            contact: facts.profile.contact.clone(),
        },
        suite: SuiteInfo {
            version: super::suite_cases::SUITE_VERSION.to_string(),
            commit: facts.commit.map(str::to_string),
            fixtures_digest: facts.fixtures_digest.to_string(),
        },
        environment: facts.environment.clone(),
        profile: ProfileInfo {
            path: facts.profile_path.display().to_string(),
            digest: facts.profile_digest.to_string(),
            capabilities: facts
                .profile
                .granted_capabilities()
                .names()
                .into_iter()
                .map(String::from)
                .collect(),
            limits: Some(limits_info(facts.profile)),
            config_source: facts.profile.adapter().map(|_| "adapter".to_string()),
            ipv6: match facts.profile.ipv6 {
                crate::profile::Ipv6Mode::Flag => None,
                crate::profile::Ipv6Mode::Always => Some("always".into()),
                crate::profile::Ipv6Mode::Never => Some("never".into()),
            },
        },
        coverage: facts.coverage.clone(),
        command: command.join(" "),
        causes: Some(
            crate::records::causes::root_causes(facts.records)
                .into_iter()
                .map(super::Cause::from)
                .collect(),
        ),
        measurements: super::measurements::Measurements::of_run(&crate::records::measured::of_run(
            facts.records,
        )),
        summary: Summary::of(&cases),
        features,
        cases,
        verdict,
    }
}
