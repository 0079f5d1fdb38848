//! The suite's words, at the bottom of the crate: what every layer above speaks of and
//! none of them defines. Imports nothing of the runner (see ARCHITECTURE.md).

pub mod addresses;
pub mod backend;
pub mod case_state;
pub mod direction;
pub mod family;
pub mod feature;
pub mod flags;
pub mod identifiers;
pub mod markup;
pub mod outcome;
pub mod outcome_table;
pub mod protocol;

pub use addresses::{standard_targets, Target};
pub use backend::IptablesBackend;
pub use case_state::{CaseState, Instability};
pub use direction::Direction;
pub use family::Family;
pub use feature::{Feature, Level};
pub use flags::Flags;
pub use outcome::Outcome;
pub use outcome_table::{OutcomeRow, OutcomeTable};
pub use protocol::Proto;
