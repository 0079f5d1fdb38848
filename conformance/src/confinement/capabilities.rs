//! The capabilities an implementation runs with: NET_ADMIN and NET_RAW by default (what
//! the reference's DaemonSet grants), plus whatever its profile's `capabilities` key adds
//! (an eBPF datapath needs BPF, for example). Everything else is dropped from the bounding
//! set before the implementation's exec, so neither it nor anything it runs (setuid or
//! file-capability binaries included: no_new_privs is set too) can have more.

use std::fmt;

use nix::libc;

/// Linux capability names, indexed by number (`capability.h`).
const NAMES: [&str; 41] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

const NET_ADMIN: u32 = 12;
const NET_RAW: u32 = 13;

/// A set of capabilities, as a bit mask by capability number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapabilitySet(u64);

/// A capability name that is not one.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("capabilities: {name:?} is not a Linux capability (write NET_ADMIN or CAP_NET_ADMIN)")]
pub struct UnknownCapability {
    pub name: String,
}

impl CapabilitySet {
    /// What the reference's DaemonSet grants: NET_ADMIN and NET_RAW.
    pub const DEFAULT: CapabilitySet = CapabilitySet((1 << NET_ADMIN) | (1 << NET_RAW));

    /// The default set plus `extra` (names as in `capability.h`, with or without `CAP_`).
    pub fn with_extra(extra: &[String]) -> Result<Self, UnknownCapability> {
        let mut bits = Self::DEFAULT.0;
        for name in extra {
            let bare = name.strip_prefix("CAP_").unwrap_or(name);
            let number = NAMES
                .iter()
                .position(|n| *n == bare)
                .ok_or_else(|| UnknownCapability { name: name.clone() })?;
            bits |= 1 << number;
        }
        Ok(CapabilitySet(bits))
    }

    pub fn contains(self, number: u32) -> bool {
        number < 64 && self.0 & (1 << number) != 0
    }

    /// The names in the set (`NET_ADMIN`, ...), by number.
    pub fn names(self) -> Vec<&'static str> {
        (0..NAMES.len() as u32)
            .filter(|&n| self.contains(n))
            .map(|n| NAMES[n as usize])
            .collect()
    }
}

impl fmt::Display for CapabilitySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.names().join(","))
    }
}

/// The highest capability number this kernel knows (read before the fork: the child may
/// not allocate).
pub fn last_capability() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(NAMES.len() as u32 - 1)
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const CAPABILITY_VERSION_3: u32 = 0x2008_0522;

fn last_errno() -> std::io::Error {
    std::io::Error::from_raw_os_error(nix::errno::Errno::last_raw())
}

/// Between fork and exec (no allocation): after this, an exec by this process or any of
/// its descendants yields at most `keep`. Sets no_new_privs, makes `keep` the inheritable
/// set, clears the ambient set, and drops every other capability from the bounding set.
/// This process keeps its own effective set (the caller's init needs none of it, and a
/// process holding more than the implementation cannot be ptraced by it).
///
/// # Safety
/// Only in a forked child before exec.
pub unsafe fn confine(keep: CapabilitySet, last: u32) -> std::io::Result<()> {
    let mut header = CapHeader {
        version: CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    if libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) != 0 {
        return Err(last_errno());
    }
    data[0].inheritable = keep.0 as u32;
    data[1].inheritable = (keep.0 >> 32) as u32;
    if libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) != 0 {
        return Err(last_errno());
    }
    if libc::prctl(
        libc::PR_CAP_AMBIENT,
        libc::PR_CAP_AMBIENT_CLEAR_ALL,
        0,
        0,
        0,
    ) != 0
    {
        return Err(last_errno());
    }
    for number in 0..=last.min(63) {
        if !keep.contains(number) && libc::prctl(libc::PR_CAPBSET_DROP, number, 0, 0, 0) != 0 {
            return Err(last_errno());
        }
    }
    if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
        return Err(last_errno());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_what_the_reference_daemonset_grants() {
        assert_eq!(CapabilitySet::DEFAULT.names(), ["NET_ADMIN", "NET_RAW"]);
        assert_eq!(CapabilitySet::DEFAULT.0, 0x3000);
    }

    #[test]
    fn extra_names_are_added_with_or_without_the_prefix() {
        let set = CapabilitySet::with_extra(&["BPF".into(), "CAP_SYS_ADMIN".into()]).unwrap();
        assert_eq!(set.names(), ["NET_ADMIN", "NET_RAW", "SYS_ADMIN", "BPF"]);
        assert_eq!(set.to_string(), "NET_ADMIN,NET_RAW,SYS_ADMIN,BPF");
    }

    #[test]
    fn an_unknown_name_is_refused_by_name() {
        let err = CapabilitySet::with_extra(&["net_admin".into()]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "capabilities: \"net_admin\" is not a Linux capability (write NET_ADMIN or CAP_NET_ADMIN)"
        );
    }
}
