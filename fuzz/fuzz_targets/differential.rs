//! Arbitrary bytes → our `config::parse` and the reference's parse path (the oracle in
//! tools/reference-parse, one persistent `-batch -enable-ipv6` process); any difference
//! that `compare::explained` does not name (a row of docs/differences-from-reference.md)
//! is a crash. The same comparison as `cargo test --test differential`, on libFuzzer's
//! inputs instead of the generator's.
//!
//! ```sh
//! (cd tools/reference-parse && GO111MODULE=off GOPATH=/usr/share/gocode go build -o /tmp/reference-parse .)
//! REFERENCE_PARSE=/tmp/reference-parse cargo +nightly fuzz run differential -- -dict=config.dict
//! ```
#![no_main]

use ip_masq_agent::config::ParseOptions;
use libfuzzer_sys::fuzz_target;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Mutex;

#[path = "../../agent/tests/differential/compare.rs"]
mod compare;

struct Oracle {
    _child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

static ORACLE: Mutex<Option<Oracle>> = Mutex::new(None);

fn start() -> Oracle {
    let bin = std::env::var("REFERENCE_PARSE")
        .expect("REFERENCE_PARSE must name the built tools/reference-parse binary");
    let mut child = Command::new(bin)
        .args(["-batch", "-enable-ipv6"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the oracle");
    Oracle {
        stdin: child.stdin.take().unwrap(),
        stdout: BufReader::new(child.stdout.take().unwrap()),
        _child: child,
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() > 1 << 16 {
        return;
    }
    let mut guard = ORACLE.lock().unwrap();
    let oracle = guard.get_or_insert_with(start);
    oracle
        .stdin
        .write_all(&(data.len() as u32).to_be_bytes())
        .and_then(|()| oracle.stdin.write_all(data))
        .and_then(|()| oracle.stdin.flush())
        .expect("feed the oracle");
    let mut line = String::new();
    oracle.stdout.read_line(&mut line).expect("oracle verdict");
    let theirs: compare::Verdict = serde_json::from_str(&line).expect("oracle JSON");
    let opts = ParseOptions {
        enable_ipv6: true,
        ..ParseOptions::default()
    };
    let ours = compare::ours(data, &opts);
    if let Some(diff) = compare::difference(&theirs, &ours) {
        if compare::explained(&theirs, &ours).is_none() {
            panic!("unexplained difference: {diff}\ninput: {:?}", String::from_utf8_lossy(data));
        }
    }
});
