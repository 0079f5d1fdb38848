//! Where an implementation gets its config, and the shape of what it does with it: the
//! profile keys `config_source` (a file, or an adapter that renders each published
//! config into flags, environment and files of its own format and restarts the
//! implementation, as rolling out a new flag would), `ipv6`,
//! `default_non_masquerade_cidrs` and `chain`. Implementations
//! written elsewhere (kindnet's masquerade agent takes `--no-masquerade-cidr` flags, has
//! IPv6 always on, its own default list and chain) are reached through these.

use std::net::IpAddr;

use serde::Deserialize;

/// The reference's chain, used when a fixture names none and the profile says nothing.
pub const DEFAULT_CHAIN: &str = "IP-MASQ-AGENT";

/// The reference's default `nonMasqueradeCIDRs` (docs/spec.md §2, Keys), as the profile
/// key `default_non_masquerade_cidrs` compares it.
pub const REFERENCE_DEFAULT_CIDRS: [&str; 3] = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"];

/// `config_source`: how the implementation gets each published config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum ConfigSourceKey {
    /// The ConfigMap volume at `config_path`, re-read by the implementation.
    #[default]
    File,
    /// The runner renders each config into flags, environment and files and restarts
    /// the implementation with them.
    Adapter(Adapter),
}

/// The templates of an adapter source.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Adapter {
    /// Flags appended to the command (after the fixture's), in this order.
    #[serde(default)]
    pub flags: Vec<FlagTemplate>,
    /// Environment variables set for the process.
    #[serde(default)]
    pub env: Vec<EnvTemplate>,
    /// Files published in the ConfigMap volume (the directory of `config_path`), in the
    /// implementation's own format.
    #[serde(default)]
    pub files: Vec<FileTemplate>,
}

/// One flag template: `{flag: "--no-masquerade-cidr={item}", each: nonMasqueradeCIDRs}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlagTemplate {
    /// The text, with `{KEY}` and (with `each`) `{item}` placeholders.
    pub flag: String,
    /// A list key: one flag per element.
    #[serde(default)]
    pub each: Option<ConfigKey>,
    /// With `each`: the flag for a list that is present and empty (without it such a
    /// config cannot be rendered: no flag at all means "key left out").
    #[serde(default)]
    pub if_empty: Option<String>,
    /// A boolean key: the flag only when the config sets it to true.
    #[serde(default)]
    pub when: Option<ConfigKey>,
    /// How a list placeholder is joined (default `,`).
    #[serde(default)]
    pub join: Option<String>,
}

/// One environment template: `{name: NON_MASQ_CIDRS, value: "{nonMasqueradeCIDRs}"}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvTemplate {
    pub name: String,
    /// The text, with `{KEY}` placeholders.
    pub value: String,
    /// A boolean key: set only when the config sets it to true.
    #[serde(default)]
    pub when: Option<ConfigKey>,
    /// How a list placeholder is joined (default `,`).
    #[serde(default)]
    pub join: Option<String>,
}

/// One file template: `{name: cidrs.txt, content: "{nonMasqueradeCIDRs}\n", join: "\n"}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileTemplate {
    /// The file's name in the volume's directory (no `/`).
    pub name: String,
    /// The text, with `{KEY}` placeholders; the file is left out when a key it names is.
    pub content: String,
    /// A boolean key: written only when the config sets it to true.
    #[serde(default)]
    pub when: Option<ConfigKey>,
    /// How a list placeholder is joined (default `,`).
    #[serde(default)]
    pub join: Option<String>,
}

/// The config's keys, spelled as docs/spec.md §2 spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
pub enum ConfigKey {
    #[serde(rename = "nonMasqueradeCIDRs")]
    NonMasqueradeCidrs,
    #[serde(rename = "cidrLimit")]
    CidrLimit,
    #[serde(rename = "masqLinkLocal")]
    MasqLinkLocal,
    #[serde(rename = "masqLinkLocalIPv6")]
    MasqLinkLocalIpv6,
    #[serde(rename = "resyncInterval")]
    ResyncInterval,
}

impl ConfigKey {
    pub const ALL: [ConfigKey; 5] = [
        ConfigKey::NonMasqueradeCidrs,
        ConfigKey::CidrLimit,
        ConfigKey::MasqLinkLocal,
        ConfigKey::MasqLinkLocalIpv6,
        ConfigKey::ResyncInterval,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ConfigKey::NonMasqueradeCidrs => "nonMasqueradeCIDRs",
            ConfigKey::CidrLimit => "cidrLimit",
            ConfigKey::MasqLinkLocal => "masqLinkLocal",
            ConfigKey::MasqLinkLocalIpv6 => "masqLinkLocalIPv6",
            ConfigKey::ResyncInterval => "resyncInterval",
        }
    }

    fn from_name(name: &str) -> Option<ConfigKey> {
        ConfigKey::ALL.into_iter().find(|k| k.name() == name)
    }

    fn is_list(self) -> bool {
        self == ConfigKey::NonMasqueradeCidrs
    }

    fn is_bool(self) -> bool {
        matches!(
            self,
            ConfigKey::MasqLinkLocal | ConfigKey::MasqLinkLocalIpv6
        )
    }
}

impl std::fmt::Display for ConfigKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A valid config's keys as set (`None`: left out), in the words the templates render.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigValues {
    pub non_masquerade_cidrs: Option<Vec<String>>,
    pub cidr_limit: Option<i64>,
    pub masq_link_local: Option<bool>,
    pub masq_link_local_ipv6: Option<bool>,
    /// In Go duration syntax.
    pub resync_interval: Option<String>,
}

impl ConfigValues {
    /// Whether the config sets `key`.
    pub fn sets(&self, key: ConfigKey) -> bool {
        match key {
            ConfigKey::NonMasqueradeCidrs => self.non_masquerade_cidrs.is_some(),
            ConfigKey::CidrLimit => self.cidr_limit.is_some(),
            ConfigKey::MasqLinkLocal => self.masq_link_local.is_some(),
            ConfigKey::MasqLinkLocalIpv6 => self.masq_link_local_ipv6.is_some(),
            ConfigKey::ResyncInterval => self.resync_interval.is_some(),
        }
    }

    fn text(&self, key: ConfigKey, join: &str) -> Option<String> {
        match key {
            ConfigKey::NonMasqueradeCidrs => {
                self.non_masquerade_cidrs.as_ref().map(|l| l.join(join))
            }
            ConfigKey::CidrLimit => self.cidr_limit.map(|n| n.to_string()),
            ConfigKey::MasqLinkLocal => self.masq_link_local.map(|b| b.to_string()),
            ConfigKey::MasqLinkLocalIpv6 => self.masq_link_local_ipv6.map(|b| b.to_string()),
            ConfigKey::ResyncInterval => self.resync_interval.clone(),
        }
    }

    fn is_true(&self, key: ConfigKey) -> bool {
        match key {
            ConfigKey::MasqLinkLocal => self.masq_link_local == Some(true),
            ConfigKey::MasqLinkLocalIpv6 => self.masq_link_local_ipv6 == Some(true),
            _ => false,
        }
    }
}

/// What an adapter rendered for one config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rendered {
    pub flags: Vec<String>,
    pub env: Vec<(String, String)>,
    /// File name in the volume, and its content.
    pub files: Vec<(String, String)>,
}

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Key(ConfigKey),
    Item,
}

/// Parses a template: `{KEY}`, `{item}`, `{{` and `}}` for literal braces.
fn pieces(text: &str) -> Result<Vec<Piece>, String> {
    let mut out = Vec::new();
    let mut literal = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                literal.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                literal.push('}');
            }
            '{' => {
                let name: String = chars.by_ref().take_while(|c| *c != '}').collect();
                if !literal.is_empty() {
                    out.push(Piece::Text(std::mem::take(&mut literal)));
                }
                out.push(match name.as_str() {
                    "item" => Piece::Item,
                    other => Piece::Key(ConfigKey::from_name(other).ok_or_else(|| {
                        format!(
                            "{{{other}}} is neither {{item}} nor a config key ({})",
                            ConfigKey::ALL.map(ConfigKey::name).join(", ")
                        )
                    })?),
                });
            }
            '}' => return Err("a lone `}` (write `}}` for a brace)".into()),
            c => literal.push(c),
        }
    }
    if !literal.is_empty() {
        out.push(Piece::Text(literal));
    }
    Ok(out)
}

/// Renders `pieces`; `None` when a key it names is left out by the config.
fn fill(pieces: &[Piece], values: &ConfigValues, join: &str, item: Option<&str>) -> Option<String> {
    let mut out = String::new();
    for p in pieces {
        match p {
            Piece::Text(t) => out.push_str(t),
            Piece::Key(k) => out.push_str(&values.text(*k, join)?),
            Piece::Item => out.push_str(item?),
        }
    }
    Some(out)
}

fn keys_of(pieces: &[Piece]) -> impl Iterator<Item = ConfigKey> + '_ {
    pieces.iter().filter_map(|p| match p {
        Piece::Key(k) => Some(*k),
        _ => None,
    })
}

impl Adapter {
    /// Checks every template; the message names the entry and its value.
    pub fn check(&self) -> Result<(), String> {
        for (i, f) in self.flags.iter().enumerate() {
            let at = format!("config_source: adapter: flags[{i}]");
            let parsed = pieces(&f.flag).map_err(|e| format!("{at}: flag: {:?}: {e}", f.flag))?;
            if f.flag.is_empty() {
                return Err(format!("{at}: flag: an empty flag"));
            }
            match f.each {
                Some(k) if !k.is_list() => {
                    return Err(format!(
                        "{at}: each: {k} is not a list key (nonMasqueradeCIDRs)"
                    ))
                }
                None if parsed.contains(&Piece::Item) => {
                    return Err(format!(
                        "{at}: flag: {:?} uses {{item}} without `each`",
                        f.flag
                    ))
                }
                None if f.if_empty.is_some() => {
                    return Err(format!("{at}: if_empty: only with `each`"))
                }
                _ => {}
            }
            if let Some(text) = &f.if_empty {
                let p = pieces(text).map_err(|e| format!("{at}: if_empty: {text:?}: {e}"))?;
                if p.contains(&Piece::Item) {
                    return Err(format!(
                        "{at}: if_empty: {text:?} uses {{item}}, and an empty list has none"
                    ));
                }
            }
            check_when(&at, f.when)?;
        }
        for (i, e) in self.env.iter().enumerate() {
            let at = format!("config_source: adapter: env[{i}]");
            let name_ok = !e.name.is_empty()
                && !e.name.starts_with(|c: char| c.is_ascii_digit())
                && e.name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !name_ok {
                return Err(format!(
                    "{at}: name: {:?} is not an environment variable name",
                    e.name
                ));
            }
            if matches!(e.name.as_str(), "PATH" | "HOME" | "XTABLES_LOCKFILE") {
                return Err(format!("{at}: name: {} is set by the runner", e.name));
            }
            check_value(&at, "value", &e.value, e.when)?;
        }
        for (i, f) in self.files.iter().enumerate() {
            let at = format!("config_source: adapter: files[{i}]");
            if f.name.is_empty()
                || f.name.contains('/')
                || f.name.starts_with('.')
                || f.name.contains('\0')
            {
                return Err(format!(
                    "{at}: name: {:?} is not a file name in config_path's directory (no `/`, not hidden)",
                    f.name
                ));
            }
            if self.files[..i].iter().any(|g| g.name == f.name) {
                return Err(format!("{at}: name: {:?} is named twice", f.name));
            }
            check_value(&at, "content", &f.content, f.when)?;
        }
        if self.flags.is_empty() && self.env.is_empty() && self.files.is_empty() {
            return Err("config_source: adapter: give `flags`, `env` or `files` (an adapter that renders nothing passes no config)".into());
        }
        Ok(())
    }

    /// The keys some template renders (or tests with `when`).
    pub fn rendered_keys(&self) -> Vec<ConfigKey> {
        let mut keys: Vec<ConfigKey> = Vec::new();
        for f in &self.flags {
            let p = pieces(&f.flag).unwrap_or_default();
            keys.extend(keys_of(&p).chain(f.each).chain(f.when));
        }
        let values = (self.env.iter().map(|e| (&e.value, e.when)))
            .chain(self.files.iter().map(|f| (&f.content, f.when)));
        for (text, when) in values {
            let p = pieces(text).unwrap_or_default();
            keys.extend(keys_of(&p).chain(when));
        }
        keys.sort();
        keys.dedup();
        keys
    }

    /// The flags, environment and files for `values`, or why that config cannot be
    /// rendered.
    pub fn render(&self, values: &ConfigValues) -> Result<Rendered, String> {
        let mut out = Rendered::default();
        for f in &self.flags {
            if f.when.is_some_and(|k| !values.is_true(k)) {
                continue;
            }
            let join = f.join.as_deref().unwrap_or(",");
            let p = pieces(&f.flag)?;
            let Some(list_key) = f.each else {
                out.flags.extend(fill(&p, values, join, None));
                continue;
            };
            let items = match list_key {
                ConfigKey::NonMasqueradeCidrs => values.non_masquerade_cidrs.as_ref(),
                _ => None,
            };
            match items {
                None => {}
                Some(list) if list.is_empty() => match &f.if_empty {
                    Some(text) => out.flags.extend(fill(&pieces(text)?, values, join, None)),
                    None => {
                        return Err(format!(
                            "the config sets {list_key} to an empty list, which the adapter cannot express (`each` renders no flag, the same as the key left out; give `if_empty`)"
                        ))
                    }
                },
                Some(list) => {
                    for item in list {
                        out.flags.extend(fill(&p, values, join, Some(item)));
                    }
                }
            }
        }
        for e in &self.env {
            if let Some(v) = render_value(&e.value, e.when, e.join.as_deref(), values)? {
                out.env.push((e.name.clone(), v));
            }
        }
        for f in &self.files {
            if let Some(text) = render_value(&f.content, f.when, f.join.as_deref(), values)? {
                out.files.push((f.name.clone(), text));
            }
        }
        Ok(out)
    }
}

/// Checks a value template of `env` or `files` (`field` names it in errors): `{KEY}`
/// placeholders only, and `when` on a boolean key.
fn check_value(at: &str, field: &str, text: &str, when: Option<ConfigKey>) -> Result<(), String> {
    let parsed = pieces(text).map_err(|e| format!("{at}: {field}: {text:?}: {e}"))?;
    if parsed.contains(&Piece::Item) {
        return Err(format!(
            "{at}: {field}: {text:?}: {{item}} is only for flags with `each`"
        ));
    }
    check_when(at, when)
}

/// A value template of `env` or `files` for `values`: `None` when `when` is not true or
/// a key it names is left out.
fn render_value(
    text: &str,
    when: Option<ConfigKey>,
    join: Option<&str>,
    values: &ConfigValues,
) -> Result<Option<String>, String> {
    if when.is_some_and(|k| !values.is_true(k)) {
        return Ok(None);
    }
    Ok(fill(&pieces(text)?, values, join.unwrap_or(","), None))
}

fn check_when(at: &str, when: Option<ConfigKey>) -> Result<(), String> {
    match when {
        Some(k) if !k.is_bool() => Err(format!(
            "{at}: when: {k} is not a boolean key (masqLinkLocal, masqLinkLocalIPv6)"
        )),
        _ => Ok(()),
    }
}

impl super::Profile {
    /// Checks `config_source`, `default_non_masquerade_cidrs` and `chain`.
    pub(super) fn check_shape(&self) -> Result<(), String> {
        if let ConfigSourceKey::Adapter(a) = &self.config_source {
            a.check()?;
            if self.config_files != super::ConfigFiles::One {
                return Err("config_files: merge: only with `config_source: file` (an adapter renders one config)".into());
            }
        }
        if let Some(list) = &self.default_non_masquerade_cidrs {
            check_cidrs(list)?;
        }
        if let Some(chain) = &self.chain {
            check_chain(chain)?;
        }
        Ok(())
    }

    /// The adapter, when the config comes through one.
    pub fn adapter(&self) -> Option<&Adapter> {
        match &self.config_source {
            ConfigSourceKey::Adapter(a) => Some(a),
            ConfigSourceKey::File => None,
        }
    }

    /// Whether the default list differs from the reference's (compared as sets).
    pub fn other_default_list(&self) -> Option<&[String]> {
        let list = self.default_non_masquerade_cidrs.as_deref()?;
        let mut mine: Vec<&str> = list.iter().map(String::as_str).collect();
        let mut reference = REFERENCE_DEFAULT_CIDRS.to_vec();
        mine.sort_unstable();
        mine.dedup();
        reference.sort_unstable();
        (mine != reference).then_some(list)
    }
}

/// `ipv6`: how the implementation comes to do IPv6.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ipv6Mode {
    /// With `--enable-ipv6`, as the reference.
    #[default]
    Flag,
    /// Always: cases run without `--enable-ipv6` and expect their IPv6 outcomes; cases
    /// about IPv6 being off do not apply.
    Always,
    /// Never: IPv6 cases are unsupported.
    Never,
}

/// Checks `default_non_masquerade_cidrs`' entries: each an address, a slash and a length.
pub fn check_cidrs(list: &[String]) -> Result<(), String> {
    for text in list {
        let ok = text.split_once('/').is_some_and(|(addr, len)| {
            match (addr.parse::<IpAddr>(), len.parse::<u8>()) {
                (Ok(IpAddr::V4(_)), Ok(l)) => l <= 32,
                (Ok(IpAddr::V6(_)), Ok(l)) => l <= 128,
                _ => false,
            }
        });
        if !ok {
            return Err(format!(
                "default_non_masquerade_cidrs: {text:?} is not a CIDR (address/length)"
            ));
        }
    }
    Ok(())
}

/// Checks `chain`: a name iptables accepts (1 to 28 characters, no blank, not an
/// option or a target of its own).
pub fn check_chain(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 28
        && !name.starts_with('-')
        && name.chars().all(|c| c.is_ascii_graphic())
        && !matches!(
            name,
            "ACCEPT" | "DROP" | "RETURN" | "MASQUERADE" | "POSTROUTING"
        );
    match ok {
        true => Ok(()),
        false => Err(format!(
            "chain: {name:?} is not an iptables chain name (1 to 28 visible characters, not an option or a built-in target)"
        )),
    }
}

#[cfg(test)]
mod tests;
