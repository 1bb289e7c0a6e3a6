//! Votes that could have been cast (`stale-vote`).
//!
//! A node counts a peer's vote on the strength of a heartbeat the peer sent. The heartbeat detector
//! counts a peer only while the peer's freshest heartbeat echoes one of our own sends younger than the
//! failure timeout plus one interval, and the peer sent that heartbeat after it received ours; so an
//! honest node counts a peer only if the peer executed at some instant within that bound before. The
//! check allows one interval more for clock drift: the *freshness window* (`CheckConfig::
//! vote_freshness`, the failure timeout plus two heartbeat intervals).
//!
//! Checked, from the `quorum` records and the hosts' ground truth (`host-down`, `host-up`): while a
//! node's quorum claim is in force and the node executes, every other node the claim counts executed
//! at some instant within the freshness window before. A claim is in force from its `quorum` record
//! (with `quorate` true) until that node's next `quorum` record or until its host loses power; a
//! freeze suspends it (a frozen node counts nothing) and the resume restores it unless the node makes
//! a new claim in that instant. So a claim that keeps counting a peer that has been off or paused for
//! longer than the window fails, at the first instant it does, once per (claim, voter); so does a
//! resumed node that counts a peer that stopped while it was frozen. A heartbeat that waited in a
//! paused host's ring or in a link queue and is counted as fresh fails whenever its sender has not
//! executed since the window.
//!
//! Not checked: a vote from a peer that executes but whose heartbeats the fabric cut or delayed (the
//! history records the fabric's faults, not each packet it delivered); the witness vote (the quorum
//! checker judges it); a claim made while its own node was frozen (there is none: a frozen node
//! records nothing).

use super::CheckReport;
use super::model::{Down, Model};
use crate::history::{Event, HostDownReason, Name};
use crate::verdict::{Violation, ViolationKind};
use kernel::SimTime;
use std::collections::BTreeMap;
use std::time::Duration;

/// One quorum claim: the node, the peers it counted, and the true-time interval it was in force.
struct Claim<'a> {
    node: &'a Name,
    voters: &'a [Name],
    from: SimTime,
    to: SimTime,
}

pub(crate) fn check(model: &Model, freshness: Duration, end: SimTime, report: &mut CheckReport) {
    let no_downs = Vec::new();
    for claim in claims(model, end) {
        let node_downs = model.downs.get(claim.node).unwrap_or(&no_downs);
        let executing = subtract(claim.from, claim.to, node_downs, end);
        for voter in claim.voters.iter().filter(|voter| *voter != claim.node) {
            let voter_downs = model.downs.get(voter).unwrap_or(&no_downs);
            if let Some((at, down)) = first_stale(&executing, voter_downs, freshness, end) {
                report.violations.push(Violation {
                    check: ViolationKind::StaleVote,
                    subject: claim.node.to_string(),
                    time_ms: at.as_millis(),
                    detail: format!(
                        "{} counted {voter}'s vote (claim of {}) at {at}, but {voter} had not executed since \
                         {down}, longer than the freshness window of {}",
                        claim.node,
                        claim.from,
                        kernel::format_duration(freshness)
                    ),
                });
            }
        }
    }
}

/// Every quorate claim with the interval it was in force (a power loss of its node ends it).
fn claims<'a>(model: &'a Model, end: SimTime) -> Vec<Claim<'a>> {
    let mut open: BTreeMap<&Name, Claim<'a>> = BTreeMap::new();
    let mut done = Vec::new();
    for record in model.records.iter() {
        let (node, next) = match &record.event {
            Event::Quorum { node, quorate, votes, .. } => {
                let next = quorate.then(|| Claim { node, voters: votes, from: record.at, to: end });
                (node, next)
            }
            Event::HostDown { host, reason: HostDownReason::Power } => (host, None),
            _ => continue,
        };
        if let Some(mut ended) = open.remove(node) {
            ended.to = record.at;
            done.push(ended);
        }
        if let Some(claim) = next {
            open.insert(node, claim);
        }
    }
    done.extend(open.into_values());
    done
}

/// The parts of `[from, to)` outside every down interval.
fn subtract(from: SimTime, to: SimTime, downs: &[Down], end: SimTime) -> Vec<(SimTime, SimTime)> {
    let mut pieces = Vec::new();
    let mut start = from;
    for down in downs {
        let (down_from, down_to) = (down.span.start.at, down.span.end.map_or(end, |up| up.at));
        if down_to <= start || down_from >= to {
            continue;
        }
        if down_from > start {
            pieces.push((start, down_from));
        }
        start = start.max(down_to);
    }
    if start < to {
        pieces.push((start, to));
    }
    pieces
}

/// The first instant of `executing` at which the voter had been down for longer than `freshness`,
/// and when that down interval began.
fn first_stale(
    executing: &[(SimTime, SimTime)],
    voter_downs: &[Down],
    freshness: Duration,
    end: SimTime,
) -> Option<(SimTime, SimTime)> {
    let mut first: Option<(SimTime, SimTime)> = None;
    for down in voter_downs {
        let (down_from, down_to) = (down.span.start.at, down.span.end.map_or(end, |up| up.at));
        let stale_from = down_from + freshness;
        for &(from, to) in executing {
            // Stale instants are those strictly after `stale_from` and before the voter is back.
            let start = from.max(stale_from);
            if start < to.min(down_to) && first.is_none_or(|(at, _)| start < at) {
                first = Some((start, down_from));
            }
        }
    }
    first
}
