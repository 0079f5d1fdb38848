//! Arbitrary bytes → `config::parse` under every ParseOptions combination. Never panics;
//! accepted configs satisfy the invariants in `agent/tests/invariants/mod.rs` and render
//! to well-formed payloads for both families.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../agent/tests/invariants/mod.rs"]
mod invariants;

fuzz_target!(|data: &[u8]| {
    invariants::check_parse_all(data);
});
