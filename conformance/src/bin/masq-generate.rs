//! `masq-generate`: the old spelling of `masq-conformance generate` (random cases against
//! an implementation, compared with the model of docs/spec.md), kept for one release.

use masq_conformance::cli::{legacy, OldSpelling};

fn main() -> std::process::ExitCode {
    eprintln!("{}", OldSpelling::MasqGenerate);
    let argv = legacy::masq_generate_argv(std::env::args());
    masq_conformance::cli::main_with(argv, false, None)
}
