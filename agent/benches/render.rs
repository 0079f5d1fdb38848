//! Parsing and rendering 10,000 CIDRs, in-process (no iptables). Prints figures; asserts
//! nothing about time. `cargo bench -p ip-masq-agent --bench render`.

use std::time::{Duration, Instant};

use ip_masq_agent::config::{self, ParseOptions};
use ip_masq_agent::datapath::iptables::restore_payload;
use ip_masq_agent::datapath::{Family, RuleOptions};

fn config_text(n: usize) -> String {
    let mut s = format!("cidrLimit: {n}\nnonMasqueradeCIDRs:\n");
    for i in 0..n {
        s.push_str(&format!("  - 10.{}.{}.0/24\n", i / 256, i % 256));
    }
    s
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let opts = ParseOptions::default();
    let rule_opts = RuleOptions {
        chain: "IP-MASQ-AGENT".into(),
        random_fully: true,
        to_ports: Vec::new(),
        ipv6: false,
    };
    for n in [64usize, 10_000] {
        let text = config_text(n);
        let mut parse_times = Vec::new();
        let mut render_times = Vec::new();
        let mut bytes = 0;
        for _ in 0..20 {
            let t = Instant::now();
            let parsed = config::parse(text.as_bytes(), &opts).expect("valid config");
            parse_times.push(t.elapsed());
            let t = Instant::now();
            let payload = restore_payload(&parsed.config, Family::V4, &rule_opts);
            render_times.push(t.elapsed());
            bytes = payload.len();
        }
        println!(
            "{n:>6} CIDRs: parse {:>8.3} ms, render {:>8.3} ms ({bytes} bytes of payload), medians of 20",
            median(parse_times).as_secs_f64() * 1e3,
            median(render_times).as_secs_f64() * 1e3
        );
    }
}
