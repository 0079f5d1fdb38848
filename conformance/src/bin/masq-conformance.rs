//! `masq-conformance`: runs the fixture corpus against an implementation profile.

fn main() -> std::process::ExitCode {
    // SIGINT and SIGTERM remove everything this run made (conformance/src/interrupt.rs).
    if let Err(e) = masq_conformance::interrupt::install() {
        eprintln!("error: handling SIGINT and SIGTERM: {e}");
        return std::process::ExitCode::from(2);
    }
    masq_conformance::guard::init();
    if std::env::var_os("INSTA_WORKSPACE_ROOT").is_none() {
        // insta would otherwise ask `cargo metadata`, which may not exist under sudo.
        if let Ok(cwd) = std::env::current_dir() {
            std::env::set_var("INSTA_WORKSPACE_ROOT", cwd);
        }
    }
    masq_conformance::cli::main_with(std::env::args().collect(), false, None)
}
