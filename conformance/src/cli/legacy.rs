//! Spellings of the command line before the subcommands: still accepted for one release,
//! each with a deprecation note on stderr naming its replacement.

use std::fmt;

use clap::Args;

/// The flags that were commands; hidden from --help, accepted only without a subcommand.
#[derive(Debug, Clone, Default, Args)]
pub struct LegacyFlags {
    #[arg(long, hide = true)]
    pub print_schema: bool,
    #[arg(long, hide = true)]
    pub print_report_schema: bool,
    #[arg(long, hide = true)]
    pub sweep: bool,
}

/// An old spelling that was used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OldSpelling {
    PrintSchema,
    PrintReportSchema,
    Sweep,
    /// The `masq-generate` binary.
    MasqGenerate,
}

impl OldSpelling {
    /// The old spelling, as it was typed.
    pub fn spelling(self) -> &'static str {
        match self {
            OldSpelling::PrintSchema => "masq-conformance --print-schema",
            OldSpelling::PrintReportSchema => "masq-conformance --print-report-schema",
            OldSpelling::Sweep => "masq-conformance --sweep",
            OldSpelling::MasqGenerate => "masq-generate",
        }
    }

    /// What replaces it.
    pub fn replacement(self) -> &'static str {
        match self {
            OldSpelling::PrintSchema => "masq-conformance schema fixture",
            OldSpelling::PrintReportSchema => "masq-conformance schema report",
            OldSpelling::Sweep => "masq-conformance sweep",
            OldSpelling::MasqGenerate => "masq-conformance generate",
        }
    }
}

impl fmt::Display for OldSpelling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "warning: `{}` is deprecated and will be removed in the next release; use `{}`",
            self.spelling(),
            self.replacement()
        )
    }
}

impl LegacyFlags {
    /// The old spelling these flags amount to, if any (the first in this order, as the
    /// old parser's single flag would have been).
    pub fn used(&self) -> Option<OldSpelling> {
        if self.print_schema {
            Some(OldSpelling::PrintSchema)
        } else if self.print_report_schema {
            Some(OldSpelling::PrintReportSchema)
        } else if self.sweep {
            Some(OldSpelling::Sweep)
        } else {
            None
        }
    }
}

/// `masq-generate ARGS` as `masq-conformance generate ARGS`.
pub fn masq_generate_argv(args: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut args = args.into_iter();
    let argv0 = args.next().unwrap_or_else(|| "masq-generate".into());
    // Messages name the program as it is now spelt; the path is kept for what follows.
    let program = std::path::Path::new(&argv0)
        .with_file_name("masq-conformance")
        .to_string_lossy()
        .into_owned();
    [program, "generate".into()]
        .into_iter()
        .chain(args)
        .collect()
}
