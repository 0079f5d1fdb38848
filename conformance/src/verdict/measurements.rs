//! The implementation's timing in a report (issue 21, item 4): its read period and its
//! delay from a read to the change of its rules, per case and over the run, and what the
//! waits made of them. Informative: `verify-report` checks their form, not their
//! figures (the run's median is not recomputable from the cases' medians).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::case::observed::{self, Stat};
use crate::records::measured::RunMeasured;

/// Some measured durations: how many, their median and the largest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Measured {
    pub samples: usize,
    pub median_ms: f64,
    pub max_ms: f64,
}

impl From<Stat> for Measured {
    fn from(s: Stat) -> Self {
        Measured {
            samples: s.samples,
            median_ms: s.median.as_secs_f64() * 1e3,
            max_ms: s.max.as_secs_f64() * 1e3,
        }
    }
}

/// What the runner measured of the implementation's timing, in a case or over the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Measurements {
    /// How many reads of the config the runner saw (reads of several files within 50 ms
    /// count once).
    #[serde(default)]
    pub reads: usize,
    /// The intervals between two reads of one published version (reads of several
    /// files within 50 ms count once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_period: Option<Measured>,
    /// From the first read of a config to the change of the rules it caused, as the
    /// `rules-changed` waits saw it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_to_action: Option<Measured>,
    /// What the waits made of them: an observed period that replaced the config's hint,
    /// an act later than `act_within` (the run's each prefixed with its case).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Measurements {
    /// A case's, from its record; `None` when nothing was measured.
    pub fn of_case(m: &observed::Measurements) -> Option<Self> {
        let out = Measurements {
            reads: m.reads,
            read_period: observed::stat(&m.read_periods).map(Measured::from),
            read_to_action: observed::stat(&m.act_delays).map(Measured::from),
            notes: m.notes.clone(),
        };
        (out != Measurements::default()).then_some(out)
    }

    /// The run's, every case's samples together; `None` when nothing was measured.
    pub fn of_run(m: &RunMeasured) -> Option<Self> {
        let out = Measurements {
            reads: m.reads,
            read_period: m.read_period.map(Measured::from),
            read_to_action: m.act_delay.map(Measured::from),
            notes: m.notes.iter().map(|(t, n)| format!("{t}: {n}")).collect(),
        };
        (out != Measurements::default()).then_some(out)
    }
}
