//! The comparison as one self-contained HTML page (no network, no script). Everything a
//! reader needs is on the page, never only in a tooltip (issue 21: tooltips are invisible
//! in a screenshot, on a phone, in print): each run's suite, commit and machine; the
//! features coloured by severity, each failing cell expandable (`<details>`) into its
//! causes; each implementation's root causes; the disagreements grouped.

use std::fmt::Write as _;

use super::{disagreements, severity, short_commit, title, Cell, Severity};
use crate::records::causes::fixtures_text;
use crate::verdict::{causes_of, Cause, FeatureResult, FeatureState, Report};
use crate::vocabulary::markup::html as esc;
use crate::vocabulary::{CaseState, Level};

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#1b1f24;background:#fff}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:2em}h3{font-size:1em;margin:1.2em 0 .4em}
table{border-collapse:collapse;margin-bottom:1em}th,td{border:1px solid #d0d7de;padding:.35em .6em;text-align:left;vertical-align:top}
th{background:#f6f8fa}.passed{background:#dafbe1}.sev-few{background:#fff8c5}.sev-most{background:#ffcecb}
.failed{font-weight:600}.unsupported,.not-applicable{background:#f6f8fa;color:#57606a}.not-run,.unobserved{background:#ddf4ff}
.known-failure,.unstable{background:#fff8c5}.inconclusive{background:#ddf4ff}td.failed-case{background:#ffebe9}
.core{font-weight:600}.level{color:#57606a;font-size:12px}.why{font-weight:400;font-size:12px;color:#424a53;max-width:34em}
.meta{font-size:12px;color:#424a53}code{font-size:12px}summary{cursor:pointer}details ul{margin:.3em 0;padding-left:1.2em}
.v-conformant{background:#dafbe1}.v-partially-conformant{background:#fff8c5}.v-non-conformant{background:#ffcecb}
.v-incomplete,.v-partial-run{background:#eaeef2}.verdict{font-weight:700}
.legend .key{display:inline-block;margin-right:.6em;padding:.1em .5em;border:1px solid #d0d7de}
.i-ok{color:#1a7f37;font-weight:700}.i-bad{color:#cf222e;font-weight:700}.i-warn{color:#9a6700;font-weight:700}.i-off{color:#57606a}
@media print{details>summary{list-style:none}}";

/// A state's mark: plain text glyphs in a colour, not emoji, which a machine without an
/// emoji font (a CI runner's headless browser, print) shows as empty boxes.
fn mark(word: &str) -> String {
    let (glyph, class) = match word {
        "passed" => ("✓", "i-ok"),
        "failed" => ("✗", "i-bad"),
        "partial" | "known-failure" => ("⚠", "i-warn"),
        "unsupported" => ("–", "i-off"),
        "not-applicable" => ("∅", "i-off"),
        "not-run" => ("○", "i-off"),
        "unstable" => ("≈", "i-warn"),
        "inconclusive" => ("?", "i-bad"),
        _ => ("?", "i-off"),
    };
    format!("<span class=\"{class}\">{glyph}</span>")
}

fn case_icon(state: CaseState) -> String {
    mark(state.word())
}

fn feature_icon(state: FeatureState) -> String {
    mark(state.word())
}

/// Fixtures a summary names before `…`.
const NAMED: usize = 3;

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

/// The page.
pub fn html(reports: &[Report]) -> String {
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>ip-masq-agent conformance</title>\n<style>\n{STYLE}\n</style></head><body>\n<h1>ip-masq-agent conformance</h1>\n"
    );
    out.push_str("<p class=\"legend\"><span class=\"key passed\">passed</span><span class=\"key sev-few\">a few cases fail</span><span class=\"key sev-most\">most cases fail</span><span class=\"key unsupported\">unsupported / not applicable</span><span class=\"key not-run\">not run / unobserved / inconclusive</span> <span class=\"i-bad\">✗</span> failed (unexpected) · <span class=\"i-warn\">⚠</span> known failure (listed in the profile) · <span class=\"i-warn\">≈</span> unstable · <span class=\"i-bad\">?</span> inconclusive (not judged: the period was not known) · click a cell or a row to expand it</p>\n");
    runs(&mut out, reports);
    matrix(&mut out, reports);
    root_causes(&mut out, reports);
    disagreement_table(&mut out, reports);
    out.push_str("</body></html>\n");
    out
}

/// Who was tested, with which suite, on what: visible, not in a tooltip.
fn runs(out: &mut String, reports: &[Report]) {
    out.push_str("<h2>Runs</h2>\n<table><tr><th>implementation</th><th>verdict</th><th>cases</th><th>suite</th><th>environment</th></tr>\n");
    for r in reports {
        let s = &r.summary;
        let coverage = if r.coverage.is_full() {
            String::new()
        } else {
            format!(
                "<div class=\"why\">restricted by {}</div>",
                esc(&r.coverage.restricted_by.join("; "))
            )
        };
        let iptables: Vec<String> = r
            .environment
            .iptables
            .iter()
            .map(|(b, v)| format!("{}: {}", esc(b), esc(v)))
            .collect();
        write!(
            out,
            "<tr><td><b>{}</b>{}</td><td class=\"verdict v-{v}\">{v}{coverage}</td><td class=\"meta\">{} passed · {} failed · {} known failures{}<br>{} unsupported · {} not applicable · {} not run</td><td class=\"meta\">masq-conformance {}<br>commit <code>{}</code><br>corpus <code>{}</code></td><td class=\"meta\">{} · {}<br>kernel {}<br>{}</td></tr>",
            esc(&title(r)),
            r.implementation
                .url
                .as_deref()
                .map(|u| format!("<div class=\"meta\">{}</div>", esc(u)))
                .unwrap_or_default(),
            s.passed,
            s.failed,
            s.known_failures,
            // (Named when there are any: neither is a pass nor a failure.)
            [(s.unstable, "unstable"), (s.inconclusive, "inconclusive")]
                .iter()
                .filter(|(n, _)| *n > 0)
                .map(|(n, w)| format!(" · {n} {w}"))
                .collect::<String>(),
            s.unsupported,
            s.not_applicable,
            s.not_run,
            esc(&r.suite.version),
            esc(r.suite.commit.as_deref().map(short_commit).unwrap_or("unknown")),
            esc(digest_short(&r.suite.fixtures_digest)),
            esc(&r.environment.distribution),
            esc(&r.environment.architecture),
            esc(&r.environment.kernel),
            if iptables.is_empty() {
                "iptables not run".to_string()
            } else {
                iptables.join("<br>")
            },
            v = r.verdict.word(),
        )
        .ok();
        out.push('\n');
    }
    out.push_str("</table>\n");
}

/// `sha256:` and the first 12 hex digits.
fn digest_short(d: &str) -> &str {
    let end = d.find(':').map_or(0, |i| i + 1) + super::SHORT_COMMIT;
    d.get(..end).unwrap_or(d)
}

/// The causes of `r` restricted to the cases of `feature`.
fn feature_causes(r: &Report, causes: &[Cause], f: &FeatureResult) -> Vec<Cause> {
    causes
        .iter()
        .filter_map(|c| {
            let cases: Vec<String> = c
                .cases
                .iter()
                .filter(|name| {
                    r.cases.iter().any(|k| {
                        k.counts_for(f.feature) && format!("{}::{}", k.fixture, k.backend) == **name
                    })
                })
                .cloned()
                .collect();
            (!cases.is_empty()).then(|| Cause { cases, ..c.clone() })
        })
        .collect()
}

fn cause_items(causes: &[Cause]) -> String {
    causes
        .iter()
        .map(|c| {
            format!(
                "<li>{} <b>{}</b> {}<div class=\"why\">{}</div></li>",
                case_icon(c.state),
                c.cases.len(),
                esc(&c.cause),
                esc(&fixtures_text(&c.cases))
            )
        })
        .collect()
}

/// Features as rows: a failing cell is coloured by how many of its cases failed, and
/// opens into the causes of its failures.
fn matrix(out: &mut String, reports: &[Report]) {
    out.push_str("<h2>Features</h2>\n<table><tr><th>feature</th>");
    for r in reports {
        write!(
            out,
            "<th>{}<div class=\"why\">{}</div></th>",
            esc(&title(r)),
            r.verdict.word()
        )
        .ok();
    }
    out.push_str("</tr>\n");
    let causes: Vec<Vec<Cause>> = reports.iter().map(causes_of).collect();
    let features = reports
        .first()
        .map(|r| r.features.clone())
        .unwrap_or_default();
    for (i, f) in features.iter().enumerate() {
        let core = f.level == Level::Core;
        write!(
            out,
            "<tr><td class=\"{}\">{} <span class=\"level\">{}</span></td>",
            if core { "core" } else { "" },
            esc(&f.feature.name()),
            if core { "core" } else { "extended" }
        )
        .ok();
        for (r, rc) in reports.iter().zip(&causes) {
            let Some(x) = r.features.get(i).filter(|x| x.feature == f.feature) else {
                out.push_str("<td>—</td>");
                continue;
            };
            let class = match (x.state, severity(&x.counts)) {
                (FeatureState::Failed | FeatureState::Partial, Severity::Most) => "sev-most",
                (FeatureState::Failed | FeatureState::Partial, _) => "sev-few",
                (s, _) => s.word(),
            };
            let ran = x.counts.ran();
            let text = format!(
                "{} {} {}/{}",
                feature_icon(x.state),
                x.state.word(),
                x.counts.passed,
                ran
            );
            let mine = feature_causes(r, rc, x);
            if mine.is_empty() {
                write!(out, "<td class=\"{class}\">{text}</td>").ok();
            } else {
                write!(
                    out,
                    "<td class=\"{class}\"><details><summary>{text}</summary><ul>{}</ul></details></td>",
                    cause_items(&mine)
                )
                .ok();
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

/// Each implementation's failures grouped by root cause, the cause always visible, its
/// cases a click away.
fn root_causes(out: &mut String, reports: &[Report]) {
    let any = reports.iter().any(|r| !causes_of(r).is_empty());
    if !any {
        return;
    }
    out.push_str("<h2>Root causes</h2>\n");
    for r in reports {
        let causes = causes_of(r);
        if causes.is_empty() {
            continue;
        }
        let cases: usize = causes.iter().map(|c| c.cases.len()).sum();
        write!(
            out,
            "<h3>{}: {} in {}</h3>\n<table><tr><th></th><th>cause</th><th>cases</th></tr>\n",
            esc(&title(r)),
            plural(cases, "case"),
            plural(causes.len(), "cause")
        )
        .ok();
        for c in &causes {
            write!(
                out,
                "<tr><td class=\"{}\">{} {}</td><td class=\"why\">{}</td><td>{}</td></tr>",
                c.state.word(),
                case_icon(c.state),
                c.state.word(),
                esc(&c.cause),
                fixture_details(&c.cases, true)
            )
            .ok();
            out.push('\n');
        }
        out.push_str("</table>\n");
    }
}

/// A list of trials (or fixtures) as an expandable summary: the count and the first few
/// names, the whole list when opened.
fn fixture_details(names: &[String], trials: bool) -> String {
    let text = if trials {
        fixtures_text(names)
    } else {
        names.join(", ")
    };
    let parts: Vec<&str> = text.split(", ").collect();
    let count = if trials {
        plural(names.len(), "case")
    } else {
        plural(names.len(), "fixture")
    };
    if parts.len() <= NAMED {
        return format!("{count}: {}", esc(&text));
    }
    format!(
        "<details><summary>{count}: {}, …</summary><div class=\"why\">{}</div></details>",
        esc(&parts[..NAMED].join(", ")),
        esc(&text)
    )
}

fn cell_html(cell: &Cell) -> String {
    if cell.0.is_empty() {
        return "<td>—</td>".into();
    }
    let worst = cell
        .0
        .iter()
        .map(|(_, s, _)| *s)
        .find(|s| *s == CaseState::Failed)
        .or_else(|| cell.0.first().map(|(_, s, _)| *s))
        .unwrap_or(CaseState::Passed);
    let class = if worst == CaseState::Failed {
        "failed-case".to_string()
    } else {
        worst.word().to_string()
    };
    let parts: String = cell
        .0
        .iter()
        .map(|(backend, state, cause)| {
            format!(
                "<div>{}{} {}{}</div>",
                backend
                    .as_deref()
                    .map(|b| format!("<b>{}</b>: ", esc(b)))
                    .unwrap_or_default(),
                case_icon(*state),
                state.word(),
                cause
                    .as_deref()
                    .map(|c| format!("<div class=\"why\">{}</div>", esc(c)))
                    .unwrap_or_default()
            )
        })
        .collect();
    format!("<td class=\"{class}\">{parts}</td>")
}

/// The cases where the reports disagree, grouped (see the module above).
fn disagreement_table(out: &mut String, reports: &[Report]) {
    let rows = disagreements(reports);
    if rows.is_empty() {
        return;
    }
    let fixtures: usize = rows.iter().map(|r| r.fixtures.len()).sum();
    write!(
        out,
        "<h2>Cases where they disagree</h2>\n<p class=\"meta\">{} in {}: fixtures every implementation treats alike share a row; a fixture's backends share a cell when they ended alike.</p>\n<table><tr><th>fixtures</th>",
        plural(fixtures, "fixture"),
        plural(rows.len(), "group")
    )
    .ok();
    for r in reports {
        write!(out, "<th>{}</th>", esc(&title(r))).ok();
    }
    out.push_str("</tr>\n");
    for row in rows {
        write!(
            out,
            "<tr><td>{}</td>",
            fixture_details(&row.fixtures, false)
        )
        .ok();
        for c in &row.cells {
            out.push_str(&cell_html(c));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}
