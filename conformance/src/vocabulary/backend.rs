//! Which iptables a trial runs on: the legacy or the nf_tables backend of iptables (the
//! tools that find and run them are [`crate::iptables`]'s).

/// The iptables flavours a trial runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IptablesBackend {
    Legacy,
    Nft,
}

impl IptablesBackend {
    pub const ALL: [IptablesBackend; 2] = [IptablesBackend::Legacy, IptablesBackend::Nft];

    pub fn name(self) -> &'static str {
        match self {
            IptablesBackend::Legacy => "legacy",
            IptablesBackend::Nft => "nft",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "legacy" => Some(IptablesBackend::Legacy),
            "nft" => Some(IptablesBackend::Nft),
            _ => None,
        }
    }
}
