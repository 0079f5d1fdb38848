//! Config helpers shared by the rendering tests of both datapaths (rules_tests.rs,
//! nftables_tests.rs): a config parsed from text, and the options with `--enable-ipv6`.

use crate::config::{parse, Config, ParseOptions};

pub fn cfg(text: &str, opts: &ParseOptions) -> Config {
    parse(text.as_bytes(), opts).unwrap().config
}

pub fn v6() -> ParseOptions {
    ParseOptions {
        enable_ipv6: true,
        ..ParseOptions::default()
    }
}
