//! Listing kinds: which rules an implementation keeps, and so what the runner reads of
//! it (docs/validating-an-implementation.md §6).

use serde::Deserialize;

/// Which kind of rules an implementation keeps, and so which listings the runner reads
/// (docs/validating-an-implementation.md §6).
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ListingKind {
    /// iptables rules in the nat table: `iptables-save` and `iptables -L` sections are
    /// normative (unless `rule_listings: waived`), readiness looks for the chain.
    #[default]
    Iptables,
    /// A native nftables table of its own: readiness looks at that table, tamper steps
    /// damage it, and its listing is kept as the implementation's own regression
    /// snapshot (`fixtures/snapshots/<name>/`), never as a normative one.
    Nftables,
    /// No rules the runner can read (eBPF, ...): readiness by outcomes, no listings.
    None,
}

impl std::fmt::Display for ListingKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ListingKind::Iptables => "iptables",
            ListingKind::Nftables => "nftables",
            ListingKind::None => "none",
        })
    }
}

/// Settings of listing kind `nftables`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NftablesSettings {
    /// `FAMILY NAME` of the implementation's table (`inet ip-masq-agent`). Without it,
    /// every table iptables-nft does not own counts as the implementation's.
    #[serde(default)]
    pub table: Option<String>,
}

/// Checks the listing settings of a profile named `name`.
pub fn check(
    kind: ListingKind,
    nftables: Option<&NftablesSettings>,
    name: &str,
) -> Result<(), String> {
    if nftables.is_some() && kind != ListingKind::Nftables {
        return Err("nftables: only applies with `listings: nftables`".into());
    }
    if let Some(t) = nftables.and_then(|n| n.table.as_deref()) {
        crate::nftables::Table::parse(t).map_err(|e| format!("nftables: table: {e}"))?;
    }
    let safe = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if kind == ListingKind::Nftables && !safe {
        return Err(format!(
            "name: {name:?} names the directory of the implementation's snapshots (listings: nftables): use letters, digits, '.', '_' and '-'"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_tables_are_checked() {
        let named = NftablesSettings {
            table: Some("inet ip-masq-agent".into()),
        };
        assert!(check(ListingKind::Nftables, Some(&named), "agent-1.2").is_ok());
        let err = check(ListingKind::Nftables, None, "../x").unwrap_err();
        assert!(err.contains("\"../x\""), "{err}");
        assert!(check(ListingKind::Iptables, None, "any name / here").is_ok());
        let err = check(ListingKind::None, Some(&named), "x").unwrap_err();
        assert!(err.contains("only applies"), "{err}");
    }
}
