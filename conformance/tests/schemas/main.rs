//! The published formats, pure (neither root nor iptables): the fixture schema and the
//! versioned report, and the regressions `compare --baseline` finds between reports.

mod fixture_schema;
mod report_schema;
