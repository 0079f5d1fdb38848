//! Faults and tampering: what the runner does to the node behind the implementation's
//! back — broken tools, a held lock, a flapping config, damaged rules, stale rules.

use crate::document::Section;
use std::collections::BTreeSet;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;
use std::time::{Duration, Instant};

use super::error::StepError;
use super::CaseExecution;
use crate::fixture::{Fault, Flap, Tamper};
use crate::profile::ListingKind;
use crate::vocabulary::Family;

/// The restore tools a fault replaces.
const RESTORE_TOOLS: [&str; 2] = [Family::V4.iptables_restore(), Family::V6.iptables_restore()];

/// How often `tamper: delete-chain` tries when the implementation races it.
const TAMPER_ATTEMPTS: usize = 5;

/// How long a `fault: lock-held` lasts at least: longer than the longest `-w` an
/// implementation may give iptables (the reference's is 5 s), so that a round blocked on
/// the lock gives up while it is held, and the implementation must survive that.
pub const LOCK_HELD_AT_LEAST: Duration = Duration::from_secs(7);

/// How long a flap may go on past its `for`, at most, waiting for the implementation to
/// read a bad version, beyond a few of its periods.
const FLAP_EXTENSION: Duration = Duration::from_secs(10);

/// Fault state that outlives its step.
#[derive(Default)]
pub struct Faults {
    /// Held while a `fault: lock-held` lasts, and since when.
    lock_holder: Option<(nix::fcntl::Flock<std::fs::File>, Instant)>,
}

impl CaseExecution<'_> {
    pub(super) fn fault(&mut self, fault: &Fault) -> Result<(), StepError> {
        // Captured before acting: the implementation may react before the runner looks.
        let before = self.node.current_rules().unwrap_or_default();
        let shim_dir = &self.node.shim_dir;
        let shim = |tool: &'static str| (shim_dir.as_path(), tool);
        // The tools that write the implementation's rules: `nft` for kind nftables, the
        // restore tools otherwise (none of them when iptables is left out).
        let nftables = self.spec.profile.listings == ListingKind::Nftables;
        let mut writers: Vec<&str> = Vec::new();
        if nftables {
            writers.push("nft");
        }
        if !nftables && !self.node.without_iptables {
            writers.extend(RESTORE_TOOLS);
        }
        match fault {
            Fault::RestoreFailing => {
                let fail = ["/usr/bin/false", "/bin/false"]
                    .iter()
                    .map(Path::new)
                    .find(|p| p.exists())
                    .ok_or_else(|| {
                        StepError::Misuse(
                            "fault: no `false` binary to stand in for iptables-restore".into(),
                        )
                    })?;
                for tool in &writers {
                    replace_symlink(shim(tool), Some(fail))?;
                }
            }
            Fault::RestoreMissing => {
                for tool in &writers {
                    replace_symlink(shim(tool), None)?;
                }
            }
            Fault::LockHeld => {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
                    .open(&self.node.lock_file)
                    .map_err(|e| StepError::io("opening the xtables lock", e))?;
                let held = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
                    .map_err(|(_, e)| StepError::io("taking the xtables lock", e.into()))?;
                self.faults.lock_holder = Some((held, Instant::now()));
            }
            Fault::Cleared => {
                if let Some((_, since)) = &self.faults.lock_holder {
                    // Held past iptables' own wait: a round that gave up must not have
                    // taken the implementation with it.
                    let until = *since + LOCK_HELD_AT_LEAST;
                    while Instant::now() < until {
                        self.implementation.check_alive()?;
                        std::thread::sleep(crate::poll::EVERY.min(until - Instant::now()));
                    }
                    self.implementation.check_alive()?;
                }
                self.faults.lock_holder = None;
                if nftables {
                    let real = crate::nftables::binary()
                        .ok_or_else(|| StepError::Misuse("fault: nft vanished".into()))?;
                    replace_symlink(shim("nft"), Some(&real))?;
                } else if !self.node.without_iptables {
                    let real = self.spec.backend.binary().ok_or_else(|| {
                        StepError::Misuse("fault: the backend's binary vanished".into())
                    })?;
                    for tool in RESTORE_TOOLS {
                        replace_symlink(shim(tool), Some(&real))?;
                    }
                }
            }
            Fault::Flap(flap) => return self.flap(flap),
        }
        self.waits.baseline = Some(before);
        Ok(())
    }

    /// Alternates bad and good configs; records whether the nat table ever moved (for
    /// listing kind none, which has no table to read: whether the outcomes of new UDP
    /// flows to the standard destinations ever moved). Samples are compared with the
    /// profile's listing waivers applied, as the snapshots are. The flap proves something
    /// only if the implementation read a bad version: it goes on past its `for` until it
    /// has (a few of its periods at most), and fails if it never did.
    fn flap(&mut self, flap: &Flap) -> Result<(), StepError> {
        let (every, total) = (flap.every.get(), flap.duration.get());
        let rules_before = self.node.current_rules()?;
        let before = self.flap_sample()?;
        let started = Instant::now();
        let deadline = started + total;
        let extended = deadline
            + (self.period().saturating_mul(3) + FLAP_EXTENSION).min(crate::poll::MAX_WAIT);
        let (mut swaps, mut changed) = (0u32, 0u32);
        let mut bad_versions = BTreeSet::new();
        loop {
            // Past `for`, the flap ends after a good version once a bad one was read.
            let now = Instant::now();
            let done =
                now >= deadline && swaps % 2 == 0 && self.node.volume.opens_of(&bad_versions) > 0;
            if done || now >= extended {
                break;
            }
            let bad = swaps % 2 == 0;
            let source = if bad { &flap.bad } else { &flap.good };
            self.node.publish_source(source)?;
            if bad {
                bad_versions.insert(self.node.volume.generation());
            }
            swaps += 1;
            std::thread::sleep(every);
            if self.flap_sample()? != before {
                changed += 1;
            }
        }
        self.node.publish_source(&flap.good)?;
        let bad_reads = self.node.volume.opens_of(&bad_versions);
        if bad_reads == 0 {
            return Err(StepError::BadVersionNeverRead {
                versions: bad_versions.len(),
                within: started.elapsed(),
            });
        }
        // Swap counts vary with machine speed; whether the table moved does not.
        self.out.document.push(Section::note(
            "flap",
            self.step_no,
            format!("config flapped between good and bad every {}; nat table changed during flapping: {}\n", flap.every,
            if changed == 0 { "never" } else { "yes" }),
        ));
        self.waits.baseline = Some(rules_before);
        Ok(())
    }

    /// What the flap watches: the implementation's rules, or for kind none outcomes.
    fn flap_sample(&mut self) -> Result<String, StepError> {
        match self.spec.profile.listings {
            ListingKind::None => {
                let targets = crate::vocabulary::standard_targets();
                let table = self.probe(&targets, &[crate::vocabulary::Proto::Udp])?;
                Ok(crate::document::render_table(&table))
            }
            ListingKind::Iptables => {
                let waived: Vec<_> = self
                    .spec
                    .profile
                    .listing_waivers
                    .iter()
                    .map(|w| w.aspect)
                    .collect();
                let rules = self.node.current_rules()?;
                Ok(crate::document::waivers::rewrite_rules(&rules, &waived))
            }
            ListingKind::Nftables => self.node.current_rules(),
        }
    }

    pub(super) fn tamper(&mut self, t: Tamper) -> Result<(), StepError> {
        match self.spec.profile.listings {
            ListingKind::Nftables => return self.tamper_nft(t),
            ListingKind::None => return Err(StepError::Misuse(
                "tamper: an implementation of listing kind none has no rules the runner can damage"
                    .into(),
            )),
            ListingKind::Iptables => {}
        }
        if t == Tamper::DeleteSetElement {
            return Err(StepError::Misuse(
                "tamper: delete-set-element needs an implementation of listing kind nftables"
                    .into(),
            ));
        }
        let chain = self.chain();
        for &family in self.node.families {
            match t {
                Tamper::FlushChain => {
                    self.node.tables().nat(family, &["-F", &chain])?;
                }
                Tamper::DeleteJump => self.delete_jumps(family, &chain)?,
                Tamper::DeleteChain => {
                    // The jumps, the rules and the chain go in one atomic restore, so the
                    // implementation cannot put its jump back in between ("Too many
                    // links"); it may still add one between the listing and the restore:
                    // try again, a bounded number of times.
                    let mut last = None;
                    for _ in 0..TAMPER_ATTEMPTS {
                        let tables = self.node.tables();
                        let payload = delete_chain_payload(&tables.save_nat(family)?, &chain);
                        match tables.restore_nat(family, &payload) {
                            Ok(_) => {
                                last = None;
                                break;
                            }
                            Err(e) => last = Some(e),
                        }
                    }
                    if let Some(e) = last {
                        return Err(e.into());
                    }
                }
                Tamper::DeleteSetElement => unreachable!("refused above"),
            }
        }
        Ok(())
    }

    /// The nftables meaning of each tamper: `flush-chain` flushes every chain of the
    /// implementation's tables, `delete-jump` its base chains (what hooks it into
    /// postrouting), `delete-chain` deletes its tables, `delete-set-element` deletes one
    /// element of a set (the first of the first set with any).
    fn tamper_nft(&mut self, t: Tamper) -> Result<(), StepError> {
        let nft = self.node.nft();
        // Damage to nothing would pass any implementation: it is the case's error.
        if nft.tables()?.is_empty() {
            return Err(StepError::Misuse(format!(
                "tamper: the implementation has no nftables table to damage (profile nftables.table: {})",
                self.spec
                    .profile
                    .nftables
                    .as_ref()
                    .and_then(|n| n.table.as_deref())
                    .unwrap_or("not set: any table iptables-nft does not own")
            )));
        }
        match t {
            Tamper::FlushChain => nft.flush_rules()?,
            Tamper::DeleteJump => nft.flush_base_chains()?,
            Tamper::DeleteChain => nft.delete_tables()?,
            Tamper::DeleteSetElement => {
                if nft.delete_set_element()?.is_none() {
                    return Err(StepError::Misuse(
                        "tamper: delete-set-element found no set with an element in the implementation's tables".into(),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Deletes every POSTROUTING jump to `chain`.
    fn delete_jumps(&self, family: Family, chain: &str) -> Result<(), StepError> {
        let tables = self.node.tables();
        let save = tables.save_nat(family)?;
        for line in save.lines() {
            if line.starts_with("-A POSTROUTING ") && line.ends_with(&format!("-j {chain}")) {
                let args = split_rule(&line[3..]);
                let mut del = vec!["-D"];
                del.extend(args.iter().map(String::as_str));
                tables.nat(family, &del)?;
            }
        }
        Ok(())
    }

    pub(super) fn preload(&mut self, lines: &[String]) -> Result<(), StepError> {
        if self.node.without_iptables {
            return Err(StepError::Misuse(
                "preload: needs iptables, which this run leaves out (--without-iptables)".into(),
            ));
        }
        let tables = self.node.tables();
        for line in lines {
            let args = split_rule(line);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            tables.nat(Family::V4, &args)?;
        }
        Ok(())
    }
}

/// Atomically points the shim `name` at `target` (or removes it). The shim directory is
/// opened without following a link and worked on by name: a directory swapped for a
/// symbolic link to somewhere else is refused, never written through.
fn replace_symlink((dir, name): (&Path, &str), target: Option<&Path>) -> Result<(), StepError> {
    use nix::fcntl::{open, renameat, OFlag};
    use nix::unistd::{symlinkat, unlinkat, UnlinkatFlags};
    let what = || format!("replacing {name} in {}", dir.display());
    let io = |e: nix::errno::Errno| StepError::io(what(), e.into());
    let dir_fd = open(
        dir,
        OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_RDONLY,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(io)?;
    let tmp = format!("{name}.tmp");
    let _ = unlinkat(&dir_fd, tmp.as_str(), UnlinkatFlags::NoRemoveDir);
    match target {
        Some(t) => symlinkat(t, &dir_fd, tmp.as_str())
            .and_then(|()| renameat(&dir_fd, tmp.as_str(), &dir_fd, name))
            .map_err(io),
        None => match unlinkat(&dir_fd, name, UnlinkatFlags::NoRemoveDir) {
            Ok(()) | Err(nix::errno::Errno::ENOENT) => Ok(()),
            Err(e) => Err(io(e)),
        },
    }
}

/// An `iptables-restore --noflush` payload that deletes every POSTROUTING jump to
/// `chain` found in `save`, then flushes and deletes the chain.
fn delete_chain_payload(save: &str, chain: &str) -> String {
    let mut payload = String::from("*nat\n");
    for line in save.lines() {
        if let Some(rule) = line.strip_prefix("-A POSTROUTING ") {
            if line.ends_with(&format!("-j {chain}")) {
                payload.push_str(&format!("-D POSTROUTING {rule}\n"));
            }
        }
    }
    payload.push_str(&format!("-F {chain}\n-X {chain}\nCOMMIT\n"));
    payload
}

/// Splits an iptables-save rule into arguments, honouring double quotes.
pub fn split_rule(rule: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    let mut chars = rule.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if quoted => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            '"' => {
                quoted = !quoted;
                any = true;
            }
            ' ' if !quoted => {
                if any || !cur.is_empty() {
                    args.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        args.push(cur);
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chain_and_every_jump_to_it_go_in_one_payload() {
        let save = "*nat\n:POSTROUTING ACCEPT [0:0]\n:IP-MASQ-AGENT - [0:0]\n-A POSTROUTING -m comment --comment \"to X\" -j IP-MASQ-AGENT\n-A POSTROUTING -j OTHER\n-A POSTROUTING -j IP-MASQ-AGENT\n-A IP-MASQ-AGENT -j MASQUERADE\nCOMMIT\n";
        assert_eq!(
            delete_chain_payload(save, "IP-MASQ-AGENT"),
            "*nat\n-D POSTROUTING -m comment --comment \"to X\" -j IP-MASQ-AGENT\n-D POSTROUTING -j IP-MASQ-AGENT\n-F IP-MASQ-AGENT\n-X IP-MASQ-AGENT\nCOMMIT\n"
        );
    }

    #[test]
    fn rules_split_like_a_shell_would() {
        assert_eq!(
            split_rule(r#"POSTROUTING -m comment --comment "a \"b\" c" -j X"#),
            vec![
                "POSTROUTING",
                "-m",
                "comment",
                "--comment",
                "a \"b\" c",
                "-j",
                "X"
            ]
        );
    }
}
