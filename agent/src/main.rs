//! The `ip-masq-agent` binary: flags (compatible with the reference's, klog flags
//! included) and nothing else; the work is in the library.

use clap::Parser;
use ip_masq_agent::config::parse_go_duration;
use ip_masq_agent::daemon::{self, health, watch, Agent, Settings, Wake, DEFAULT_CONFIG_PATH};
use ip_masq_agent::datapath::backend::StopFlag;
use ip_masq_agent::datapath::iptables::validate_chain_name;
use ip_masq_agent::datapath::nftables::validate_nft_name;
use ip_masq_agent::datapath::{
    parse_to_ports, Cli, Datapath, RuleOptions, DEFAULT_COMMAND_TIMEOUT,
};
use nix::sys::signal::{SigSet, Signal};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Go's `strconv.ParseBool`, which is what Go bool flags accept after `=`.
fn go_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!("{s:?} is not a boolean (true/false/1/0)")),
    }
}

/// Flags. Bool flags take an optional `=value` only (as Go's do: `--flag false` would leave
/// `false` as a positional argument); other flags take `=value` or the next argument.
#[derive(Debug, Parser)]
#[command(
    name = "ip-masq-agent",
    about = "Keeps the iptables (or nftables) nat rules that masquerade pod traffic leaving the cluster",
    args_override_self = true,
    disable_version_flag = true
)]
struct Flags {
    /// Where the rules live: `iptables` (a chain in the nat table and a POSTROUTING jump,
    /// as the reference) or `nftables` (a table of its own, `inet <masq-chain>`, updated
    /// in place at each sync). Either removes the other's rules after each sync.
    #[arg(long = "datapath", default_value = "iptables", value_parser = parse_datapath)]
    datapath: Datapath,
    /// Name of the nat chain the agent manages (with --datapath nftables: of the table
    /// and its chain).
    #[arg(
        long = "masq-chain",
        default_value = "IP-MASQ-AGENT",
        allow_hyphen_values = true
    )]
    masq_chain: String,
    /// Default nonMasqueradeCIDRs become every IPv4 range reserved by RFCs.
    #[arg(long = "nomasq-all-reserved-ranges", num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = go_bool)]
    nomasq_all_reserved_ranges: bool,
    /// Also manage ip6tables; IPv6 CIDRs of the config go there.
    #[arg(long = "enable-ipv6", num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = go_bool)]
    enable_ipv6: bool,
    /// Add --random-fully to MASQUERADE when iptables supports it (1.6.2+).
    #[arg(long = "random-fully", num_args = 0..=1, require_equals = true,
          default_value = "true", default_missing_value = "true", value_parser = go_bool)]
    random_fully: bool,
    /// Source port ranges for MASQUERADE, e.g. 1024-29999,32768-65535.
    #[arg(long = "to-ports", default_value = "", allow_hyphen_values = true)]
    to_ports: String,
    /// Config file (YAML or JSON).
    #[arg(long = "config", default_value = DEFAULT_CONFIG_PATH, allow_hyphen_values = true)]
    config: PathBuf,
    /// Sync once and exit (non-zero on a bad config or a failed apply).
    #[arg(long = "once", num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = go_bool)]
    once: bool,
    /// Serve /healthz and /readyz on HOST:PORT (off by default). /healthz (liveness): 200
    /// while the loop runs its rounds. /readyz (readiness): 200 while the rules were
    /// applied within two resync periods and the config is valid, 503 with the reason
    /// otherwise.
    #[arg(long = "health-address", allow_hyphen_values = true)]
    health_address: Option<String>,
    /// Deadline of each iptables child process (Go duration); it is killed when it passes.
    #[arg(long = "command-timeout", allow_hyphen_values = true)]
    command_timeout: Option<String>,
    /// Print the iptables-restore payload(s), or the two nft transactions with
    /// --datapath nftables, and exit; touches nothing.
    #[arg(long = "dry-run", num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = go_bool)]
    dry_run: bool,

    // klog flags: accepted for manifest compatibility; only --v has an effect.
    /// Log verbosity (klog): 0-1 info, 2-4 debug, 5+ trace.
    #[arg(long = "v", default_value = "0", allow_hyphen_values = true)]
    v: i32,
    #[arg(long = "vmodule", hide = true)]
    _vmodule: Option<String>,
    #[arg(long = "logtostderr", hide = true, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = go_bool)]
    _logtostderr: Option<bool>,
    #[arg(long = "alsologtostderr", hide = true, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = go_bool)]
    _alsologtostderr: Option<bool>,
    #[arg(long = "stderrthreshold", hide = true)]
    _stderrthreshold: Option<String>,
    #[arg(long = "log_dir", hide = true)]
    _log_dir: Option<String>,
    #[arg(long = "log_file", hide = true)]
    _log_file: Option<String>,
    #[arg(long = "log_file_max_size", hide = true)]
    _log_file_max_size: Option<u64>,
    #[arg(long = "log_backtrace_at", hide = true)]
    _log_backtrace_at: Option<String>,
    #[arg(long = "skip_headers", hide = true, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = go_bool)]
    _skip_headers: Option<bool>,
    #[arg(long = "skip_log_headers", hide = true, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = go_bool)]
    _skip_log_headers: Option<bool>,
    #[arg(long = "add_dir_header", hide = true, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = go_bool)]
    _add_dir_header: Option<bool>,
    #[arg(long = "one_output", hide = true, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = go_bool)]
    _one_output: Option<bool>,
    #[arg(long = "log-flush-frequency", hide = true)]
    _log_flush_frequency: Option<String>,

    /// Go's flag package stops at the first non-flag argument and the reference ignores
    /// the rest; so do we (with a warning).
    #[arg(hide = true, last = true)]
    rest: Vec<String>,
}

fn parse_datapath(s: &str) -> Result<Datapath, String> {
    s.parse()
}

/// Flags that take a separate value (`--flag value`): the value is never rewritten.
const VALUE_FLAGS: [&str; 14] = [
    "datapath",
    "masq-chain",
    "health-address",
    "command-timeout",
    "to-ports",
    "config",
    "v",
    "vmodule",
    "stderrthreshold",
    "log_dir",
    "log_file",
    "log_file_max_size",
    "log_backtrace_at",
    "log-flush-frequency",
];

/// Go accepts `-flag` as well as `--flag`; clap wants `--flag`. Rewrites single-dash
/// flags (not their values, not anything after `--` or the first positional argument).
fn normalise_args(args: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut value_next = false;
    let mut done = false;
    for (i, arg) in args.into_iter().enumerate() {
        if i == 0 || done || value_next {
            value_next = false;
            out.push(arg);
            continue;
        }
        if arg == "--" || arg == "-" || !arg.starts_with('-') {
            done = true;
            if arg != "--" {
                out.push("--".into());
            }
            out.push(arg);
            continue;
        }
        let arg = if arg.starts_with("--") {
            arg
        } else {
            format!("-{arg}")
        };
        let name = arg[2..].split('=').next().unwrap_or("");
        value_next = !arg.contains('=') && !name.is_empty() && VALUE_FLAGS.contains(&name);
        out.push(arg);
    }
    out
}

fn init_logging(v: i32) {
    let level = match v {
        i32::MIN..=1 => tracing::Level::INFO,
        2..=4 => tracing::Level::DEBUG,
        _ => tracing::Level::TRACE,
    };
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

fn main() -> ExitCode {
    let flags = Flags::parse_from(normalise_args(std::env::args()));
    let to_ports = match parse_to_ports(&flags.to_ports) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = validate_chain_name(&flags.masq_chain) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    if flags.datapath == Datapath::Nftables {
        if let Err(e) = validate_nft_name(&flags.masq_chain) {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    }
    let command_timeout = match flags.command_timeout.as_deref().map(parse_go_duration) {
        None => DEFAULT_COMMAND_TIMEOUT,
        Some(Ok(n)) if n > 0 => Duration::from_nanos(n as u64),
        Some(_) => {
            eprintln!(
                "error: invalid --command-timeout {:?}: expected a positive duration such as 30s",
                flags.command_timeout.unwrap_or_default()
            );
            return ExitCode::from(2);
        }
    };
    let settings = Settings {
        datapath: flags.datapath,
        config_path: flags.config.clone(),
        nomasq_all_reserved_ranges: flags.nomasq_all_reserved_ranges,
        rules: RuleOptions {
            chain: flags.masq_chain.clone(),
            random_fully: flags.random_fully,
            to_ports,
            ipv6: flags.enable_ipv6,
        },
        command_timeout,
    };

    if flags.dry_run {
        return dry_run(&settings);
    }

    // Block the stop signals before any thread exists, so every thread inherits the mask
    // and only the waiter below receives them (child processes get a clean mask from std).
    let mut stop_signals = SigSet::empty();
    stop_signals.add(Signal::SIGTERM);
    stop_signals.add(Signal::SIGINT);
    if !flags.once {
        if let Err(e) = stop_signals.thread_block() {
            eprintln!("error: cannot block signals: {e}");
            return ExitCode::FAILURE;
        }
    }
    init_logging(flags.v);
    if !flags.rest.is_empty() {
        tracing::warn!("ignoring non-flag arguments: {:?}", flags.rest);
    }
    let stop = StopFlag::default();
    let mut agent = Agent::new(
        settings,
        Cli::new(stop.clone(), command_timeout),
        stop.clone(),
    );

    if flags.once {
        return match agent.sync() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!("{e}");
                ExitCode::FAILURE
            }
        };
    }

    if let Some(address) = &flags.health_address {
        match health::serve(address, agent.health()) {
            Ok(local) => tracing::info!("serving /healthz and /readyz on {local}"),
            Err(e) => {
                tracing::error!("{e}");
                return ExitCode::from(2);
            }
        }
    }
    let (tx, rx) = std::sync::mpsc::channel();
    watch::spawn(&flags.config, tx.clone());
    std::thread::spawn(move || {
        if let Ok(sig) = stop_signals.wait() {
            tracing::info!("received {sig:?}, exiting; rules stay in place");
        }
        // The flag first: it interrupts a running iptables child and any further step.
        stop.set();
        let _ = tx.send(Wake::Stop);
    });
    tracing::info!(chain = %flags.masq_chain, config = %flags.config.display(), datapath = flags.datapath.name(), "starting");
    agent.run(&rx);
    ExitCode::SUCCESS
}

/// `--dry-run`: the payloads, or the two nft transactions, on stdout (random-fully assumed
/// supported), nothing touched.
fn dry_run(settings: &Settings) -> ExitCode {
    match daemon::load_config(&settings.config_path, &settings.parse_options()) {
        Ok((parsed, _)) => {
            for w in &parsed.warnings {
                eprintln!("warning: config: {w}");
            }
            let text = daemon::dry_run_text(&parsed.config, settings, settings.rules.random_fully);
            let mut stdout = std::io::stdout().lock();
            if stdout.write_all(text.as_bytes()).is_err() || stdout.flush().is_err() {
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(args: &[&str]) -> Result<Flags, clap::Error> {
        let argv = std::iter::once("ip-masq-agent")
            .chain(args.iter().copied())
            .map(String::from);
        Flags::try_parse_from(normalise_args(argv))
    }

    #[test]
    fn go_style_forms() {
        let f = flags(&[
            "-masq-chain",
            "-X",
            "--to-ports=1-2",
            "-v=3",
            "-random-fully=false",
            "--enable-ipv6",
            "-logtostderr",
            "--alsologtostderr=true",
            "--log_file",
            "/tmp/x",
            "--stderrthreshold=INFO",
        ])
        .unwrap();
        assert_eq!(f.masq_chain, "-X");
        assert_eq!(f.to_ports, "1-2");
        assert_eq!(f.v, 3);
        assert!(!f.random_fully && f.enable_ipv6);
        let f = flags(&["--v", "2", "--nomasq-all-reserved-ranges=1", "--once=t"]).unwrap();
        assert_eq!(f.v, 2);
        assert!(f.nomasq_all_reserved_ranges && f.once);
        // Repeated flags: the last wins, as in Go.
        assert_eq!(flags(&["--v=1", "--v=4"]).unwrap().v, 4);
        // Go stops at the first non-flag argument.
        let f = flags(&["--enable-ipv6", "false", "--masq-chain=Y"]).unwrap();
        assert!(f.enable_ipv6);
        assert_eq!(f.masq_chain, "IP-MASQ-AGENT");
        assert_eq!(f.rest, ["false", "--masq-chain=Y"]);
    }

    #[test]
    fn rejected() {
        for bad in [
            &["--version"][..],
            &["--nope"],
            &["--random-fully=maybe"],
            &["--v=x"],
            &["--v"],
        ] {
            let e = flags(bad).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad:?}");
        }
    }
}
