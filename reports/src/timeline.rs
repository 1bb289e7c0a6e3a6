//! The timeline of one run, as a run page draws it: swimlanes of state over true time, fault bands,
//! the client's view. The violations come from the run record's findings (each drawn over its
//! interval, from its first instance to its last).
//!
//! The harness builds a [`Timeline`] from a run's history and the emulators' ground truth; the
//! renderers (`html`) only draw it. Every label is plain text taken from the scenario (host, database
//! and LUN names the user chose), so a renderer must escape it.

use serde::{Deserialize, Serialize};

/// Everything the run page's timeline shows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeline {
    /// The simulated length of the run, in milliseconds: the x axis goes from 0 to here.
    pub duration_ms: u64,
    /// Swimlanes in drawing order (top to bottom). Lanes of one `group` are drawn together under the
    /// group's heading (a node, a LUN, a network, `client`).
    pub lanes: Vec<Lane>,
    /// Faults in force, each as a band across the whole timeline height.
    pub faults: Vec<FaultBand>,
    /// Acknowledged messages per bucket of `throughput_bucket_ms`, from time 0.
    pub throughput: Vec<u64>,
    pub throughput_bucket_ms: u64,
}

/// One row of the timeline: a property of one subject over time.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lane {
    /// The subject the lane belongs to: a node's name, a LUN's, a network's, or `client`.
    pub group: String,
    /// What the lane shows: `power`, `quorum`, `epoch`, `owns`, `reservation`, `paths`, `link`,
    /// `availability`.
    pub label: String,
    /// Intervals in time order; they do not overlap. Time outside every segment shows nothing.
    pub segments: Vec<Segment>,
}

/// One state held over an interval of true time.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    pub from_ms: u64,
    /// Exclusive end; the run's `duration_ms` when the state held to the end.
    pub to_ms: u64,
    /// The state in words (`up`, `paused`, `quorate (a, b, witness)`, `epoch 3`, `db1`, `key 0x2`).
    pub text: String,
    pub tone: Tone,
}

/// How a state reads at a glance: the colour it is drawn in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tone {
    /// Healthy: up, quorate, serving, path up.
    Good,
    /// Degraded or in transition: paused, booting, arbitrating.
    Warn,
    /// Broken: down, no quorum, link cut, unavailable.
    Bad,
    /// A fact without a judgement: an epoch number, a reservation holder.
    #[default]
    Neutral,
}

/// A fault in force over an interval (a fault without a duration lasts to the end of the run).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultBand {
    pub from_ms: u64,
    pub to_ms: u64,
    /// The fault's kind and target, e.g. `partition a/b on heartbeat`.
    pub label: String,
}
