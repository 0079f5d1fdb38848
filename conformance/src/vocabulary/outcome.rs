//! What a receiver saw of one flow: masqueraded, not, dropped, or from elsewhere.

use std::net::IpAddr;

/// What the destination saw ([`super::Direction::classify`] decides it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Source was the address of the interface the node sent the flow out of.
    Masqueraded,
    /// Source was the flow's own (the pod's, for flows from the pod).
    NotMasqueraded,
    /// Nothing arrived before the deadline.
    Dropped,
    /// Something arrived from another address.
    Unexpected(IpAddr),
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Masqueraded => f.write_str("masqueraded"),
            Outcome::NotMasqueraded => f.write_str("not-masqueraded"),
            Outcome::Dropped => f.write_str("dropped"),
            Outcome::Unexpected(a) => write!(f, "unexpected {a}"),
        }
    }
}
