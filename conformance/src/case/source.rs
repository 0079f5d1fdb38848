//! A profile's shape in a case: the config rendered through an adapter (and the restart
//! that delivers it), IPv6 always on, the chain, and which cases cannot apply to such a
//! profile, with their reason (decided before any sandbox exists).

use std::time::{Duration, Instant};

use super::error::StepError;
use super::CaseExecution;
use crate::configmap::Content;
use crate::document::{Body, Heading, Section};
use crate::fixture::{ConfigSource, Fault, Fixture, Step};
use crate::model::{Config, Parsed};
use crate::profile::source::DEFAULT_CHAIN;
use crate::profile::{ConfigKey, ConfigValues, Ipv6Mode, Profile, Rendered};
use crate::vocabulary::{Feature, Flags};

/// How long a restart gives the old process to exit after SIGTERM (then SIGKILL), as a
/// rollout's grace period would.
const RESTART_GRACE: Duration = Duration::from_secs(5);

/// What the adapter gave the implementation, and when it was last (re)started with it.
#[derive(Debug, Default)]
pub struct AdapterState {
    pub rendered: Rendered,
    pub started_at: Option<Instant>,
    /// A tamper, fault or preload step since the last config: what a `reads` wait then
    /// counts resync periods from (the implementation must notice it on its own).
    pub marked_at: Option<Instant>,
}

/// Whether the implementation does IPv6 in this case: by the fixture's flag, or always.
fn ipv6_on(fixture: &Fixture, profile: &Profile) -> bool {
    fixture.ipv6() || profile.ipv6 == Ipv6Mode::Always
}

/// A config's keys as set, read as docs/spec.md §2 reads it (the model), or why it
/// cannot be given through an adapter.
pub fn values_of(source: &ConfigSource, flags: &Flags, ipv6: bool) -> Result<ConfigValues, String> {
    if !source.files.is_empty() {
        return Err("it publishes several files; an adapter renders one config".into());
    }
    let config = match &source.content {
        Content::Absent => Config::default(),
        Content::Directory | Content::Unreadable => {
            return Err(format!(
                "it publishes a config that is {}: an adapter source has no file that could be one",
                if source.content == Content::Directory {
                    "a directory"
                } else {
                    "unreadable"
                },
            ))
        }
        Content::Bytes(bytes) => match crate::model::parse(bytes, ipv6, &flags.default_cidrs()) {
            Parsed::Valid(c) => c,
            Parsed::Invalid(why) => {
                let why = why.lines().next().unwrap_or_default();
                return Err(format!(
                    "it publishes a bad config ({why}): through an adapter a bad value is never rolled out, so keeping the last good config after a bad file does not apply"
                ));
            }
            Parsed::NotModelled(why) => {
                let why = why.lines().next().unwrap_or_default();
                return Err(format!(
                    "it publishes a config the model does not read ({why})"
                ));
            }
        },
    };
    Ok(ConfigValues {
        non_masquerade_cidrs: config
            .non_masquerade_cidrs
            .map(|l| l.iter().map(ToString::to_string).collect()),
        cidr_limit: config.cidr_limit,
        masq_link_local: config.masq_link_local,
        masq_link_local_ipv6: config.masq_link_local_ipv6,
        resync_interval: config.resync_interval.map(go_duration_text),
    })
}

/// Nanoseconds in Go's duration syntax (the largest whole unit).
fn go_duration_text(nanos: i64) -> String {
    for (unit, per) in [
        ("h", 3_600_000_000_000),
        ("m", 60_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
        ("us", 1_000),
    ] {
        if nanos != 0 && nanos % per == 0 {
            return format!("{}{unit}", nanos / per);
        }
    }
    format!("{nanos}ns")
}

/// Every config a fixture publishes, with the step that publishes it.
fn configs(fixture: &Fixture) -> Vec<(usize, &ConfigSource)> {
    let mut out = Vec::new();
    for (i, step) in fixture.steps.iter().enumerate() {
        match step {
            Step::Config(c) => out.push((i + 1, c)),
            Step::ReloadLatency(r) => out.push((i + 1, &r.to)),
            Step::Fault(Fault::Flap(f)) => {
                out.push((i + 1, &f.good));
                out.push((i + 1, &f.bad));
            }
            _ => {}
        }
    }
    out
}

/// Why `fixture` means nothing for `profile`'s shape (config source, IPv6, default
/// list), if it does not.
pub fn inapplicable(fixture: &Fixture, profile: &Profile) -> Option<String> {
    let name = &profile.name;
    if profile.ipv6 == Ipv6Mode::Always
        && fixture.features.contains(&Feature::Ipv6)
        && !fixture.ipv6()
    {
        return Some(format!(
            "its point is IPv6 without --enable-ipv6, and {name} always does IPv6 (ipv6: always)"
        ));
    }
    if let Some(list) = profile.other_default_list() {
        if rests_on_default_list(fixture) {
            return Some(format!(
                "its outcomes rest on the reference's default list, and {name}'s is [{}] (default_non_masquerade_cidrs)",
                list.join(", ")
            ));
        }
    }
    let adapter = profile.adapter()?;
    if let Some(f) = fixture
        .features
        .iter()
        .find(|f| matches!(f, Feature::ParsingQuirks | Feature::JsonConfig))
    {
        return Some(format!(
            "its point is how a config file is read ({f}); through an adapter the runner reads the config and {name} gets flags, environment or files of its own"
        ));
    }
    for step in &fixture.steps {
        match step {
            Step::Fault(Fault::Flap(_)) => return Some("it flaps a config file, and an adapter source has none".into()),
            Step::ReloadLatency(_) => return Some("it times the reload of a file without a restart; through an adapter every change is a restart".into()),
            _ => {}
        }
    }
    let flags = fixture.typed_flags.clone().unwrap_or_default();
    let rendered = adapter.rendered_keys();
    for (step, source) in configs(fixture) {
        let values = match values_of(source, &flags, ipv6_on(fixture, profile)) {
            Ok(v) => v,
            Err(why) => return Some(format!("step {step}: {why}")),
        };
        // resyncInterval is only a hint to the runner's waits; any other key left out
        // would let the case pass without the implementation ever seeing it.
        if let Some(key) = ConfigKey::ALL
            .into_iter()
            .find(|k| *k != ConfigKey::ResyncInterval && values.sets(*k) && !rendered.contains(k))
        {
            return Some(format!(
                "step {step} sets {key}, which the adapter does not render (config_source: adapter)"
            ));
        }
        if let Err(why) = adapter.render(&values) {
            return Some(format!("step {step}: {why}"));
        }
    }
    None
}

/// Whether some outcome of the case is decided by the default list: a config in force
/// that leaves `nonMasqueradeCIDRs` out (or none at all).
fn rests_on_default_list(fixture: &Fixture) -> bool {
    let flags = fixture.typed_flags.clone().unwrap_or_default();
    let publications = configs(fixture);
    publications.is_empty()
        || publications
            .iter()
            .any(|(_, c)| match values_of(c, &flags, true) {
                Ok(v) => v.non_masquerade_cidrs.is_none(),
                Err(_) => false,
            })
}

impl CaseExecution<'_> {
    /// The chain the implementation keeps in this case: the fixture's (its `chain` or
    /// `--masq-chain`), else the profile's, else the reference's.
    pub(super) fn chain(&self) -> String {
        let fixture = self.spec.fixture;
        let named = fixture.chain.is_some()
            || crate::fixture::flag_value(&fixture.flags, "masq-chain").is_some();
        match (&self.spec.profile.chain, named) {
            (Some(chain), false) => chain.clone(),
            _ => fixture.chain(),
        }
    }

    /// A listing with the profile's chain spelled as the snapshot spells it (the
    /// fixture's chain), so the rest of the listing is compared as usual.
    pub(super) fn as_snapshot_chain(&self, text: &str) -> String {
        let (mine, theirs) = (self.chain(), self.spec.fixture.chain());
        if mine == theirs || mine == DEFAULT_CHAIN && theirs == DEFAULT_CHAIN {
            return text.to_string();
        }
        rename_chain(text, &mine, &theirs)
    }

    /// Whether the IPv6 cells of this case do not bind: the implementation always does
    /// IPv6 (`ipv6: always`), the case leaves it off as the reference would.
    pub(super) fn ipv6_cells_unbound(&self) -> bool {
        self.spec.profile.ipv6 == Ipv6Mode::Always && !self.spec.fixture.ipv6()
    }

    /// A listing section of the profile's chain as the snapshot names it: heading and
    /// body.
    pub(super) fn as_snapshot_section(&self, mut section: Section) -> Section {
        if let Heading::Listing { chain, .. } = &mut section.heading {
            *chain = self.spec.fixture.chain();
        }
        if let Body::Text(text) = &section.body {
            section.body = Body::Text(self.as_snapshot_chain(text));
        }
        section
    }

    /// The flags the implementation starts with: the fixture's (without
    /// `--enable-ipv6` for an implementation that always does IPv6), then the adapter's.
    pub(super) fn start_flags(&self) -> Vec<String> {
        let always = self.spec.profile.ipv6 == Ipv6Mode::Always;
        let mut flags: Vec<String> = self
            .spec
            .fixture
            .flags
            .iter()
            .filter(|f| !(always && is_enable_ipv6(f)))
            .cloned()
            .collect();
        flags.extend(self.adapter.rendered.flags.iter().cloned());
        flags
    }

    /// A `config` step through an adapter: renders the config, publishes its files and,
    /// if the implementation runs, restarts it with the new flags, environment and files.
    pub(super) fn publish_through_adapter(
        &mut self,
        source: &ConfigSource,
    ) -> Result<(), StepError> {
        let adapter = self
            .spec
            .profile
            .adapter()
            .expect("called for an adapter source");
        let flags = self.spec.fixture.typed_flags.clone().unwrap_or_default();
        let values = values_of(
            source,
            &flags,
            ipv6_on(self.spec.fixture, self.spec.profile),
        )
        .and_then(|v| adapter.render(&v))
        .map_err(|why| StepError::Misuse(format!("config_source: adapter: {why}")))?;
        if !adapter.files.is_empty() {
            // Exactly the rendered files: one whose key the config leaves out is gone.
            let files = values
                .files
                .iter()
                .map(|(name, text)| (name.clone(), Content::Bytes(text.clone().into_bytes())))
                .collect();
            self.node
                .volume
                .update_files(&files)
                .map_err(StepError::Publish)?;
        }
        self.adapter.rendered = values;
        if let Some(mut old) = self.implementation.running.take() {
            old.signal_and_wait(nix::sys::signal::Signal::SIGTERM, RESTART_GRACE);
            old.stop();
            self.start()?;
        }
        Ok(())
    }

    /// A wait on `n` reads through an adapter. After a config step the restart
    /// delivered it: `act_within` from the (re)start. After a tamper, fault or preload
    /// the implementation must notice by itself: `n` resync periods and `act_within`
    /// from that step.
    pub(super) fn wait_after_restart(&mut self, n: u32) -> Result<(), StepError> {
        let act_within = self.spec.profile.act_within();
        let until = match (self.adapter.marked_at, self.adapter.started_at) {
            (Some(mark), _) => mark + self.period().saturating_mul(n) + act_within,
            (None, Some(start)) => start + act_within,
            (None, None) => return Err(StepError::NotStarted),
        };
        self.alive_for(until.saturating_duration_since(Instant::now()))
    }
}

fn is_enable_ipv6(flag: &str) -> bool {
    let bare = flag.trim_start_matches('-');
    bare == "enable-ipv6" || bare.starts_with("enable-ipv6=")
}

/// `text` with every whole-word `from` (chain names are delimited by blanks, `:`, `"`
/// or the line's ends) replaced by `to`.
fn rename_chain(text: &str, from: &str, to: &str) -> String {
    let word = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(from) {
        let before = rest[..at].chars().next_back();
        let after = rest[at + from.len()..].chars().next();
        out.push_str(&rest[..at]);
        if before.is_some_and(word) || after.is_some_and(word) {
            out.push_str(from);
        } else {
            out.push_str(to);
        }
        rest = &rest[at + from.len()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_are_renamed_as_whole_words() {
        let save = ":KIND-MASQ - [0:0]\n-A POSTROUTING -j KIND-MASQ\n-A KIND-MASQ -j MASQUERADE\n-A KIND-MASQ-X -j KIND-MASQ\nChain KIND-MASQ (1 references)\n";
        assert_eq!(
            rename_chain(save, "KIND-MASQ", "IP-MASQ-AGENT"),
            ":IP-MASQ-AGENT - [0:0]\n-A POSTROUTING -j IP-MASQ-AGENT\n-A IP-MASQ-AGENT -j MASQUERADE\n-A KIND-MASQ-X -j IP-MASQ-AGENT\nChain IP-MASQ-AGENT (1 references)\n"
        );
        assert_eq!(go_duration_text(300_000_000), "300ms");
        assert_eq!(go_duration_text(90_000_000_000), "90s");
        assert_eq!(go_duration_text(0), "0ns");
        assert!(is_enable_ipv6("--enable-ipv6=true") && !is_enable_ipv6("--enable-ipv6x"));
    }
}
