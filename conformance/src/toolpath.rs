//! The implementation's PATH when some tools must be found only in the case's shim
//! directory: a directory of links to every program of the runner's PATH but those.
//!
//! - `--without-iptables` leaves the iptables family out, so that an implementation that
//!   needs no iptables is shown to run without it (its `/etc/alternatives/iptables*`
//!   links point into the shim directory, which has none: `/usr/sbin/iptables` dangles
//!   too);
//! - for listing kind `nftables`, `nft` is left out, so that the only `nft` on PATH is
//!   the shim a `fault` step replaces (a removed shim must not fall through to
//!   `/usr/sbin/nft`). An implementation that runs `/usr/sbin/nft` by absolute path is
//!   not reached by the faults: its fault cases then fail, they never pass.

use std::path::Path;

/// Program name prefixes left out: iptables and its relatives.
const LEFT_OUT: [&str; 5] = ["iptables", "ip6tables", "xtables", "arptables", "ebtables"];

/// Whether `name` is a program of the iptables family.
pub fn is_iptables_tool(name: &str) -> bool {
    LEFT_OUT.iter().any(|p| name.starts_with(p))
}

/// The runner's PATH, or the usual one.
fn runner_path() -> String {
    std::env::var("PATH").unwrap_or_else(|_| "/usr/sbin:/usr/bin:/sbin:/bin".into())
}

/// Creates `tools` (links to every program of the runner's PATH but those `left_out`
/// says; the first directory wins, as on PATH) and `shim_dir`.
pub fn make_tool_dir(
    tools: &Path,
    shim_dir: &Path,
    left_out: &dyn Fn(&str) -> bool,
) -> std::io::Result<()> {
    std::fs::create_dir_all(shim_dir)?;
    std::fs::create_dir_all(tools)?;
    for dir in runner_path().split(':').filter(|d| !d.is_empty()) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            if left_out(&name.to_string_lossy()) {
                continue;
            }
            let link = tools.join(&name);
            if std::fs::symlink_metadata(&link).is_err() {
                std::os::unix::fs::symlink(entry.path(), &link)?;
            }
        }
    }
    Ok(())
}

/// Links `nft` into the shim directory, where the `fault` steps replace it.
pub fn link_nft(shim_dir: &Path) -> std::io::Result<()> {
    let nft = crate::nftables::binary().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "nft is not installed (the nftables package)",
        )
    })?;
    std::fs::create_dir_all(shim_dir)?;
    let link = shim_dir.join("nft");
    if std::fs::symlink_metadata(&link).is_err() {
        std::os::unix::fs::symlink(nft, link)?;
    }
    Ok(())
}

/// The PATH of an implementation: the shim directory first, then the tool directory of a
/// run without iptables, or the runner's own PATH.
pub fn implementation_path(shim_dir: &Path, tools: Option<&Path>) -> String {
    match tools {
        Some(t) => format!("{}:{}", shim_dir.display(), t.display()),
        None => format!("{}:{}", shim_dir.display(), runner_path()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tool_dir_has_no_iptables() {
        let dir = tempfile::tempdir().unwrap();
        let (tools, shims) = (dir.path().join("sbin"), dir.path().join("bin"));
        make_tool_dir(&tools, &shims, &|n| is_iptables_tool(n) || n == "nft").unwrap();
        let names: Vec<String> = std::fs::read_dir(&tools)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().any(|n| n == "sh"), "{names:?}");
        assert!(!names.iter().any(|n| is_iptables_tool(n)), "{names:?}");
        assert!(!names.iter().any(|n| n == "nft"), "{names:?}");
        assert!(is_iptables_tool("ip6tables-restore") && !is_iptables_tool("ip"));
        assert_eq!(std::fs::read_dir(&shims).unwrap().count(), 0);
    }
}
