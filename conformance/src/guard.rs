//! The safety guard: iptables and implementations run only in namespaces this runner made.
//!
//! Every namespace the runner creates is registered here by its (device, inode) identity.
//! [`check`] refuses a namespace that is not registered, or that is the namespace the
//! process started in, or that of PID 1 — so a bug elsewhere can never point iptables at
//! the machine's own tables.

use std::collections::BTreeSet;
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::sync::{Mutex, OnceLock};

/// Identity of a namespace: the (device, inode) of its nsfs file.
pub type NsId = (u64, u64);

/// Why the guard refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GuardError {
    #[error("refusing to act in the initial network namespace ({0:?}): only runner-created namespaces are allowed")]
    InitialNamespace(NsId),
    #[error("refusing to act in network namespace {0:?}: it was not created by this runner")]
    NotRunnerCreated(NsId),
    #[error("cannot identify network namespace: {0}")]
    Unidentifiable(String),
}

fn registry() -> &'static Mutex<BTreeSet<NsId>> {
    static REGISTRY: OnceLock<Mutex<BTreeSet<NsId>>> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(BTreeSet::new()))
}

/// The namespaces that must never be touched: the one this process started in (captured
/// the first time the guard is used, from the main thread's view) and PID 1's.
fn forbidden() -> &'static Vec<NsId> {
    static FORBIDDEN: OnceLock<Vec<NsId>> = OnceLock::new();
    FORBIDDEN.get_or_init(|| {
        ["/proc/self/ns/net", "/proc/1/ns/net"]
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| (m.dev(), m.ino()))
            .collect()
    })
}

/// Captures the initial namespace identity. Call first thing in `main`, before any thread
/// changes namespace.
pub fn init() {
    forbidden();
}

/// Identity of the namespace behind an open nsfs file.
pub fn identify(file: &File) -> Result<NsId, GuardError> {
    let meta = file
        .metadata()
        .map_err(|e| GuardError::Unidentifiable(e.to_string()))?;
    Ok((meta.dev(), meta.ino()))
}

/// Records a namespace as created by this runner.
pub fn register(file: &File) -> Result<NsId, GuardError> {
    let id = identify(file)?;
    if forbidden().contains(&id) {
        return Err(GuardError::InitialNamespace(id));
    }
    registry()
        .lock()
        .expect("guard registry poisoned")
        .insert(id);
    Ok(id)
}

/// Forgets a namespace (it is being removed).
pub fn unregister(id: NsId) {
    registry()
        .lock()
        .expect("guard registry poisoned")
        .remove(&id);
}

/// Allows acting in `file`'s namespace only if this runner created it.
pub fn check(file: &File) -> Result<NsId, GuardError> {
    let id = identify(file)?;
    if forbidden().contains(&id) {
        return Err(GuardError::InitialNamespace(id));
    }
    if !registry()
        .lock()
        .expect("guard registry poisoned")
        .contains(&id)
    {
        return Err(GuardError::NotRunnerCreated(id));
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_the_initial_namespace() {
        init();
        let own = File::open("/proc/self/ns/net").unwrap();
        assert!(matches!(check(&own), Err(GuardError::InitialNamespace(_))));
        // Even registering it is refused.
        assert!(matches!(
            register(&own),
            Err(GuardError::InitialNamespace(_))
        ));
    }
}
