//! Section headings: typed, with their one spelling.

use crate::vocabulary::{Direction, Family};

/// A section's heading line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heading {
    /// `## outcome after step N` (a note after `outcome` for flows not from the pod).
    Outcome { direction: Direction, step: usize },
    /// `## rules (iptables-save -t nat) after step N`.
    Rules { family: Family, step: usize },
    /// `## listing (iptables -t nat -L CHAIN -n -v -x) after step N`.
    Listing {
        family: Family,
        chain: String,
        step: usize,
    },
    /// `## nftables rules (nft list table) after step N` (`with counters` for a listing).
    Nft { counters: bool, step: usize },
    /// `## WHAT after step N`: what a step observed, in words (`terminate`, `flap`, ...).
    Note { what: String, step: usize },
    /// Any other line, as it is (with its newline, if it has one).
    Other(String),
}

/// What a section holds, by its heading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SectionKind {
    Outcome,
    Rules,
    Listing,
    Nft,
    Note,
}

impl SectionKind {
    /// Rules of any kind: the iptables ones or the implementation's own nftables.
    pub fn is_listing(self) -> bool {
        matches!(
            self,
            SectionKind::Rules | SectionKind::Listing | SectionKind::Nft
        )
    }
}

const OUTCOME_MARK: &str = "## outcome";
const RULES_MARK: &str = "## rules";
const LISTING_MARK: &str = "## listing";
const NFT_MARK: &str = "## nftables";

impl Heading {
    /// The heading line, newline included.
    pub fn render(&self) -> String {
        match self {
            Heading::Outcome { direction, step } => {
                format!(
                    "{OUTCOME_MARK}{} after step {step}\n",
                    direction.heading_note()
                )
            }
            Heading::Rules { family, step } => format!(
                "{RULES_MARK} ({} -t nat) after step {step}\n",
                family.iptables_save()
            ),
            Heading::Listing {
                family,
                chain,
                step,
            } => format!(
                "{LISTING_MARK} ({} -t nat -L {chain} -n -v -x) after step {step}\n",
                family.iptables()
            ),
            Heading::Nft { counters, step } => {
                let what = if *counters { "with counters" } else { "rules" };
                format!("{NFT_MARK} {what} (nft list table) after step {step}\n")
            }
            Heading::Note { what, step } => format!("## {what} after step {step}\n"),
            Heading::Other(line) => line.clone(),
        }
    }

    /// Reads a heading line (newline included) back; a line that is not exactly what
    /// [`Heading::render`] writes stays [`Heading::Other`].
    pub fn parse(line: &str) -> Heading {
        let typed = Self::parse_typed(line);
        match typed {
            Some(h) if h.render() == line => h,
            _ => Heading::Other(line.to_string()),
        }
    }

    fn parse_typed(line: &str) -> Option<Heading> {
        let text = line.strip_suffix('\n')?;
        let (what, step) = text.strip_prefix("## ")?.rsplit_once(" after step ")?;
        let step: usize = step.parse().ok()?;
        let family_of = |tool: &str| {
            [Family::V4, Family::V6]
                .into_iter()
                .find(|f| f.iptables() == tool || f.iptables_save() == tool)
        };
        if let Some(note) = what.strip_prefix("outcome") {
            let direction = Direction::from_heading_note(note)?;
            return Some(Heading::Outcome { direction, step });
        }
        if let Some(rest) = what.strip_prefix("rules (") {
            let tool = rest.strip_suffix(" -t nat)")?;
            return Some(Heading::Rules {
                family: family_of(tool)?,
                step,
            });
        }
        if let Some(rest) = what.strip_prefix("listing (") {
            let (tool, rest) = rest.split_once(" -t nat -L ")?;
            let chain = rest.strip_suffix(" -n -v -x)")?;
            return Some(Heading::Listing {
                family: family_of(tool)?,
                chain: chain.to_string(),
                step,
            });
        }
        if let Some(rest) = what.strip_prefix("nftables ") {
            let counters = match rest.strip_suffix(" (nft list table)")? {
                "with counters" => true,
                "rules" => false,
                _ => return None,
            };
            return Some(Heading::Nft { counters, step });
        }
        Some(Heading::Note {
            what: what.to_string(),
            step,
        })
    }

    /// What the section holds. A heading not in the renderer's spelling (older or
    /// hand-written snapshots) is known by its mark, as it always was.
    pub fn kind(&self) -> SectionKind {
        match self {
            Heading::Outcome { .. } => SectionKind::Outcome,
            Heading::Rules { .. } => SectionKind::Rules,
            Heading::Listing { .. } => SectionKind::Listing,
            Heading::Nft { .. } => SectionKind::Nft,
            Heading::Note { .. } => SectionKind::Note,
            Heading::Other(line) if line.starts_with(OUTCOME_MARK) => SectionKind::Outcome,
            Heading::Other(line) if line.starts_with(RULES_MARK) => SectionKind::Rules,
            Heading::Other(line) if line.starts_with(LISTING_MARK) => SectionKind::Listing,
            Heading::Other(line) if line.starts_with(NFT_MARK) => SectionKind::Nft,
            Heading::Other(_) => SectionKind::Note,
        }
    }

    /// The step the section was written after.
    pub fn step(&self) -> Option<usize> {
        match self {
            Heading::Outcome { step, .. }
            | Heading::Rules { step, .. }
            | Heading::Listing { step, .. }
            | Heading::Nft { step, .. }
            | Heading::Note { step, .. } => Some(*step),
            Heading::Other(line) => line
                .trim_end()
                .rsplit_once("after step ")
                .and_then(|(_, n)| n.trim().parse().ok()),
        }
    }

    /// The heading without its `## ` and newline (for messages).
    pub fn title(&self) -> String {
        self.render()
            .trim_end()
            .trim_start_matches("## ")
            .to_string()
    }
}
