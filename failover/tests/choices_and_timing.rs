//! Which copy the coordinator chooses, who brings a self-fenced owner back, and the counts and timing
//! of the failover logic's retries, delays and renewals. Written for the mutation run of issue 8: each
//! test pins a choice or an interval that the rule tests (`rules.rs`, `shared_disk.rs`) only exercised,
//! so a change to it now fails a test.

mod support;

use core::time::Duration;
use failover::io::{Effect, FailoverReason, Note, StopReason};
use failover::{
    ClusterConfig, Endpoint, Epoch, HubConfig, HubId, Input, Message, NodeId, Output, QuorumModel, WitnessOp,
};
use support::*;

/// Message size and client rate: 200 kB every 200 ms closes a 1 MB log about every 1.2 s.
const BYTES: u32 = 200_000;
const EVERY: u64 = 200 * MS;

/// Three nodes, Node Majority, a copy on every node in the given activation preference order.
fn three_node(copies: [NodeId; 3]) -> ClusterConfig {
    let mut config = ClusterConfig::ccr_two_node();
    config.nodes = vec![N0, N1, N2];
    config.settings.quorum = QuorumModel::NodeMajority;
    config.databases[0].copies = copies.to_vec();
    config
}

/// Boots the three nodes (node 2 half a second late, so one coordinator forms the cluster) and runs
/// to 20 s, by which `owner` must serve epoch 1.
fn formed_three(config: ClusterConfig, owner: NodeId) -> Sim {
    formed_three_from(Sim::with_nodes_off(config, &[N2]), owner)
}

fn formed_three_from(mut sim: Sim, owner: NodeId) -> Sim {
    sim.run_until(500 * MS);
    sim.power_on(N2);
    formed_from(sim, owner)
}

fn failure_timeout_ns(sim: &Sim) -> u64 {
    ns(sim.config.failure_timeout())
}

fn last_generation(sim: &Sim, node: NodeId) -> u64 {
    sim.node(node).disk().copies.get(&DB).map_or(0, |copy| copy.last_generation())
}

// ----- best copy selection among three copies (domain.md 3.1) --------------------------------------

#[test]
fn the_passive_with_the_most_logs_is_chosen_over_a_more_preferred_one_that_lags() {
    // Node 1 (second in preference) is frozen while node 0 writes, so it falls about a dozen
    // generations behind node 2. When node 0 dies, node 2 must be chosen: fewer logs lost.
    let mut sim = formed_three(three_node([N0, N1, N2]), N0);
    let mut c = Checks::new();
    sim.client(H0, DB, secs(20), EVERY, 100, BYTES);
    sim.run_until(secs(25));
    sim.freeze(N1);
    sim.run_until(secs(40));
    sim.power_off(N0);
    sim.resume(N1);
    let (behind, ahead) = (last_generation(&sim, N1), last_generation(&sim, N2));
    c.check(ahead > behind + 3, format!("node 2 should be well ahead of node 1: {ahead} vs {behind}"));
    sim.run_until(secs(80));
    let decision = sim.decisions().into_iter().find(|d| d.at > secs(40));
    c.check(
        decision.is_some_and(|d| d.to == N2 && d.reason == FailoverReason::OwnerDown),
        format!("expected node 2 (generation {ahead}) chosen over node 1 ({behind}): {decision:?}"),
    );
    c.finish(&sim);
}

#[test]
fn among_equally_current_passives_the_most_preferred_is_chosen() {
    // Preference order 0, 2, 1: node 2 is preferred to node 1 although its id is higher. Traffic stops
    // long before node 0 dies, so both passives hold the same generations.
    let mut sim = formed_three(three_node([N0, N2, N1]), N0);
    let mut c = Checks::new();
    sim.client(H0, DB, secs(20), EVERY, 25, BYTES);
    sim.run_until(secs(40));
    let (one, two) = (last_generation(&sim, N1), last_generation(&sim, N2));
    c.check(one == two && one > 0, format!("both passives should be current: {one} vs {two}"));
    sim.power_off(N0);
    sim.run_until(secs(80));
    let decision = sim.decisions().into_iter().find(|d| d.at > secs(40));
    c.check(
        decision.is_some_and(|d| d.to == N2 && d.reason == FailoverReason::OwnerDown),
        format!("expected the more preferred node 2: {decision:?}"),
    );
    c.finish(&sim);
}

// ----- a self-fenced owner that is not the coordinator -----------------------------------------------

#[test]
fn a_self_fenced_owner_that_is_not_the_coordinator_is_remounted_when_quorum_returns() {
    // Node 1 is the preferred owner; node 0 (the lowest id) coordinates. Every link is cut, so no node
    // has a majority and node 1 self-fences. When the network heals, the coordinator finds the owner
    // back in its view with a passive copy of the current epoch, and gives it a new epoch to remount.
    let mut sim = formed_three(three_node([N1, N0, N2]), N1);
    let mut c = Checks::new();
    let cut = secs(30) + 500 * MS;
    sim.run_until(cut);
    sim.partition(N0, N1);
    sim.partition(N0, N2);
    sim.partition(N1, N2);
    sim.run_until(secs(60));
    let fence = sim.dismounts().into_iter().find(|d| d.node == N1 && d.at > cut);
    c.check(
        fence.is_some_and(|d| d.reason == StopReason::QuorumLost),
        format!("node 1 should have self-fenced: {fence:?}"),
    );
    let healed = secs(60);
    sim.heal_all();
    sim.run_until(secs(90));
    let decision = sim.decisions().into_iter().find(|d| d.at > healed);
    c.check(
        decision.is_some_and(|d| {
            d.by == N0
                && d.from == Some(N1)
                && d.to == N1
                && d.reason == FailoverReason::Remount
                && d.epoch == 2
        }),
        format!("expected node 0 to remount node 1 in epoch 2: {decision:?}"),
    );
    let mount = sim.mounts().into_iter().find(|m| m.at > healed);
    c.check(
        mount.is_some_and(|m| m.node == N1 && m.epoch == 2 && m.lost_logs == 0),
        format!("expected node 1 to remount epoch 2 with nothing lost: {mount:?}"),
    );
    c.finish(&sim);
}

// ----- takeover timing ------------------------------------------------------------------------------

#[test]
fn a_takeover_is_decided_the_instant_the_dead_owner_can_no_longer_count_our_vote() {
    // Node 2 lost node 0 long ago; node 0 dies at 40.2 s. The coordinator (node 1) may take over once
    // node 0 can no longer count its vote: its last "I hear you" plus the echo timeout (failure timeout
    // plus one interval) plus the takeover margin. With a margin of 2.5 s that instant falls between
    // heartbeats, and the coordinator must wake for it rather than wait for the next heartbeat.
    let mut config = three_node([N0, N1, N2]);
    config.settings.takeover_margin = Duration::from_millis(2_500);
    let mut sim = formed_three(config, N0);
    let mut c = Checks::new();
    sim.run_until(secs(30) + 200 * MS);
    sim.partition(N0, N2);
    let off = secs(40) + 200 * MS;
    sim.run_until(off);
    sim.power_off(N0);
    sim.run_until(secs(70));
    let settings = &sim.config.settings;
    let wait = failure_timeout_ns(&sim) + ns(settings.heartbeat_interval) + ns(settings.takeover_margin);
    // Node 1 goes on echoing node 0 until it stops hearing it, a failure timeout after the power cut.
    let last_hears_you = sim.hears_you_sent(N1, N0).last().copied().unwrap_or(0);
    let safe = last_hears_you + wait;
    // The decision commits when node 2's vote is back: one round trip after the proposal.
    let round_trip = 2 * sim.latency;
    let decision = sim.decisions().into_iter().find(|d| d.at > off);
    c.check(
        decision.is_some_and(|d| {
            d.by == N1 && d.to == N1 && d.reason == FailoverReason::OwnerDown && d.at == safe + round_trip
        }),
        format!(
            "expected node 1 to decide at {} (last 'I hear you' at {}): {decision:?}",
            fmt_time(safe),
            fmt_time(last_hears_you)
        ),
    );
    c.finish(&sim);
}

#[test]
fn a_switchover_target_starts_as_soon_as_the_old_owner_has_stopped() {
    // An operator moves the database to node 1. Node 1 waits while node 0 still serves, but no longer:
    // once node 0's heartbeat says it has stopped, node 1 pulls the last logs and brings its resources
    // online (1 s + 1 s + 2 s), within a heartbeat or two of copying, instead of sitting out the two
    // failure timeouts it allows a stuck owner.
    let mut sim = Sim::new(ClusterConfig::ccr_two_node());
    sim.client(H0, DB, secs(20), EVERY, 50, BYTES);
    sim.run_until(secs(25) + 300 * MS);
    let moved_at = sim.now();
    sim.inject(N0, Input::OperatorMove { db: DB, to: N1 });
    sim.run_until(secs(60));
    let mut c = Checks::new();
    let stopped = sim.dismounts().into_iter().find(|d| d.node == N0 && d.at >= moved_at);
    let mount = sim.mounts().into_iter().find(|m| m.node == N1);
    let online_time: u64 = sim.config.databases[0].resources.iter().map(|r| ns(r.online_time)).sum();
    let interval = ns(sim.config.settings.heartbeat_interval);
    match (stopped, mount) {
        (Some(stopped), Some(mount)) => c.check(
            stopped.reason == StopReason::Moved && mount.at <= stopped.at + 2 * interval + online_time,
            format!("node 0 stopped at {}, node 1 mounted at {}", fmt_time(stopped.at), fmt_time(mount.at)),
        ),
        _ => c.check(false, format!("expected a move: stopped {stopped:?}, mounted {mount:?}")),
    }
    c.finish(&sim);
}

// ----- the file share witness: renewal and arbitration delay (domain.md 1.2) ------------------------

/// The times `node` asked the witness for `wanted` (Acquire, Renew, ...) in `[from, until)`.
fn witness_requests(
    sim: &Sim,
    node: NodeId,
    wanted: fn(&WitnessOp) -> bool,
    from: u64,
    until: u64,
) -> Vec<u64> {
    sim.outputs_of(node)
        .filter(|(at, _)| (from..until).contains(at))
        .filter_map(|(at, output)| match output {
            Output::Effect(Effect::WitnessRequest(call)) if wanted(&call.op) => Some(at),
            _ => None,
        })
        .collect()
}

fn gaps(times: &[u64]) -> Vec<u64> {
    times.windows(2).map(|pair| pair[1] - pair[0]).collect()
}

#[test]
fn the_owner_renews_its_witness_lock_every_half_lease_so_the_lock_never_lapses() {
    let mut sim = Sim::new(ClusterConfig::ccr_two_node());
    sim.run_until(secs(60));
    let mut c = Checks::new();
    let lease = ns(sim.config.settings.witness_lease);
    let renewals = witness_requests(&sim, N0, |op| *op == WitnessOp::Renew, secs(20), secs(60));
    c.check(renewals.len() >= 6, format!("expected a renewal every {} s: {renewals:?}", lease / 2 / SEC));
    let spacing = gaps(&renewals);
    c.check(
        spacing.iter().all(|&gap| gap == lease / 2),
        format!("renewals should be exactly half a lease ({} ns) apart: {spacing:?}", lease / 2),
    );
    // Ground truth at the witness: every grant to node 0 comes before its previous lease ran out.
    let grants: Vec<(u64, u64)> = sim
        .records
        .iter()
        .filter_map(|record| match record.what {
            What::WitnessGranted { holder, lease_until } if holder == N0 => Some((record.at, lease_until)),
            _ => None,
        })
        .collect();
    let lapses: Vec<_> = grants.windows(2).filter(|pair| pair[1].0 >= pair[0].1).collect();
    c.check(lapses.is_empty(), format!("the lock lapsed between grants: {lapses:?}"));
    c.finish(&sim);
}

#[test]
fn a_node_cut_off_from_the_owner_asks_for_the_witness_only_after_the_arbitration_delay() {
    // Node 1 loses node 0 at the cut plus the failure timeout. It lacks a majority without the witness,
    // so it competes for it, but only after the arbitration delay, which gives the owner (who holds
    // the lock) the head start; denied, it tries again once per heartbeat interval.
    let mut sim = Sim::new(ClusterConfig::ccr_two_node());
    sim.run_until(secs(20) + 500 * MS);
    let mut c = Checks::new();
    let cut = sim.now();
    sim.partition(N0, N1);
    sim.run_until(secs(45));
    let delay = ns(sim.config.settings.witness_arbitration_delay);
    let interval = ns(sim.config.settings.heartbeat_interval);
    let lost =
        sim.quorum_claims(N1).into_iter().find(|(at, quorate, _)| *at > cut && !*quorate).map(|(at, ..)| at);
    let acquires = witness_requests(&sim, N1, |op| *op == WitnessOp::Acquire, cut, secs(45));
    match lost {
        None => c.check(false, "node 1 never lost quorum"),
        Some(lost) => {
            c.check(
                acquires.first() == Some(&(lost + delay)),
                format!(
                    "first acquire {acquires:?} should be the arbitration delay after {}",
                    fmt_time(lost)
                ),
            );
        }
    }
    let spacing = gaps(&acquires);
    c.check(
        acquires.len() >= 5 && spacing.iter().all(|&gap| gap > interval && gap < interval + 10 * MS),
        format!("denied, node 1 should retry about once per interval: {spacing:?}"),
    );
    c.check(sim.witness_holder() == Some(N0), "the owner should still hold the witness");
    c.check(sim.serving_now(DB) == [N0].into(), format!("serving: {:?}", sim.serving_now(DB)));
    c.finish(&sim);
}

// ----- resubmission requests (domain.md 3.1, the transport dumpster) ---------------------------------

/// When `node` sent a resubmission request to `hub`, at or after `since`.
fn resubmit_requests_to(sim: &Sim, node: NodeId, hub: HubId, since: u64) -> Vec<u64> {
    sim.outputs_of(node)
        .filter(|(at, _)| *at >= since)
        .filter_map(|(at, output)| match output {
            Output::Effect(Effect::Send { to, message: Message::ResubmitRequest { .. }, .. })
                if *to == Endpoint::Hub(hub) =>
            {
                Some(at)
            }
            _ => None,
        })
        .collect()
}

#[test]
fn an_unanswered_resubmission_request_is_repeated_every_copy_timeout_and_only_to_the_silent_hub() {
    // Node 0 dies mid-log; node 1 mounts lossily while hub 1 cannot reach it. Hub 0 answers the first
    // request; hub 1 is asked again once per copy timeout until the link heals and it answers.
    let mut config = ClusterConfig::ccr_two_node();
    config.hubs = vec![H0, H1];
    let mut sim = Sim::new(config);
    sim.run_until(secs(20));
    sim.client(H0, DB, secs(20), EVERY, 200, BYTES / 10);
    sim.client(H1, DB, secs(20) + 100 * MS, EVERY, 200, BYTES / 10);
    sim.run_until(secs(30) + 550 * MS);
    sim.power_off(N0);
    sim.cut_hub(H1, N1);
    sim.run_until(secs(90));
    let mut c = Checks::new();
    let copy_timeout = ns(sim.config.settings.copy_timeout);
    let mount = sim.mounts().into_iter().find(|m| m.node == N1);
    let Some(mount) = mount.filter(|m| m.lost_logs > 0) else {
        c.check(false, format!("expected a lossy mount on node 1: {mount:?}"));
        return c.finish(&sim);
    };
    let to_hub0 = resubmit_requests_to(&sim, N1, H0, mount.at);
    c.check(to_hub0 == vec![mount.at], format!("hub 0 answered at once, so one request: {to_hub0:?}"));
    let to_hub1 = resubmit_requests_to(&sim, N1, H1, mount.at);
    let expected: Vec<u64> =
        (0..).map(|n| mount.at + n * copy_timeout).take_while(|&at| at <= secs(90)).collect();
    c.check(to_hub1 == expected, format!("hub 1 should be asked every {copy_timeout} ns: {to_hub1:?}"));
    let healed = sim.now();
    sim.heal_all();
    sim.run_until(secs(150));
    let after = resubmit_requests_to(&sim, N1, H1, healed);
    c.check(after.len() == 1, format!("one more request reaches hub 1 and it answers: {after:?}"));
    c.finish(&sim);
}

#[test]
fn a_lossy_mount_asks_for_what_the_hubs_delivered_since_its_last_copied_log_plus_the_margin() {
    // Node 0 dies at 100.55 s; node 1 last copied a log within the second or two before. It asks the
    // hubs to resubmit from that copy minus `resubmit_margin`: not from the start of time, which would
    // replay (and suppress as duplicates) everything the dumpster holds.
    let mut sim = Sim::new(ClusterConfig::ccr_two_node());
    sim.client(H0, DB, secs(20), EVERY, 500, BYTES);
    let off = secs(100) + 550 * MS;
    sim.run_until(off);
    sim.power_off(N0);
    sim.run_until(secs(130));
    let mut c = Checks::new();
    let margin = ns(sim.config.settings.resubmit_margin);
    let mount = sim.mounts().into_iter().find(|m| m.node == N1);
    let first_window = sim.outputs_of(N1).find_map(|(at, output)| match output {
        Output::Effect(Effect::Send { message: Message::ResubmitRequest { window, .. }, .. }) => {
            Some((at, ns(*window)))
        }
        _ => None,
    });
    match (mount, first_window) {
        (Some(mount), Some((at, window))) if mount.lost_logs > 0 && at == mount.at => {
            let since = at - window;
            c.check(
                since + margin <= off && since + margin + secs(3) >= off,
                format!(
                    "asked from {} (margin {margin} ns), node 0 died at {}",
                    fmt_time(since),
                    fmt_time(off)
                ),
            );
        }
        _ => c.check(
            false,
            format!("expected a lossy mount and a request with it: {mount:?}, {first_window:?}"),
        ),
    }
    c.finish(&sim);
}

// ----- epoch commits at the file share witness ------------------------------------------------------

/// The epochs `node` asked the witness to record.
fn record_requests(sim: &Sim, node: NodeId) -> Vec<Epoch> {
    sim.outputs_of(node)
        .filter_map(|(_, output)| match output {
            Output::Effect(Effect::WitnessRequest(failover::WitnessCall {
                op: WitnessOp::Record { epoch, .. },
                ..
            })) => Some(*epoch),
            _ => None,
        })
        .collect()
}

#[test]
fn only_the_witness_holder_asks_the_witness_to_record_a_proposed_epoch() {
    // Node 0 serves and holds the witness lock; an operator moves the database to node 1. Node 0
    // proposes epoch 2 and, as the holder, has the witness record it; node 1 accepts the proposal but,
    // without the lock, has no witness vote to give and asks the witness for nothing.
    let mut sim = Sim::new(ClusterConfig::ccr_two_node());
    sim.run_until(secs(20) + 500 * MS);
    let mut c = Checks::new();
    c.check(sim.witness_holder() == Some(N0), "node 0 should hold the witness");
    sim.inject(N0, Input::OperatorMove { db: DB, to: N1 });
    sim.run_until(secs(40));
    let moved = sim.decisions().into_iter().find(|d| d.reason == FailoverReason::Operator);
    c.check(
        moved.is_some_and(|d| d.to == N1 && d.epoch == 2),
        format!("expected a move in epoch 2: {moved:?}"),
    );
    let by_holder = record_requests(&sim, N0);
    c.check(
        by_holder.contains(&2),
        format!("the holder should have the witness record epoch 2: {by_holder:?}"),
    );
    let by_member = record_requests(&sim, N1);
    c.check(by_member.is_empty(), format!("node 1 holds no lock, yet asked to record {by_member:?}"));
    c.finish(&sim);
}

#[test]
fn a_witness_request_left_unanswered_is_abandoned_after_two_heartbeat_intervals_and_sent_again() {
    // The share stops answering node 0 (its answers would take 30 s). Node 0 holds the lock and keeps
    // asking: each request unanswered for two heartbeat intervals is given up and sent again.
    let mut sim = Sim::new(ClusterConfig::ccr_two_node());
    sim.run_until(secs(20) + 500 * MS);
    let mut c = Checks::new();
    let cut = sim.now();
    sim.witness_timeout = secs(30);
    sim.cut_witness(N0);
    sim.run_until(secs(45));
    let abandon_after = 2 * ns(sim.config.settings.heartbeat_interval);
    let asked =
        witness_requests(&sim, N0, |op| matches!(op, WitnessOp::Renew | WitnessOp::Acquire), cut, secs(45));
    let spacing = gaps(&asked);
    c.check(
        asked.len() >= 8 && spacing.iter().all(|&gap| gap == abandon_after),
        format!("expected a request every {abandon_after} ns while unanswered: {spacing:?}"),
    );
    c.finish(&sim);
}

// ----- log copying ------------------------------------------------------------------------------------

#[test]
fn a_passive_on_a_clean_network_is_sent_each_log_exactly_once() {
    // A passive asks for the generations after the last one it holds, so on a network that loses
    // nothing the owner ships every generation once, in order, and the passive keeps up.
    let mut sim = Sim::new(ClusterConfig::ccr_two_node());
    sim.client(H0, DB, secs(20), EVERY, 150, BYTES);
    sim.run_until(secs(60));
    let mut c = Checks::new();
    let shipped: Vec<u64> = sim
        .outputs_of(N0)
        .filter_map(|(_, output)| match output {
            Output::Effect(Effect::Send { to, message: Message::LogData { generation, .. }, .. })
                if *to == Endpoint::Node(N1) =>
            {
                Some(*generation)
            }
            _ => None,
        })
        .collect();
    let owner_has = last_generation(&sim, N0);
    let expected: Vec<u64> = (1..=owner_has).collect();
    c.check(owner_has >= 20, format!("the owner should have closed many logs: {owner_has}"));
    c.check(shipped == expected, format!("generations shipped to node 1: {shipped:?}"));
    c.check(last_generation(&sim, N1) == owner_has, "node 1 should hold every closed log");
    c.finish(&sim);
}

// ----- lineage at takeover --------------------------------------------------------------------------

#[test]
fn a_former_owner_taking_over_from_a_dead_owner_first_discards_the_tail_a_newer_epoch_abandoned() {
    // Node 0 serves epoch 1 and is cut off: until it self-fences it writes logs nobody else gets. Node 1
    // takes over in epoch 2 from where it was, and dies soon after. Node 0 comes back to node 2 alone,
    // holding more logs than node 2, and is chosen. Node 1 cannot be asked where epoch 2 began, but
    // node 2 said so in its heartbeats: node 0 must roll its abandoned epoch-1 tail back to there
    // before it mounts, not serve epoch 3 on top of it (`ccr-nemesis` seed 470).
    // Mail stops at 35 s, while node 0 still serves, and the dumpster is off: node 1 then writes no
    // log of its own in epoch 2, and node 0's tail is the longest copy.
    let hubs = HubConfig { dumpster_enabled: false, ..HubConfig::default() };
    let mut sim = formed_three_from(Sim::build(three_node([N0, N1, N2]), hubs, &[N2]), N0);
    let mut c = Checks::new();
    sim.client(H0, DB, secs(20), EVERY, 75, BYTES);
    let cut = secs(30) + 500 * MS;
    sim.run_until(cut);
    sim.partition(N0, N1);
    sim.partition(N0, N2);
    // Node 1 must die soon after it mounts, with fewer logs written than node 0's abandoned tail, but
    // after one heartbeat has told node 2 where epoch 2 began.
    let mounted = |sim: &Sim| sim.mounts().into_iter().find(|m| m.at > cut && m.node == N1);
    while mounted(&sim).is_none() && sim.now() < secs(60) {
        sim.run_for(100 * MS);
    }
    sim.run_for(1_500 * MS);
    let takeover = mounted(&sim);
    let Some(takeover) = takeover.filter(|m| m.epoch == 2) else {
        c.check(false, format!("expected node 1 to take over in epoch 2: {takeover:?}"));
        return c.finish(&sim);
    };
    sim.power_off(N1);
    let epoch_two_start = sim.node(N2).disk().copies[&DB].epoch_start(2);
    c.check(epoch_two_start.is_some(), "node 2 should know where epoch 2 began");
    let start = epoch_two_start.unwrap_or(0);
    let tail: Vec<u64> = sim.node(N0).disk().copies[&DB].logs.range(start + 1..).map(|(&g, _)| g).collect();
    c.check(
        !tail.is_empty(),
        format!("node 0 should hold logs past generation {start} (its abandoned tail)"),
    );
    let back = sim.now();
    sim.heal_all();
    sim.run_until(secs(100));
    let remount = sim.mounts().into_iter().find(|m| m.at > back);
    c.check(
        remount.is_some_and(|m| m.node == N0 && m.epoch == 3),
        format!("expected node 0 to serve epoch 3: {remount:?}"),
    );
    let rolled_back = sim.outputs_of(N0).any(|(at, output)| {
        at > back && matches!(output, Output::Note(Note::RolledBack { to_generation, .. }) if *to_generation == start)
    });
    c.check(
        rolled_back,
        format!("node 0 should have rolled back to generation {start}, where epoch 2 began"),
    );
    let stale: Vec<u64> = sim.node(N0).disk().copies[&DB]
        .logs
        .range(start + 1..)
        .filter(|(_, log)| log.epoch < 2)
        .map(|(&g, _)| g)
        .collect();
    c.check(
        stale.is_empty(),
        format!("node 0 still holds abandoned epoch-1 generations {stale:?} (takeover at {takeover:?})"),
    );
    c.finish(&sim);
}
