//! Snapshot documents: normalisation, and comparison through insta.
//!
//! Normalisation removes what differs between machines but not between behaviours: the
//! `iptables-save` banner and dates, chain counters in `iptables-save`, the byte column of
//! `iptables -L -v` (TCP SYN sizes differ between kernels; packet counts do not), the
//! spelling of the `prot` column (`0` on iptables 1.8.9/1.8.10, `all` elsewhere), column
//! padding, and "legacy tables present" warnings.

use std::path::Path;

/// Section headings that carry rule listings (waivable per profile).
pub const RULES_MARK: &str = "## rules";
pub const LISTING_MARK: &str = "## listing";
pub const OUTCOME_MARK: &str = "## outcome";

/// Normalises `iptables-save` output.
pub fn normalize_save(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let line = match line.strip_prefix(':') {
            // ":CHAIN POLICY [p:b]" -> ":CHAIN POLICY"
            Some(rest) => {
                let mut parts: Vec<&str> = rest.split_whitespace().collect();
                if parts.last().is_some_and(|p| p.starts_with('[')) {
                    parts.pop();
                }
                format!(":{}", parts.join(" "))
            }
            None => line.to_string(),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// Normalises `iptables -L <chain> -n -v -x` output.
pub fn normalize_listing(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let mut cols: Vec<&str> = line.split_whitespace().collect();
        if line.starts_with("Chain ") {
            out.push_str(&cols.join(" "));
        } else if cols.first() == Some(&"pkts") {
            cols.remove(1); // "bytes"
            out.push_str(&cols.join(" "));
        } else if cols.len() >= 4 && cols[0].parse::<u64>().is_ok() {
            cols.remove(1); // the byte count
            if cols.get(2) == Some(&"0") {
                cols[2] = "all";
            }
            out.push_str(&cols.join(" "));
        } else {
            out.push_str(&cols.join(" "));
        }
        out.push('\n');
    }
    out
}

/// Replaces the rule sections of `actual` with those of `stored`, so that only outcomes
/// can differ (profiles with `rule_listings: waived`).
pub fn with_stored_rules(actual: &str, stored: &str) -> String {
    let stored_sections = split_sections(stored);
    split_sections(actual)
        .into_iter()
        .map(|(head, body)| {
            if head.starts_with(RULES_MARK) || head.starts_with(LISTING_MARK) {
                let kept = stored_sections
                    .iter()
                    .find(|(h, _)| *h == head)
                    .map(|(_, b)| b.clone())
                    .unwrap_or(body);
                (head, kept)
            } else {
                (head, body)
            }
        })
        .map(|(h, b)| format!("{h}{b}"))
        .collect()
}

fn split_sections(doc: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in doc.split_inclusive('\n') {
        if line.starts_with("## ") || out.is_empty() {
            out.push((line.to_string(), String::new()));
        } else if let Some(last) = out.last_mut() {
            last.1.push_str(line);
        }
    }
    out
}

/// The body of a stored insta snapshot (after its `---` header), if the file exists.
pub fn stored_body(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let rest = text.strip_prefix("---\n")?;
    let end = rest.find("\n---\n")?;
    Some(rest[end + 5..].to_string())
}

/// A unified diff of expected vs actual, for failure messages.
pub fn diff(expected: &str, actual: &str) -> String {
    similar::TextDiff::from_lines(expected, actual)
        .unified_diff()
        .context_radius(3)
        .header("snapshot", "actual")
        .to_string()
}

/// Compares `doc` with `<dir>/<name>.snap` through insta (which writes `.snap.new` or
/// accepts per `INSTA_UPDATE`). Returns a message with the diff on mismatch.
pub fn assert_document(dir: &Path, name: &str, description: &str, doc: &str) -> Result<(), String> {
    let path = dir.join(format!("{name}.snap"));
    let stored = stored_body(&path);
    let expected = stored.as_deref().unwrap_or("");
    if stored.is_some() && expected.trim_end() == doc.trim_end() {
        return Ok(());
    }
    let message = match &stored {
        Some(expected) => format!(
            "snapshot {} differs:\n{}",
            path.display(),
            diff(expected, doc)
        ),
        None => format!(
            "snapshot {} does not exist yet; actual:\n{doc}",
            path.display()
        ),
    };
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(dir);
    settings.set_prepend_module_to_snapshot(false);
    settings.set_description(description);
    settings.set_omit_expression(true);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        settings.bind(|| insta::assert_snapshot!(name.to_string(), doc));
    }));
    match result {
        // insta accepted it (INSTA_UPDATE=always or force-pass): report what happened.
        Ok(()) => {
            eprintln!("note: {name}: snapshot written by insta (INSTA_UPDATE)");
            Ok(())
        }
        Err(_) => Err(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_loses_banners_and_counters_only() {
        let raw = "# Generated by iptables-save v1.8.9 on Wed Nov 25 15:37:35 2026\n*nat\n:POSTROUTING ACCEPT [3:180]\n:X - [0:0]\n-A X -d 10.0.0.0/8 -j RETURN\nCOMMIT\n# Completed on Wed\n";
        assert_eq!(
            normalize_save(raw),
            "*nat\n:POSTROUTING ACCEPT\n:X -\n-A X -d 10.0.0.0/8 -j RETURN\nCOMMIT\n"
        );
    }

    #[test]
    fn listing_keeps_packets_drops_bytes_and_prot_spelling() {
        let raw = "Chain X (1 references)\n    pkts      bytes target     prot opt in     out     source               destination         \n       3      180 RETURN     0    --  *      *       0.0.0.0/0            10.0.0.0/8           /* c */\n";
        assert_eq!(
            normalize_listing(raw),
            "Chain X (1 references)\npkts target prot opt in out source destination\n3 RETURN all -- * * 0.0.0.0/0 10.0.0.0/8 /* c */\n"
        );
    }

    #[test]
    fn waived_rules_keep_stored_listing_but_not_outcomes() {
        let stored = "## outcome\na\n## rules (iptables-save -t nat)\nOLD\n";
        let actual = "## outcome\nb\n## rules (iptables-save -t nat)\nNEW\n";
        assert_eq!(
            with_stored_rules(actual, stored),
            "## outcome\nb\n## rules (iptables-save -t nat)\nOLD\n"
        );
    }
}
