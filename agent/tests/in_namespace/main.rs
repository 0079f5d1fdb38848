//! The real binary against the real kernel, each case inside network namespaces that the
//! test creates itself, on both iptables backends.
//!
//! A libtest-mimic harness rather than `#[test]` functions, so that a case which cannot
//! run here (not root, an iptables backend missing) is reported in libtest's own
//! *ignored* state with the reason printed once, never as a silent pass; and with
//! `CI=true` a missing prerequisite fails the whole binary instead, so CI cannot go green
//! without having run them.

mod cases;
mod hardening;
mod health;
mod nft_netlink;
mod nft_resync;
mod nftables;
mod reload;
mod support;

use libtest_mimic::{Arguments, Trial};
use std::process::ExitCode;

/// A case and whether it needs root and iptables.
type Case = (&'static str, fn(), bool);

/// The nftables datapath's cases: root, iptables (both backends, for switching) and nft.
const NFT_CASES: &[(&str, fn())] = &[
    (
        "nft_once_applies_lists_as_expected_and_is_idempotent",
        nftables::once_applies_lists_as_expected_and_is_idempotent,
    ),
    (
        "nft_dry_run_prints_the_script_and_touches_nothing",
        nftables::dry_run_prints_the_script_and_touches_nothing,
    ),
    (
        "nft_daemon_heals_drift_and_keeps_last_good",
        nftables::daemon_heals_drift_and_keeps_last_good,
    ),
    (
        "nft_an_unchanged_resync_sends_no_transaction",
        nft_resync::an_unchanged_resync_sends_no_transaction,
    ),
    (
        "nft_a_change_of_cidrs_commits_only_those_elements",
        nft_resync::a_change_of_cidrs_commits_only_those_elements,
    ),
    (
        "nft_element_changes_reuse_one_kept_socket_and_a_foreign_change_is_healed",
        nft_resync::element_changes_reuse_one_kept_socket_and_a_foreign_change_is_healed,
    ),
    (
        "nft_a_full_apply_sends_the_elements_over_netlink",
        nft_netlink::a_full_apply_sends_the_elements_over_netlink,
    ),
    (
        "nft_a_foreign_object_is_caught_after_a_full_apply",
        nft_netlink::a_foreign_object_is_caught_after_a_full_apply,
    ),
    (
        "nft_overlapping_and_duplicate_cidrs_apply",
        nftables::overlapping_and_duplicate_cidrs_apply,
    ),
    (
        "nft_ten_thousand_cidrs_apply",
        nftables::ten_thousand_cidrs_apply,
    ),
    (
        "nft_switching_datapaths_leaves_one",
        nftables::switching_datapaths_leaves_one,
    ),
    (
        "nft_a_reappearing_leftover_is_removed_again",
        nftables::a_reappearing_leftover_is_removed_again,
    ),
    (
        "nft_works_without_the_other_datapaths_tools",
        nftables::works_without_the_other_datapaths_tools,
    ),
    (
        "nft_a_masq_chain_nft_cannot_name_is_refused_at_start",
        nftables::a_masq_chain_nft_cannot_name_is_refused_at_start,
    ),
];

const CASES: &[Case] = &[
    (
        "guard_refuses_the_initial_namespace",
        cases::guard_refuses_the_initial_namespace,
        false,
    ),
    (
        "guard_accepts_an_unshared_thread",
        cases::guard_accepts_an_unshared_thread,
        true,
    ),
    (
        "once_with_no_file_applies_defaults_v4_and_v6_idempotently",
        cases::once_with_no_file_applies_defaults_v4_and_v6_idempotently,
        true,
    ),
    (
        "once_with_a_config_and_flags",
        cases::once_with_a_config_and_flags,
        true,
    ),
    (
        "bad_configs_are_rejected_and_write_nothing",
        cases::bad_configs_are_rejected_and_write_nothing,
        true,
    ),
    (
        "dry_run_prints_the_payload_and_touches_nothing",
        cases::dry_run_prints_the_payload_and_touches_nothing,
        true,
    ),
    ("flag_errors_exit_2", cases::flag_errors_exit_2, true),
    (
        "daemon_heals_keeps_last_good_and_stops_on_sigterm",
        cases::daemon_heals_keeps_last_good_and_stops_on_sigterm,
        true,
    ),
    (
        "zero_interval_is_clamped",
        cases::zero_interval_is_clamped,
        true,
    ),
    (
        "sigterm_interrupts_a_hanging_restore",
        hardening::sigterm_interrupts_a_hanging_restore,
        true,
    ),
    (
        "a_hanging_child_is_killed_at_its_deadline",
        hardening::a_hanging_child_is_killed_at_its_deadline,
        true,
    ),
    (
        "a_fifo_config_is_refused_without_blocking",
        hardening::a_fifo_config_is_refused_without_blocking,
        true,
    ),
    (
        "a_bad_masq_chain_is_refused_at_start",
        hardening::a_bad_masq_chain_is_refused_at_start,
        true,
    ),
    (
        "healthz_is_liveness_and_readyz_is_readiness",
        health::healthz_is_liveness_and_readyz_is_readiness,
        true,
    ),
    (
        "health_answers_probes_while_clients_hold_connections",
        health::health_answers_probes_while_clients_hold_connections,
        true,
    ),
    (
        "cidrs_reach_iptables_as_parsed",
        hardening::cidrs_reach_iptables_as_parsed,
        true,
    ),
    (
        "config_changes_apply_at_once",
        reload::config_changes_apply_at_once,
        true,
    ),
    (
        "works_with_only_net_admin_and_net_raw",
        reload::works_with_only_net_admin_and_net_raw,
        true,
    ),
];

/// Cases that need root carry this prefix, so a run as an ordinary user can leave them to
/// a root run with `--skip root::` (the GitHub workflow does: cargo builds and runs the
/// rest as the user, then runs this binary under `sudo -E`).
const ROOT_PREFIX: &str = "root::";

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let missing = support::missing_prerequisite();
    let missing_nft = missing.clone().or_else(support::missing_nft);
    let mut trials: Vec<Trial> = CASES
        .iter()
        .map(|&(name, f, needs_root)| {
            let name = if needs_root {
                format!("{ROOT_PREFIX}{name}")
            } else {
                name.to_string()
            };
            Trial::test(name, move || {
                f();
                Ok(())
            })
            .with_ignored_flag(needs_root && missing.is_some())
        })
        .collect();
    let first_nft = trials.len();
    trials.extend(NFT_CASES.iter().map(|&(name, f)| {
        Trial::test(format!("{ROOT_PREFIX}{name}"), move || {
            f();
            Ok(())
        })
        .with_ignored_flag(missing_nft.is_some())
    }));
    for (why, range) in [
        (&missing, 0..first_nft),
        (&missing_nft, first_nft..trials.len()),
    ] {
        let Some(why) = why else { continue };
        // Under CI=true a case that would run (not filtered out) but cannot is a failure.
        let wanted = trials[range]
            .iter()
            .any(|t| t.has_ignored_flag() && !args.is_filtered_out(t));
        if wanted && std::env::var("CI").as_deref() == Ok("true") {
            eprintln!("error: CI=true but the namespace cases cannot run: {why}");
            return ExitCode::FAILURE;
        }
        if wanted {
            eprintln!("ignored: {why}; those namespace cases are reported as ignored");
        }
    }
    libtest_mimic::run(&args, trials).exit_code()
}
