//! Arbitrary string → `datapath::parse_to_ports`. Never panics; accepted ranges are
//! 1..=65535 with first <= last and print back to themselves.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../agent/tests/invariants/mod.rs"]
mod invariants;

fuzz_target!(|data: &str| {
    invariants::check_to_ports(data, &ip_masq_agent::datapath::parse_to_ports(data));
});
