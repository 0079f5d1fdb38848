//! The transport protocols a probe sends, one outcome-table column each.

/// A transport protocol a probe uses.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Udp,
    Tcp,
    Icmp,
}

impl Proto {
    pub const ALL: [Proto; 3] = [Proto::Udp, Proto::Tcp, Proto::Icmp];
    pub fn name(self) -> &'static str {
        match self {
            Proto::Udp => "udp",
            Proto::Tcp => "tcp",
            Proto::Icmp => "icmp",
        }
    }
}
