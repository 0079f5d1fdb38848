//! `masq-conformance generate`: random cases compared with the model of docs/spec.md.

use std::path::PathBuf;

use clap::Args;

use super::run::Backends;
use crate::generate::Options;

/// The options of `generate` (its --help is the doc comment of `Sub::Generate`).
#[derive(Debug, Clone, Args)]
pub struct GenerateArgs {
    /// Seed of the random cases
    #[arg(long, value_name = "N")]
    pub seed: u64,
    /// How many cases to generate
    #[arg(long, value_name = "K")]
    pub count: u64,
    /// Implementation profile [default: the in-tree agent's]
    #[arg(long, value_name = "PROFILE")]
    pub implementation: Option<PathBuf>,
    /// iptables backend(s): legacy, nft or all
    #[arg(long, value_name = "legacy|nft|all", default_value = "all", value_parser = super::run::parse_backends)]
    pub backend: Backends,
    /// Where disagreements are written as fixtures
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// The most configs one case publishes (at least 1)
    #[arg(long, value_name = "C", default_value_t = 6)]
    pub configs: u64,
    /// Cases in flight (at least 1)
    #[arg(long, value_name = "T", default_value_t = 16)]
    pub threads: u64,
    /// The most re-runs spent shrinking one disagreement
    #[arg(long, value_name = "R", default_value_t = 60)]
    pub shrink_budget: u64,
}

impl GenerateArgs {
    /// The generator's options.
    pub fn into_options(self) -> Options {
        Options {
            seed: self.seed,
            count: self.count,
            configs: self.configs.max(1) as usize,
            profile: self
                .implementation
                .unwrap_or_else(|| super::in_tree(super::DEFAULT_PROFILE)),
            backends: self.backend.0,
            out: self.out,
            threads: self.threads.max(1) as usize,
            shrink_budget: self.shrink_budget as usize,
        }
    }
}
