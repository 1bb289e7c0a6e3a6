//! What a run can conclude: the kinds of violation drill detects and the run's verdict.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A property a checker found broken. Safety kinds make the verdict `fail`; the others make it
/// `liveness`. Scenario files name these in `expect` (hazards) and `tolerate`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ViolationKind {
    /// Two nodes served one database at the same instant, or a fenced/stale-epoch write was applied.
    SplitBrain,
    /// An acknowledged message is missing after heal and quiesce, beyond the declared bound.
    DataLoss,
    /// A copy replayed or kept log generations of a deposed epoch.
    Lineage,
    /// Two quorum claims with disjoint vote sets held at the same instant.
    Quorum,
    /// An outage lasted longer than the scenario's RTO budget.
    Rto,
    /// After the final heal the cluster did not converge within the bound.
    Liveness,
    /// The cluster failed over more often than the scenario's `max_failovers` allows.
    Failovers,
    /// A database never served: it never mounted, or the mail submitted for it was never acknowledged.
    NotServed,
    /// Two ownership decisions or mounts of one database named different owners in the same epoch.
    SharedEpoch,
    /// A node counted the vote of a node that had not executed within the freshness window.
    StaleVote,
    /// A reachability assertion the scenario declares never held: the run proved less than it claims.
    Unreached,
}

impl ViolationKind {
    pub const ALL: [ViolationKind; 11] = [
        ViolationKind::SplitBrain,
        ViolationKind::DataLoss,
        ViolationKind::Lineage,
        ViolationKind::Quorum,
        ViolationKind::Rto,
        ViolationKind::Liveness,
        ViolationKind::Failovers,
        ViolationKind::NotServed,
        ViolationKind::SharedEpoch,
        ViolationKind::StaleVote,
        ViolationKind::Unreached,
    ];

    /// Safety violations are never acceptable in a design; the rest are availability shortfalls (an
    /// unwanted failover is an interruption of service, not a safety breach).
    pub fn is_safety(self) -> bool {
        matches!(
            self,
            ViolationKind::SplitBrain
                | ViolationKind::DataLoss
                | ViolationKind::Lineage
                | ViolationKind::Quorum
                | ViolationKind::SharedEpoch
                | ViolationKind::StaleVote
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ViolationKind::SplitBrain => "split-brain",
            ViolationKind::DataLoss => "data-loss",
            ViolationKind::Lineage => "lineage",
            ViolationKind::Quorum => "quorum",
            ViolationKind::Rto => "rto",
            ViolationKind::Liveness => "liveness",
            ViolationKind::Failovers => "failovers",
            ViolationKind::NotServed => "not-served",
            ViolationKind::SharedEpoch => "shared-epoch",
            ViolationKind::StaleVote => "stale-vote",
            ViolationKind::Unreached => "unreached",
        }
    }

    pub fn parse(text: &str) -> Option<ViolationKind> {
        ViolationKind::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

impl fmt::Display for ViolationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One broken property, located in time, with a human explanation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    pub check: ViolationKind,
    /// What it broke on: a database, a LUN, a node, or `cluster` / `scenario` for a property of
    /// the whole (violations of one check on one subject close in time are one finding).
    pub subject: String,
    /// True (kernel) time of the first evidence, in milliseconds since the run began.
    pub time_ms: u64,
    pub detail: String,
}

/// The verdict of a run before comparing with the scenario's expectation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Pass,
    /// A safety property broke.
    Fail,
    /// Only recovery time, liveness, the failover bound, service delivery or a reachability
    /// assertion broke.
    Liveness,
}

impl Verdict {
    pub fn of(violations: &[Violation]) -> Verdict {
        if violations.iter().any(|v| v.check.is_safety()) {
            Verdict::Fail
        } else if violations.is_empty() {
            Verdict::Pass
        } else {
            Verdict::Liveness
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Liveness => "liveness",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
