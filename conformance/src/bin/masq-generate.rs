//! `masq-generate`: random cases against an implementation, compared with the model of
//! docs/spec.md; see `masq_conformance::generate`.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = match masq_conformance::generate::parse_args(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match masq_conformance::generate::run(&opts) {
        Ok(t) if t.disagreements.is_empty() => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
