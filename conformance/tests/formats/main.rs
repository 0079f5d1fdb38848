//! What needs neither root nor iptables: the published formats (the fixture schema and the
//! versioned report, and the regressions `compare --baseline` finds between reports), and
//! the command line's deprecated spellings, and the reports published in
//! conformance/reports/.

mod changelog_digest;
mod cli_deprecations;
mod fixture_features;
mod fixture_schema;
mod inconclusive;
mod input_files;
mod known_failures;
mod other_corpus;
mod presentation;
mod published_reports;
mod report_refusals;
mod report_schema;
mod reports;
