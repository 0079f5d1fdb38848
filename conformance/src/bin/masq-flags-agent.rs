//! A minimal implementation configured only by flags, built on the in-tree agent: the
//! suite's stand-in for kindnet-style agents (`--no-masquerade-cidr` flags, IPv6 always
//! on, no config file), which `config_source: adapter` reaches. Not an agent to deploy.
//!
//! `masq-flags-agent AGENT [FLAGS...]` takes, among its flags,
//! `--no-masquerade-cidr=CIDR` (repeatable; an empty value says the list is present and
//! empty), `--masq-link-local`, `--masq-link-local-ipv6` and `--resync-interval=D`
//! (default 60s, the reference's), and `--cidr-file=PATH`: a file of its own format, one
//! CIDR per line (absent: the key left out; empty: an empty list), as an agent configured
//! by a file that is not the ConfigMap's would take it. It writes them as a config file under /etc (which the runner overlays
//! for the implementation) and execs `AGENT --config FILE --enable-ipv6 REST...`, REST
//! being every other flag. `--ignore-flag=NAME` makes it a wrong implementation that
//! drops flag NAME; `--default-chain=NAME` keeps chain NAME unless a `--masq-chain` flag
//! names another, as an implementation with a chain of its own (the runner's self-tests
//! use both). `MASQ_LINK_LOCAL=true` in its environment stands for `--masq-link-local`,
//! as an agent configured by environment would take it.

use std::os::unix::process::CommandExt as _;
use std::process::{Command, ExitCode};

use serde_json::{Map, Value};

const CONFIG: &str = "/etc/masq-flags-agent/config.json";

/// The value of `--NAME=V` or `--NAME V` at `args[*i]` (advancing past a separate value).
fn value_of(args: &[String], i: &mut usize, name: &str) -> Option<String> {
    let bare = args[*i].trim_start_matches('-');
    if let Some(v) = bare.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
        return Some(v.to_string());
    }
    if bare == name {
        *i += 1;
        return Some(args.get(*i).cloned().unwrap_or_default());
    }
    None
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((agent, flags)) = args.split_first() else {
        eprintln!("usage: masq-flags-agent AGENT [FLAGS...]");
        return ExitCode::from(2);
    };
    let ignored: Vec<String> = flags
        .iter()
        .filter_map(|f| f.strip_prefix("--ignore-flag=").map(str::to_string))
        .collect();
    let mut config = Map::new();
    if std::env::var("MASQ_LINK_LOCAL").is_ok_and(|v| v == "true") {
        config.insert("masqLinkLocal".into(), true.into());
    }
    let mut rest: Vec<String> = Vec::new();
    let mut default_chain = None;
    let mut i = 0;
    while i < flags.len() {
        let flag = flags[i].trim_start_matches('-');
        let name = flag.split('=').next().unwrap_or_default().to_string();
        if flags[i].starts_with("--ignore-flag=") {
        } else if let Some(chain) = flags[i].strip_prefix("--default-chain=") {
            default_chain = Some(chain.to_string());
        } else if ignored.contains(&name) {
            eprintln!("masq-flags-agent: ignoring --{name} (--ignore-flag)");
            if !flag.contains('=') && name == "no-masquerade-cidr" {
                i += 1;
            }
        } else if let Some(cidr) = value_of(flags, &mut i, "no-masquerade-cidr") {
            let list = config
                .entry("nonMasqueradeCIDRs")
                .or_insert_with(|| Value::Array(Vec::new()));
            if !cidr.is_empty() {
                list.as_array_mut().expect("a list").push(cidr.into());
            }
        } else if let Some(path) = value_of(flags, &mut i, "cidr-file") {
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    let list = config
                        .entry("nonMasqueradeCIDRs")
                        .or_insert_with(|| Value::Array(Vec::new()));
                    let cidrs = text.lines().map(str::trim).filter(|l| !l.is_empty());
                    list.as_array_mut()
                        .expect("a list")
                        .extend(cidrs.map(Value::from));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    eprintln!("masq-flags-agent: reading {path}: {e}");
                    return ExitCode::FAILURE;
                }
            }
        } else if let Some(d) = value_of(flags, &mut i, "resync-interval") {
            config.insert("resyncInterval".into(), d.into());
        } else if name == "masq-link-local" || name == "masq-link-local-ipv6" {
            let key = match name.as_str() {
                "masq-link-local" => "masqLinkLocal",
                _ => "masqLinkLocalIPv6",
            };
            let on = flag.split_once('=').is_none_or(|(_, v)| v == "true");
            config.insert(key.into(), on.into());
        } else if name != "enable-ipv6" {
            rest.push(flags[i].clone());
        }
        i += 1;
    }
    let names_chain = rest
        .iter()
        .any(|f| f.trim_start_matches('-').starts_with("masq-chain"));
    if let Some(chain) = default_chain.filter(|_| !names_chain) {
        rest.insert(0, format!("--masq-chain={chain}"));
    }
    let text = Value::Object(config).to_string();
    let dir = std::path::Path::new(CONFIG).parent().expect("a parent");
    if let Err(e) = std::fs::create_dir_all(dir).and_then(|()| std::fs::write(CONFIG, &text)) {
        eprintln!("masq-flags-agent: writing {CONFIG}: {e}");
        return ExitCode::FAILURE;
    }
    eprintln!("masq-flags-agent: {text}");
    // IPv6 always on: the agent behind it always gets --enable-ipv6.
    let e = Command::new(agent)
        .args(["--config", CONFIG, "--enable-ipv6"])
        .args(&rest)
        .exec();
    eprintln!("masq-flags-agent: exec {agent}: {e}");
    ExitCode::FAILURE
}
