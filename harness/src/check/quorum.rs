//! Quorum (`quorum`).
//!
//! A node's quorum claim starts with a `quorum` event with `quorate` true and lasts until that node's
//! next `quorum` event or until its host goes down for any reason (a frozen node is not acting, and a
//! node that comes back has no claim until it makes a new one). The witness vote in a claim (`witness`
//! true) is real while the witness emulator's ground truth says that node holds the lock, and also
//! when the witness went down holding that node's lock and has granted it to nobody since, until that
//! lease would have run out: nobody else can hold the vote then, so counting it breaks nothing (a
//! lease that outlives a dead witness is no violation; one that outlives its own expiry, a release, or
//! a grant to another node is). The node votes are taken as claimed.
//!
//! Checked at every record that changes a claim or the witness lock, and at every lease expiry: with
//! each live claim's votes corrected by removing a witness vote the node does not truly hold,
//!
//! - every claim is still a strict majority of its `total_votes` (otherwise it rested on a witness vote
//!   it did not hold, or was never a majority);
//! - no two live claims have disjoint vote sets (two partitions holding quorum at once).
//!
//! Each claim, and each pair of claims, is reported at most once, at the first instant it fails.
//! The failover logic stops counting the witness before the true lease end, so honest nodes never
//! trip this.
//!
//! A disk witness (a `witness-disk` record names its LUN) has no lease: its vote is the persistent
//! reservation on that LUN, and a holder keeps counting it for a while after a challenger preempted it,
//! because the protocol makes the challenger wait before it counts. So for a disk witness the checks
//! are: a claim may count the witness only if its node held the witness LUN's reservation at some
//! instant before (by the array's own reservation and preemption records); and no two nodes' live
//! claims count the witness at the same time (the vote is exclusive), whatever the array says.
//!
//! Not checked: whether a node's vote for another node was real (node votes have no ground truth in
//! the history); whether two claims agree on `total_votes` or on the configuration epoch; what a node
//! did while it believed it had quorum (the single-writer checker judges the actions).

use super::CheckReport;
use super::model::Model;
use crate::history::{Event, Name, Nexus, ReservationAction, WitnessResetReason};
use crate::verdict::{Violation, ViolationKind};
use kernel::SimTime;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// One vote a claim counted: a node's, or the witness's (file share or disk).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Vote {
    Node(Name),
    Witness,
}

impl fmt::Display for Vote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Vote::Node(node) => f.write_str(node),
            Vote::Witness => f.write_str("witness"),
        }
    }
}

/// One live quorum claim.
struct Claim {
    node: Name,
    /// The index of the `quorum` record that made the claim; it identifies the claim.
    pos: usize,
    at: SimTime,
    votes: BTreeSet<Vote>,
    total_votes: u32,
}

/// What has already been reported, so a lasting problem is reported once.
#[derive(Default)]
struct Reported {
    claims: BTreeSet<usize>,
    pairs: BTreeSet<(usize, usize)>,
}

/// The disk witness's ground truth: which hosts ever held the witness LUN's reservation.
struct DiskWitness<'a> {
    lun: &'a Name,
    holder_key: Option<u64>,
    ever_held: BTreeSet<Name>,
}

impl DiskWitness<'_> {
    /// Follows the array's records for the witness LUN; true when the holder changed.
    fn observe(&mut self, event: &Event) -> bool {
        match event {
            Event::Reservation { lun, nexus, action, key } if lun == self.lun => match action {
                ReservationAction::Reserved => {
                    self.holder_key = Some(*key);
                    self.ever_held.insert(nexus.host.clone());
                    true
                }
                ReservationAction::Released | ReservationAction::Cleared => {
                    self.holder_key = None;
                    true
                }
                ReservationAction::Registered | ReservationAction::Unregistered => false,
            },
            Event::Preempted { lun, by: Nexus { host, .. }, key, victim_key, .. } if lun == self.lun => {
                if self.holder_key == Some(*victim_key) {
                    self.holder_key = Some(*key);
                    self.ever_held.insert(host.clone());
                }
                true
            }
            Event::ReservationsLost { lun, .. } if lun == self.lun => {
                self.holder_key = None;
                true
            }
            _ => false,
        }
    }
}

/// Whether a claim's witness vote is backed by ground truth.
enum WitnessTruth<'a> {
    /// File share witness: the node holds an unexpired lock lease now (`holder`), or held one the
    /// witness lost when it went down, which nobody else has been granted since (`lost_holder`).
    Lease { holder: Option<&'a Name>, lost_holder: Option<&'a Name> },
    /// Disk witness: the node held the reservation at some instant before.
    Disk(&'a BTreeSet<Name>),
}

impl WitnessTruth<'_> {
    fn backs(&self, node: &Name) -> bool {
        match self {
            WitnessTruth::Lease { holder, lost_holder } => {
                *holder == Some(node) || *lost_holder == Some(node)
            }
            WitnessTruth::Disk(ever_held) => ever_held.contains(node),
        }
    }
}

pub(crate) fn check(model: &Model, end: SimTime, report: &mut CheckReport) {
    let mut claims: BTreeMap<Name, Claim> = BTreeMap::new();
    let mut reported = Reported::default();
    let mut expiry: Option<SimTime> = None;
    let mut disk = model.records.iter().find_map(|record| match &record.event {
        Event::WitnessDisk { lun } => Some(DiskWitness { lun, holder_key: None, ever_held: BTreeSet::new() }),
        _ => None,
    });
    for (pos, record) in model.records.indexed() {
        // A lease that ran out strictly before this record's instant expired with the claims as they
        // stood; a renewal recorded exactly at the expiry instant replaces it first.
        if let Some(until) = expiry.filter(|until| *until < record.at) {
            evaluate(model, &claims, pos, until, disk.as_ref(), &mut reported, report);
            expiry = None;
        }
        let disk_changed = disk.as_mut().is_some_and(|disk| disk.observe(&record.event));
        let changed = disk_changed
            || match &record.event {
                Event::Quorum { node, quorate, votes, witness, total_votes } => {
                    claims.remove(node);
                    if *quorate {
                        let nodes = votes.iter().map(|voter| Vote::Node(voter.clone()));
                        let claim = Claim {
                            node: node.clone(),
                            pos,
                            at: record.at,
                            votes: nodes.chain(witness.then_some(Vote::Witness)).collect(),
                            total_votes: *total_votes,
                        };
                        claims.insert(node.clone(), claim);
                    }
                    true
                }
                Event::HostDown { host, .. } => claims.remove(host).is_some(),
                Event::WitnessLease { until, .. } => {
                    expiry = Some(*until);
                    true
                }
                Event::WitnessReset { reason } => {
                    // A lock the witness lost stays countable until its own expiry, which must still
                    // be checked; a released lock is gone at once.
                    if *reason != WitnessResetReason::WitnessDown {
                        expiry = None;
                    }
                    true
                }
                _ => false,
            };
        if changed {
            evaluate(model, &claims, pos.saturating_add(1), record.at, disk.as_ref(), &mut reported, report);
        }
    }
    if let Some(until) = expiry.filter(|until| *until <= end) {
        evaluate(model, &claims, model.records.len(), until, disk.as_ref(), &mut reported, report);
    }
}

/// Judges the live claims as of the first `n` records at true time `t`.
fn evaluate(
    model: &Model,
    claims: &BTreeMap<Name, Claim>,
    n: usize,
    t: SimTime,
    disk: Option<&DiskWitness<'_>>,
    reported: &mut Reported,
    report: &mut CheckReport,
) {
    let holder = model.witness_holder(n, t);
    let truth = match disk {
        Some(disk) => WitnessTruth::Disk(&disk.ever_held),
        None => WitnessTruth::Lease { holder, lost_holder: model.witness_lost_holder(n, t) },
    };
    let corrected: Vec<(&Claim, BTreeSet<&Vote>)> = claims
        .values()
        .map(|claim| {
            let real = claim.votes.iter().filter(|vote| **vote != Vote::Witness || truth.backs(&claim.node));
            (claim, real.collect())
        })
        .collect();

    // A disk witness vote is exclusive: two nodes counting it at once is two partitions sharing one
    // vote, whatever else they hold.
    if disk.is_some() {
        let counting: Vec<&Claim> = corrected
            .iter()
            .filter(|(_, votes)| votes.contains(&&Vote::Witness))
            .map(|(claim, _)| *claim)
            .collect();
        for (index, first) in counting.iter().enumerate() {
            for second in counting.iter().skip(index.saturating_add(1)) {
                let key = (first.pos.min(second.pos), first.pos.max(second.pos));
                if !reported.pairs.insert(key) {
                    continue;
                }
                report.violations.push(Violation {
                    check: ViolationKind::Quorum,
                    subject: "cluster".to_string(),
                    time_ms: t.as_millis(),
                    detail: format!(
                        "{} (votes {}) and {} (votes {}) both counted the disk witness at {t}",
                        first.node,
                        list(first.votes.iter()),
                        second.node,
                        list(second.votes.iter())
                    ),
                });
            }
        }
    }

    for (claim, votes) in &corrected {
        let majority =
            u64::try_from(votes.len()).unwrap_or(u64::MAX).saturating_mul(2) > u64::from(claim.total_votes);
        if majority || !reported.claims.insert(claim.pos) {
            continue;
        }
        let witness_note = if claim.votes.contains(&Vote::Witness) && !votes.contains(&&Vote::Witness) {
            match (disk, holder) {
                (Some(_), _) => ", but it never held the disk witness's reservation".to_string(),
                (None, Some(other)) => format!(", but the witness lock was held by {other}"),
                (None, None) => ", but nobody held the witness lock".to_string(),
            }
        } else {
            String::new()
        };
        report.violations.push(Violation {
            check: ViolationKind::Quorum,
            subject: claim.node.to_string(),
            time_ms: t.as_millis(),
            detail: format!(
                "{} claimed quorum at {} with votes {}{witness_note}; at {t} that is {} of {} votes, not a \
                 majority",
                claim.node,
                claim.at,
                list(claim.votes.iter()),
                votes.len(),
                claim.total_votes
            ),
        });
    }

    for (index, (first, first_votes)) in corrected.iter().enumerate() {
        for (second, second_votes) in corrected.iter().skip(index.saturating_add(1)) {
            let key = (first.pos.min(second.pos), first.pos.max(second.pos));
            if !first_votes.is_disjoint(second_votes) || !reported.pairs.insert(key) {
                continue;
            }
            report.violations.push(Violation {
                check: ViolationKind::Quorum,
                subject: "cluster".to_string(),
                time_ms: t.as_millis(),
                detail: format!(
                    "{} (votes {}) and {} (votes {}) held quorum at once at {t} with disjoint votes: two \
                     partitions",
                    first.node,
                    list(first_votes.iter()),
                    second.node,
                    list(second_votes.iter())
                ),
            });
        }
    }
}

fn list<V: fmt::Display>(votes: impl Iterator<Item = V>) -> String {
    let votes: Vec<String> = votes.map(|vote| vote.to_string()).collect();
    format!("{{{}}}", votes.join(", "))
}
