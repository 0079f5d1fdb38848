//! The command line of `masq-conformance` (clap): `run` (the default), `verify-report`,
//! `compare`, `badge`, `generate`, `sweep` and `schema`, and the older spellings of some
//! of them ([`legacy`]), still accepted with a deprecation note.

use std::path::PathBuf;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use libtest_mimic::Arguments;

pub use crate::suite::{in_tree, own_corpus_dir, SuiteOptions, DEFAULT_PROFILE};

mod dispatch;
mod generate;
pub mod legacy;
mod run;

pub use dispatch::main_with;
pub use generate::GenerateArgs;
pub use legacy::OldSpelling;
pub use run::RunArgs;

const AFTER_HELP: &str = "\
Without a subcommand, masq-conformance runs the suite: `masq-conformance [OPTIONS] [FILTER]...`
is `masq-conformance run [OPTIONS] [FILTER]...`.

Deprecated spellings (accepted until the next release, with a note on stderr):
  --print-schema         masq-conformance schema fixture
  --print-report-schema  masq-conformance schema report
  --sweep                masq-conformance sweep
  masq-generate ARGS     masq-conformance generate ARGS";

/// What `run --help` ends with (and the top-level help, which runs the suite too).
const RUN_AFTER_HELP: &str = "\
Filters: every FILTER selects the trials (FIXTURE::BACKEND) whose name contains it (with
--exact: equals it); --skip FILTER (repeatable) leaves them out. Every other libtest option
works too: --list, --ignored, --include-ignored, --test-threads N (default: 16 cases at once;
they mostly wait), -q, --format.

Environment: GITHUB_STEP_SUMMARY (append a markdown report), INSTA_UPDATE=always|new (let
insta write snapshots, as --bless does), CI=true (a case that cannot run fails the run).";

/// Runs every fixture against an ip-masq-agent implementation on real network namespaces.
#[derive(Debug, Parser)]
#[command(
    name = "masq-conformance",
    args_conflicts_with_subcommands = true,
    version
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Sub>,
    #[command(flatten)]
    legacy: legacy::LegacyFlags,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// Run the suite (the default when no subcommand is given)
    Run(Box<RunArgs>),
    /// Check a report: of this suite's corpus (its digest recomputed), of the whole suite
    /// (every case once; a partial run never verifies), names and digests strict, and every
    /// count, feature result and the verdict recomputed from its case records; exits 1
    /// naming what does not add up
    VerifyReport {
        /// The suite's corpus to verify against (default: the in-tree fixtures)
        #[arg(long, value_name = "DIR")]
        fixtures: Option<PathBuf>,
        /// A report written by --report
        #[arg(value_name = "FILE")]
        report: PathBuf,
    },
    /// Implementations side by side (Markdown on stdout); with --baseline, exit 1 when a
    /// case that passed in BASE does not pass in a REPORT
    Compare {
        /// Also write a self-contained HTML page
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
        /// A report to compare with: a case that passed there must pass in every REPORT
        #[arg(long, value_name = "BASE")]
        baseline: Option<PathBuf>,
        /// The suite's corpus the reports are verified against (default: the in-tree
        /// fixtures)
        #[arg(long, value_name = "DIR")]
        fixtures: Option<PathBuf>,
        /// Reports (each is verified first)
        #[arg(value_name = "REPORT", required = true)]
        reports: Vec<PathBuf>,
    },
    /// Print a shields.io endpoint document (JSON) for a verified report's verdict
    Badge {
        /// The suite's corpus the report is verified against (default: the in-tree
        /// fixtures)
        #[arg(long, value_name = "DIR")]
        fixtures: Option<PathBuf>,
        #[arg(value_name = "REPORT")]
        report: PathBuf,
    },
    /// Random cases against an implementation, compared with the model of docs/spec.md
    ///
    /// Generates COUNT random cases from SEED (flags, sequences of valid and invalid
    /// configs, destinations at range edges), runs each in the sandbox against the
    /// implementation and compares every probe with the model of docs/spec.md. A
    /// disagreement is shrunk and written to DIR as a fixture with the model's snapshots.
    /// Prints the seed; the same seed generates the same cases. Needs root. Exit status: 0
    /// when every case agreed, 1 when one did not, 2 when it could not run.
    Generate(GenerateArgs),
    /// Remove what runs that were killed left behind (namespaces, processes, directories)
    Sweep,
    /// Print a JSON Schema: of the fixtures (fixtures/schema.json) or of the report
    /// (docs/report.schema.json)
    Schema {
        #[arg(value_enum)]
        document: Schema,
    },
}

/// The documents whose JSON Schema `schema` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Schema {
    /// A fixture file (fixtures/schema.json)
    Fixture,
    /// The versioned report of --report (docs/report.schema.json)
    Report,
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    Run(Box<SuiteOptions>, Arguments),
    /// A report, and the corpus it is verified against.
    VerifyReport(PathBuf, PathBuf),
    Compare {
        reports: Vec<PathBuf>,
        html: Option<PathBuf>,
        baseline: Option<PathBuf>,
        fixtures: PathBuf,
    },
    Badge(PathBuf, PathBuf),
    Generate(crate::generate::Options),
    Sweep,
    Schema(Schema),
}

/// A parsed command line: the command, and the old spelling it used, if it used one.
#[derive(Debug)]
pub struct Invocation {
    pub command: Command,
    pub deprecated: Option<OldSpelling>,
}

/// Why the command line was not understood (or asked for help: clap's "error" of kind
/// DisplayHelp prints the help on stdout and exits 0).
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(#[from] clap::Error),
}

impl CliError {
    /// Prints the message (help on stdout, errors on stderr) and returns its exit status.
    pub fn report(&self) -> std::process::ExitCode {
        match self {
            CliError::Usage(e) => {
                let _ = e.print();
                std::process::ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2))
            }
        }
    }
}

/// clap's usual help layout: libtest's `Arguments` brings a template of its own.
const HELP_TEMPLATE: &str =
    "{before-help}{about-with-newline}\n{usage-heading} {usage}\n\n{all-args}{after-help}";

/// clap's command, with libtest's own single positional filter hidden (the suite takes
/// any number, [`RunArgs::filters`], and the first lands in libtest's) and libtest's help
/// layout replaced by clap's usual one.
fn command() -> clap::Command {
    let fix = |c: clap::Command| {
        c.mut_arg("filter", |a| a.hide(true))
            .help_template(HELP_TEMPLATE)
    };
    // libtest's flattened options disable clap's version flag; the suite's version is
    // what a third party pins (CHANGELOG.md), so it is given back here.
    fix(Cli::command())
        .disable_version_flag(false)
        .after_help(format!("{AFTER_HELP}\n\n{RUN_AFTER_HELP}"))
        .mut_subcommand("run", |c| fix(c).after_help(RUN_AFTER_HELP))
}

/// Parses the command line (`argv[0]` first). Pure: nothing is read or written.
pub fn parse_args(argv: Vec<String>) -> Result<Invocation, CliError> {
    let matches = command().try_get_matches_from(&argv)?;
    let cli = Cli::from_arg_matches(&matches)?;
    let deprecated = cli.legacy.used();
    let command = match (cli.command, deprecated) {
        (Some(sub), _) => sub.into_command(argv),
        (None, Some(OldSpelling::PrintSchema)) => Command::Schema(Schema::Fixture),
        (None, Some(OldSpelling::PrintReportSchema)) => Command::Schema(Schema::Report),
        (None, Some(OldSpelling::Sweep)) => Command::Sweep,
        (None, _) => run_command(cli.run, argv),
    };
    Ok(Invocation {
        command,
        deprecated,
    })
}

/// Parses the command line of the suite run as a test harness (`cargo test`): a run's
/// options only, never a command, so that `cargo test schema` filters by `schema` as it
/// always did. `argv` is kept as given for the report.
pub fn parse_harness_args(argv: Vec<String>) -> Result<Invocation, CliError> {
    let mut as_run = argv.clone();
    as_run.insert(as_run.len().min(1), "run".into());
    let mut invocation = parse_args(as_run)?;
    if let Command::Run(opts, _) = &mut invocation.command {
        opts.argv = argv;
    }
    Ok(invocation)
}

fn run_command(args: RunArgs, argv: Vec<String>) -> Command {
    let (opts, libtest) = args.into_suite(argv);
    Command::Run(Box::new(opts), libtest)
}

/// The corpus a report is verified against: `--fixtures DIR`, else the suite's own.
fn corpus_dir(fixtures: Option<PathBuf>) -> PathBuf {
    fixtures.unwrap_or_else(own_corpus_dir)
}

impl Sub {
    fn into_command(self, argv: Vec<String>) -> Command {
        match self {
            Sub::Run(args) => run_command(*args, argv),
            Sub::VerifyReport { fixtures, report } => {
                Command::VerifyReport(report, corpus_dir(fixtures))
            }
            Sub::Compare {
                html,
                baseline,
                fixtures,
                reports,
            } => Command::Compare {
                reports,
                html,
                baseline,
                fixtures: corpus_dir(fixtures),
            },
            Sub::Badge { fixtures, report } => Command::Badge(report, corpus_dir(fixtures)),
            Sub::Generate(args) => Command::Generate(args.into_options()),
            Sub::Sweep => Command::Sweep,
            Sub::Schema { document } => Command::Schema(document),
        }
    }
}

#[cfg(test)]
mod tests;
