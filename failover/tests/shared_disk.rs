//! One test per shared-disk rule (reference/domain.md 2.1 fence_scsi, 2.3 WS2008 challenge/defense,
//! 1.1 disk witness): a Single Copy Cluster whose storage group lives on an array LUN, fenced by
//! SCSI-3 persistent reservations, driven through the small deterministic driver in `support` and its
//! fake PR array.

mod support;

use failover::io::{CopyRole, ResourceState};
use failover::io::{Effect, Note};
use failover::{
    ArbitrationStep, ClusterConfig, DiskFencing, Endpoint, Input, LunId, Message, NodeId, Output,
    QuorumModel, StopReason, StorageOp, StoragePath, Voter, reservation_key,
};
use std::collections::BTreeSet;
use support::*;

const LUN: LunId = LunId(0);
const WITNESS_LUN: LunId = LunId(9);
const BYTES: u32 = 200_000;
const EVERY: u64 = 200 * MS;

fn scc() -> ClusterConfig {
    ClusterConfig::scc_two_node()
}

/// Boots the cluster and runs it to 20 s, by which `owner` must serve epoch 1 and nobody else.
fn formed(config: ClusterConfig, owner: NodeId) -> Sim {
    formed_from(Sim::new(config), owner)
}

fn is_pr_command(op: &StorageOp) -> bool {
    !matches!(op, StorageOp::Connect | StorageOp::Read { .. } | StorageOp::Write { .. })
}

fn steps(sim: &Sim, node: NodeId) -> Vec<(u64, ArbitrationStep)> {
    sim.arbitration(node).into_iter().map(|(at, _, _, step)| (at, step)).collect()
}

fn first_step(sim: &Sim, node: NodeId, wanted: fn(&ArbitrationStep) -> bool) -> Option<u64> {
    steps(sim, node).into_iter().find(|(_, step)| wanted(step)).map(|(at, _)| at)
}

#[test]
fn a_disk_comes_online_only_after_registering_on_every_path_and_reserving() {
    let sim = formed(scc(), N0);
    let mut c = Checks::new();
    let disk_online = sim
        .resource_states(N0)
        .into_iter()
        .find(|&(_, resource, state)| resource == 0 && state == ResourceState::Online)
        .map(|(at, ..)| at);
    let ops = sim.storage_ops(N0);
    let kinds: Vec<&StorageOp> =
        ops.iter().filter(|(at, ..)| Some(*at) <= disk_online).map(|(.., op)| op).collect();
    let key = reservation_key(N0);
    let expected = [
        StorageOp::Connect,
        StorageOp::Register { key },
        StorageOp::Register { key },
        StorageOp::ReadReservation,
        StorageOp::Reserve { key },
        StorageOp::ReadReservation,
    ];
    c.check(
        kinds.iter().map(|op| **op).collect::<Vec<_>>() == expected,
        format!("storage commands before the disk came online: {kinds:?}"),
    );
    let register_paths: BTreeSet<Option<StoragePath>> = ops
        .iter()
        .filter(|(.., op)| matches!(op, StorageOp::Register { .. }))
        .map(|(_, _, path, _)| *path)
        .collect();
    c.check(
        register_paths == BTreeSet::from([Some(StoragePath(0)), Some(StoragePath(1))]),
        format!("registered on {register_paths:?}, expected both paths"),
    );
    let ip_pending = sim
        .resource_states(N0)
        .into_iter()
        .find(|&(_, resource, state)| resource == 1 && state == ResourceState::OnlinePending)
        .map(|(at, ..)| at);
    c.check(
        disk_online.is_some() && ip_pending >= disk_online,
        format!("the IP started at {ip_pending:?}, before the disk was online at {disk_online:?}"),
    );
    let lun = sim.lun(LUN);
    c.check(lun.holder == Some(key), format!("the array's reservation holder is {:?}", lun.holder));
    c.check(
        lun.registrations.get(&(N0, 0)) == Some(&key) && lun.registrations.get(&(N0, 1)) == Some(&key),
        format!("registrations at the array: {:?}", lun.registrations),
    );
    c.check(
        steps(&sim, N0).iter().any(|(_, step)| *step == ArbitrationStep::Registered { paths: 2 }),
        "no Registered { paths: 2 } step was recorded",
    );
    c.check(
        sim.storage_ops(N1).iter().all(|(.., op)| !is_pr_command(op)),
        "the passive node sent PR commands",
    );
    c.finish(&sim);
}

#[test]
fn a_challenger_that_preempts_a_dead_owner_waits_the_arbitration_delay_then_mounts() {
    let mut sim = formed(scc(), N0);
    let mut c = Checks::new();
    sim.power_off(N0);
    sim.run_until(secs(60));
    let preempt = sim.storage_ops(N1).into_iter().find(|(.., op)| matches!(op, StorageOp::Preempt { .. }));
    match preempt {
        None => c.check(false, "the challenger never preempted the dead owner"),
        Some((preempted_at, _, path, op)) => {
            c.check(
                op == StorageOp::Preempt {
                    key: reservation_key(N1),
                    victim: reservation_key(N0),
                    abort: true,
                },
                format!("unexpected preempt {op:?}"),
            );
            c.check(path.is_none(), "the preempt was pinned to one path instead of multipath");
            let won = first_step(&sim, N1, |step| *step == ArbitrationStep::Won);
            let delay = ns(sim.config.settings.arbitration_delay);
            c.check(
                won.is_some_and(|won| won >= preempted_at + delay),
                format!("the challenger won at {won:?}, less than the arbitration delay after preempting at {preempted_at}"),
            );
            let mount = sim.mounts().into_iter().find(|mount| mount.node == N1);
            c.check(
                mount.is_some_and(|mount| mount.epoch == 2 && won.is_some_and(|won| mount.at >= won)),
                format!("the challenger's mount: {mount:?}"),
            );
        }
    }
    let lun = sim.lun(LUN);
    c.check(lun.holder == Some(reservation_key(N1)), format!("holder at the end: {:?}", lun.holder));
    c.check(
        lun.registrations.values().all(|&key| key != reservation_key(N0)),
        format!("the dead owner is still registered: {:?}", lun.registrations),
    );
    c.finish(&sim);
}

#[test]
fn a_live_quorate_owner_defends_its_reservation_and_the_challenger_loses() {
    // Quorum off: both halves of a partition believe they may run, so only the disk protects the data.
    let mut config = scc();
    config.settings.quorum = QuorumModel::Disabled;
    let mut sim = formed(config, N0);
    let mut c = Checks::new();
    sim.partition(N0, N1);
    sim.run_until(secs(90));
    let challenged = first_step(&sim, N1, |step| matches!(step, ArbitrationStep::Challenged { .. }));
    let defended =
        first_step(&sim, N0, |step| *step == ArbitrationStep::Defended { challenger: reservation_key(N1) });
    let lost = first_step(&sim, N1, |step| *step == ArbitrationStep::Lost);
    c.check(challenged.is_some(), "the other partition never challenged");
    c.check(defended.is_some(), "the live owner never defended");
    c.check(
        lost.is_some() && defended < lost && challenged < defended,
        format!("challenged {challenged:?}, defended {defended:?}, lost {lost:?}: expected in that order"),
    );
    c.check(sim.mounts().iter().all(|mount| mount.node == N0), format!("mounts: {:?}", sim.mounts()));
    c.check(sim.serving_now(DB) == BTreeSet::from([N0]), format!("serving: {:?}", sim.serving_now(DB)));
    c.check(sim.node(N1).role(DB) != Some(CopyRole::Active), "the challenger became active");
    c.check(sim.lun(LUN).holder == Some(reservation_key(N0)), format!("holder: {:?}", sim.lun(LUN).holder));
    c.finish(&sim);
}

#[test]
fn an_owner_whose_reservation_vanished_after_an_array_reboot_registers_and_reserves_again() {
    let mut sim = formed(scc(), N0);
    let mut c = Checks::new();
    let reboot = secs(20) + 100 * MS;
    sim.run_until(reboot);
    sim.array_reboot();
    sim.run_for(secs(10));
    let reasserted = first_step(&sim, N0, |step| *step == ArbitrationStep::Reasserted);
    c.check(
        reasserted.is_some_and(|at| at <= reboot + ns(sim.config.settings.defense_interval) + secs(1)),
        format!("reasserted at {reasserted:?}, expected within one defense interval of the reboot"),
    );
    let reregistered: BTreeSet<Option<StoragePath>> = sim
        .storage_ops(N0)
        .into_iter()
        .filter(|(at, .., op)| *at > reboot && matches!(op, StorageOp::Register { .. }))
        .map(|(_, _, path, _)| path)
        .collect();
    c.check(
        reregistered == BTreeSet::from([Some(StoragePath(0)), Some(StoragePath(1))]),
        format!("registered again on {reregistered:?}"),
    );
    let lun = sim.lun(LUN);
    c.check(lun.holder == Some(reservation_key(N0)), format!("holder: {:?}", lun.holder));
    c.check(sim.dismounts().is_empty(), format!("the group stopped: {:?}", sim.dismounts()));
    c.finish(&sim);
}

#[test]
fn a_challenger_whose_array_stops_answering_mid_arbitration_retries_with_a_bounded_backoff_and_mounts_when_it_returns()
 {
    let mut sim = formed(scc(), N0);
    let mut c = Checks::new();
    sim.power_off(N0);
    let preempted = |sim: &Sim| {
        sim.storage_ops(N1)
            .into_iter()
            .find(|(.., op)| matches!(op, StorageOp::Preempt { .. }))
            .map(|(at, ..)| at)
    };
    while preempted(&sim).is_none() && sim.now() < secs(60) {
        sim.run_for(100 * MS);
    }
    let Some(preempted_at) = preempted(&sim) else {
        c.check(false, "the challenger never preempted the dead owner");
        return c.finish(&sim);
    };
    // The controllers reboot inside the arbitration delay and stay silent for a minute.
    sim.run_for(secs(2));
    c.check(first_step(&sim, N1, |step| *step == ArbitrationStep::Won).is_none(), "won before the reboot");
    let _ = preempted_at;
    sim.array_reboot();
    sim.cut_storage(N1);
    let back = sim.now() + secs(60);
    sim.run_until(back);
    sim.heal_storage(N1);
    sim.run_for(secs(30));
    let settings = &sim.config.settings;
    let (base, cap) = (ns(settings.defense_interval), ns(settings.storage_request_timeout));
    let delays: Vec<u64> = steps(&sim, N1)
        .into_iter()
        .filter_map(|(_, step)| match step {
            ArbitrationStep::Interrupted { retry_in_ms, .. } => Some(retry_in_ms * 1_000_000),
            _ => None,
        })
        .collect();
    let doubling = delays.iter().enumerate().all(|(i, &d)| d == (base << i.min(16)).min(cap));
    c.check(
        delays.len() >= 3 && doubling,
        format!("retry delays {delays:?} (ns), expected doubling to {cap}"),
    );
    let gave_up = steps(&sim, N1)
        .into_iter()
        .any(|(_, step)| matches!(step, ArbitrationStep::Lost | ArbitrationStep::DataPathFailed));
    c.check(!gave_up, "the challenger gave the group up although no other node could take it");
    let won = first_step(&sim, N1, |step| *step == ArbitrationStep::Won);
    c.check(
        // An attempt sent just before the array returned still waits out its request timeout (the cap).
        won.is_some_and(|at| at > back && at <= back + 2 * cap + secs(1)),
        format!("won at {won:?}; the array answered again at {back}"),
    );
    let lun = sim.lun(LUN);
    c.check(lun.holder == Some(reservation_key(N1)), format!("holder at the end: {:?}", lun.holder));
    let mount = sim.mounts().into_iter().find(|mount| mount.node == N1);
    c.check(mount.is_some_and(|mount| won.is_some_and(|won| mount.at >= won)), format!("mount: {mount:?}"));
    c.finish(&sim);
}

#[test]
fn a_write_answered_with_reservation_conflict_stops_the_group_as_fenced() {
    let mut sim = formed(scc(), N0);
    let mut c = Checks::new();
    sim.client(H0, DB, secs(20), EVERY, 100, BYTES);
    let preempted = secs(22) + 50 * MS;
    sim.run_until(preempted);
    let rogue = 0x0BAD;
    sim.rogue_preempt(LUN, rogue, reservation_key(N0));
    sim.run_for(secs(5));
    let fenced = first_step(&sim, N0, |step| *step == ArbitrationStep::Fenced);
    c.check(
        fenced.is_some_and(|at| at < preempted + 500 * MS),
        format!("fenced at {fenced:?}, expected at the first write after the preempt"),
    );
    let dismount = sim.dismounts().into_iter().find(|d| d.node == N0);
    c.check(dismount.is_some_and(|d| d.reason == StopReason::Fenced), format!("dismount: {dismount:?}"));
    let rejected = sim.outputs_of(N0).any(|(at, output)| {
        at >= preempted
            && matches!(output, Output::Effect(Effect::Send { message: Message::DeliverReject { .. }, .. }))
    });
    c.check(rejected, "the refused write was not rejected to the hub");
    // It must not come back on its own: any new registration follows a newer decision.
    let next_decision = sim.decisions().into_iter().find(|d| d.at > preempted).map(|d| d.at);
    let registered_early = sim.storage_ops(N0).into_iter().any(|(at, .., op)| {
        at > preempted && matches!(op, StorageOp::Register { .. }) && next_decision.is_none_or(|d| at < d)
    });
    c.check(!registered_early, "the fenced node registered again without a new decision");
    let acked_after =
        sim.client_acks().into_iter().filter(|ack| ack.node == N0 && ack.at > preempted + MS * 10).count();
    c.check(acked_after == 0 || next_decision.is_some(), "the fenced node kept acknowledging");
    c.finish(&sim);
}

#[test]
fn a_data_path_check_that_times_out_fails_the_group_over() {
    let mut sim = formed(scc(), N0);
    let mut c = Checks::new();
    let cut = secs(20) + 300 * MS;
    sim.run_until(cut);
    sim.cut_storage(N0);
    sim.run_until(secs(90));
    let failed = first_step(&sim, N0, |step| *step == ArbitrationStep::DataPathFailed);
    let budget = ns(sim.config.settings.data_path_check_interval)
        + ns(sim.config.settings.data_path_timeout)
        + secs(1);
    c.check(
        failed.is_some_and(|at| at <= cut + budget),
        format!("data path failure noticed at {failed:?}, budget {budget} ns after the cut at {cut}"),
    );
    let dismount = sim.dismounts().into_iter().find(|d| d.node == N0);
    c.check(
        dismount.is_some_and(|d| d.reason == StopReason::ResourceFailed),
        format!("dismount: {dismount:?}"),
    );
    // Once the group runs elsewhere, N0 is a possible owner again (its failure was local to it).
    c.check(
        sim.node(N0).role(DB) == Some(CopyRole::Passive),
        format!("role of N0 after the group moved: {:?}", sim.node(N0).role(DB)),
    );
    let restarted = sim.resource_states(N0).iter().any(|&(_, _, state)| state == ResourceState::Restarting);
    c.check(!restarted, "the group was restarted locally on the same broken paths");
    c.check(
        sim.mounts().iter().any(|mount| mount.node == N1 && mount.epoch == 2),
        format!("the group did not fail over: {:?}", sim.mounts()),
    );
    c.check(sim.overlapping_owners(DB).is_empty(), format!("{:?}", sim.overlapping_owners(DB)));
    c.finish(&sim);
}

#[test]
fn fencing_disabled_never_sends_a_persistent_reservation_command() {
    let mut config = scc();
    config.settings.disk_fencing = DiskFencing::Disabled;
    let mut sim = formed(config, N0);
    let mut c = Checks::new();
    sim.client(H0, DB, secs(20), EVERY, 20, BYTES);
    sim.run_until(secs(30));
    sim.power_off(N0);
    sim.run_until(secs(70));
    for node in [N0, N1] {
        let pr: Vec<_> = sim.storage_ops(node).into_iter().filter(|(.., op)| is_pr_command(op)).collect();
        c.check(pr.is_empty(), format!("{node:?} sent PR commands: {pr:?}"));
    }
    c.check(
        sim.storage_ops(N1).iter().any(|(.., op)| *op == StorageOp::Connect),
        "the new owner never connected the disk",
    );
    c.check(sim.mounts().iter().any(|mount| mount.node == N1), "the new owner never mounted");
    c.check(!sim.array_writes().is_empty(), "nothing was written to the array");
    c.finish(&sim);
}

#[test]
fn plain_preempt_is_sent_when_the_unsafe_option_is_set() {
    let mut config = scc();
    config.settings.disk_fencing = DiskFencing::PreemptWithoutAbort;
    let mut sim = formed(config, N0);
    let mut c = Checks::new();
    sim.power_off(N0);
    sim.run_until(secs(60));
    let preempts: Vec<StorageOp> = sim
        .storage_ops(N1)
        .into_iter()
        .map(|(.., op)| op)
        .filter(|op| matches!(op, StorageOp::Preempt { .. }))
        .collect();
    c.check(
        preempts
            == vec![StorageOp::Preempt {
                key: reservation_key(N1),
                victim: reservation_key(N0),
                abort: false,
            }],
        format!("preempts sent: {preempts:?}"),
    );
    c.check(sim.mounts().iter().any(|mount| mount.node == N1), "the challenger never mounted");
    c.finish(&sim);
}

#[test]
fn shared_disk_groups_never_ship_logs() {
    let mut sim = formed(scc(), N0);
    let mut c = Checks::new();
    let msgs: BTreeSet<u64> = sim.client(H0, DB, secs(20), EVERY, 200, BYTES).into_iter().collect();
    sim.run_until(secs(45));
    sim.power_off(N0);
    sim.run_until(secs(120));
    let shipping: Vec<_> = sim
        .node_outputs()
        .filter(|(_, _, output)| match output {
            Output::Note(Note::LogClosed { .. })
            | Output::Note(Note::LogReplayed { .. })
            | Output::Note(Note::RolledBack { .. }) => true,
            Output::Effect(Effect::Send { message, .. }) => matches!(
                message,
                Message::LogClosed { .. }
                    | Message::LogData { .. }
                    | Message::CopyRequest { .. }
                    | Message::LineageRequest { .. }
                    | Message::ResubmitRequest { .. }
            ),
            _ => false,
        })
        .map(|(at, node, output)| format!("{} {node:?} {output:?}", fmt_time(at)))
        .collect();
    c.check(shipping.is_empty(), format!("log shipping happened: {:?}", &shipping[..shipping.len().min(5)]));
    c.check(sim.commits().iter().all(|commit| commit.generation == 0), "a commit named a log generation");
    let on_disk: BTreeSet<u64> = sim.lun(LUN).blocks.keys().copied().collect();
    let acked = sim.acked_by(sim.now());
    c.check(acked == msgs, format!("unacknowledged: {:?}", msgs.difference(&acked).collect::<Vec<_>>()));
    c.check(
        acked.is_subset(&on_disk),
        format!("acknowledged but not on the array: {:?}", acked.difference(&on_disk).collect::<Vec<_>>()),
    );
    let writers: BTreeSet<(NodeId, u64)> =
        sim.array_writes().into_iter().map(|(_, node, _, _, epoch)| (node, epoch)).collect();
    c.check(
        writers == BTreeSet::from([(N0, 1), (N1, 2)]),
        format!("writers (node, epoch) on the array: {writers:?}"),
    );
    c.check(sim.overlapping_owners(DB).is_empty(), format!("{:?}", sim.overlapping_owners(DB)));
    c.finish(&sim);
}

fn disk_witness_config() -> ClusterConfig {
    let mut config = scc();
    config.settings.quorum = QuorumModel::NodeAndDiskMajority;
    config.disk_witness = Some(WITNESS_LUN);
    config
}

/// True-time intervals during which `node` counted the witness vote, from its quorum claims (a node
/// that loses power stops counting).
fn witness_intervals(sim: &Sim, node: NodeId, end: u64) -> Vec<(u64, u64)> {
    let mut intervals = Vec::new();
    let mut since = None;
    for record in &sim.records {
        if record.actor != Actor::Node(node) {
            continue;
        }
        let counts = match &record.what {
            What::Node(Output::Note(Note::QuorumChanged { votes, .. })) => votes.contains(&Voter::Witness),
            What::PowerOff => false,
            _ => continue,
        };
        let at = record.at;
        match (since, counts) {
            (None, true) => since = Some(at),
            (Some(start), false) => {
                intervals.push((start, at));
                since = None;
            }
            _ => {}
        }
    }
    if let Some(start) = since {
        intervals.push((start, end));
    }
    intervals
}

#[test]
fn the_disk_witness_vote_counts_for_at_most_one_partition() {
    let mut all = Checks::new();
    // The owner keeps the vote through a partition; a dead owner's vote passes to the survivor.
    for power_off in [false, true] {
        let mut sim = formed(disk_witness_config(), N0);
        let mut c = Checks::new();
        let at = secs(20) + 500 * MS;
        sim.run_until(at);
        if power_off {
            sim.power_off(N0);
        } else {
            sim.partition(N0, N1);
        }
        sim.run_until(secs(90));
        let end = sim.now();
        let (a, b) = (witness_intervals(&sim, N0, end), witness_intervals(&sim, N1, end));
        let overlapping: Vec<_> = a
            .iter()
            .flat_map(|x| b.iter().map(move |y| (*x, *y)))
            .filter(|((s0, e0), (s1, e1))| s0 < e1 && s1 < e0)
            .collect();
        c.check(overlapping.is_empty(), format!("both nodes counted the witness: {overlapping:?}"));
        let survivor = if power_off { N1 } else { N0 };
        c.check(
            sim.serving_now(DB) == BTreeSet::from([survivor]),
            format!("power off {power_off}: serving at the end {:?}", sim.serving_now(DB)),
        );
        c.check(
            sim.lun(WITNESS_LUN).holder == Some(reservation_key(survivor)),
            format!("power off {power_off}: witness holder {:?}", sim.lun(WITNESS_LUN).holder),
        );
        c.check(sim.overlapping_owners(DB).is_empty(), format!("{:?}", sim.overlapping_owners(DB)));
        c.check(sim.mounts_without_quorum().is_empty(), format!("{:?}", sim.mounts_without_quorum()));
        if !power_off {
            // The cut-off node challenges; the holder, still counting the vote, preempts it back.
            let defended = sim.arbitration(N0).iter().any(|&(_, db, lun, step)| {
                db.is_none()
                    && lun == WITNESS_LUN
                    && step == ArbitrationStep::Defended { challenger: reservation_key(N1) }
            });
            c.check(defended, "the witness holder never defended its vote against the challenger");
        }
        all.merge(c, &sim);
    }
    all.finish_all();
}

#[test]
fn a_hub_retry_of_a_message_already_on_the_disk_is_suppressed_without_a_second_write() {
    let mut sim = formed(scc(), N0);
    let mut c = Checks::new();
    let deliver = Message::Deliver { hub: H0, db: DB, msg: 4242, bytes: BYTES, resubmitted: false };
    let input = || Input::Received { from: Endpoint::Hub(H0), path: None, message: deliver.clone() };
    sim.inject(N0, input());
    sim.run_for(secs(1));
    sim.inject(N0, input());
    sim.run_for(secs(1));
    let writes = sim.array_writes().into_iter().filter(|w| w.3 == 4242).count();
    c.check(writes == 1, format!("message 4242 was written {writes} times"));
    let suppressed = sim
        .outputs_of(N0)
        .any(|(_, output)| matches!(output, Output::Note(Note::DuplicateSuppressed { msg: 4242, .. })));
    c.check(suppressed, "the retry was not reported as a suppressed duplicate");
    let acks = sim
        .outputs_of(N0)
        .filter(|(_, output)| {
            matches!(
                output,
                Output::Effect(Effect::Send { message: Message::DeliverAck { msg: 4242, .. }, .. })
            )
        })
        .count();
    c.check(acks == 2, format!("{acks} acknowledgements, expected one per delivery"));
    c.finish(&sim);
}

#[test]
fn preempt_and_abort_keeps_a_dead_owners_queued_writes_off_the_disk() {
    let mut all = Checks::new();
    for fencing in [DiskFencing::PersistentReservation, DiskFencing::PreemptWithoutAbort] {
        let mut config = scc();
        config.settings.disk_fencing = fencing;
        // Writes sit in the array's queue long enough to outlive their writer.
        config.settings.data_path_timeout = core::time::Duration::from_secs(60);
        let mut sim = Sim::new(config);
        sim.write_service = secs(30);
        sim.run_until(secs(20));
        let mut c = Checks::new();
        sim.client(H0, DB, secs(20), EVERY, 10, BYTES);
        sim.run_until(secs(23));
        sim.power_off(N0);
        sim.run_until(secs(120));
        let won = first_step(&sim, N1, |step| *step == ArbitrationStep::Won);
        let late: Vec<_> = sim
            .array_writes()
            .into_iter()
            .filter(|&(at, node, ..)| node == N0 && won.is_some_and(|won| at > won))
            .collect();
        c.check(won.is_some(), format!("{fencing:?}: the survivor never won the disk"));
        match fencing {
            DiskFencing::PersistentReservation => c.check(
                late.is_empty(),
                format!("{fencing:?}: the dead owner's writes landed after the takeover: {late:?}"),
            ),
            _ => c.check(
                !late.is_empty(),
                format!("{fencing:?}: expected the unsafe option to let queued writes land late"),
            ),
        }
        all.merge(c, &sim);
    }
    all.finish_all();
}

#[test]
fn a_node_does_not_register_on_a_disk_while_its_own_earlier_writes_to_it_are_unanswered() {
    let mut sim = formed(scc(), N0);
    let mut c = Checks::new();
    sim.client(H0, DB, secs(20), EVERY, 20, BYTES);
    sim.run_until(secs(21));
    // N0's storage goes silent with writes outstanding: the data-path check fails the group over.
    sim.cut_storage(N0);
    sim.run_until(secs(60));
    c.check(
        sim.mounts().iter().any(|mount| mount.node == N1),
        format!("no failover to N1: {:?}", sim.mounts()),
    );
    // Its paths come back, but the writes it sent before are never answered (lost in a dead queue).
    // When N1 dies, the group comes back to N0, which must not register again over those writes.
    sim.heal_storage(N0);
    let back_at = secs(61);
    sim.run_until(back_at);
    sim.power_off(N1);
    sim.run_until(secs(120));
    let draining = first_step(&sim, N0, |step| matches!(step, ArbitrationStep::Draining { .. }));
    c.check(draining.is_some(), format!("N0 never waited for its writes: {:?}", steps(&sim, N0)));
    let registered_again = sim
        .storage_ops(N0)
        .into_iter()
        .any(|(at, _, _, op)| at > back_at && matches!(op, StorageOp::Register { .. }));
    c.check(!registered_again, "N0 registered while its earlier writes were unanswered");
    // A reboot clears the host's queues (fence_scsi: "a manual reboot is required"): then it may claim.
    sim.power_off(N0);
    sim.run_until(secs(125));
    sim.power_on(N0);
    sim.run_until(secs(200));
    c.check(
        sim.mounts().iter().any(|mount| mount.node == N0 && mount.epoch >= 3),
        format!("after its reboot N0 should take the group: {:?}", sim.mounts()),
    );
    c.finish(&sim);
}

#[test]
fn a_node_that_takes_a_free_disk_witness_reservation_counts_it_only_after_the_arbitration_delay() {
    let sim = formed(disk_witness_config(), N0);
    let mut c = Checks::new();
    let won = first_step(&sim, N0, |step| *step == ArbitrationStep::Won);
    let counted = witness_intervals(&sim, N0, sim.now()).first().map(|&(start, _)| start);
    let delay = ns(sim.config.settings.arbitration_delay);
    c.check(
        matches!((won, counted), (Some(won), Some(counted)) if counted >= won + delay),
        format!("won the free reservation at {won:?}, counted the vote from {counted:?}; a previous holder may count it for {delay} ns"),
    );
    c.finish(&sim);
}

#[test]
fn a_node_cut_off_from_the_owner_challenges_for_the_disk_witness_only_after_the_arbitration_delay() {
    // Node 1 loses node 0 (who serves and holds the witness reservation). Without the witness it has
    // no majority, so it competes for the vote, but only once the arbitration delay has run from the
    // moment it lost quorum: the owner, who needs no delay, keeps the head start.
    let mut sim = formed(disk_witness_config(), N0);
    let mut c = Checks::new();
    let cut = secs(20) + 500 * MS;
    sim.run_until(cut);
    sim.partition(N0, N1);
    sim.run_until(secs(60));
    let delay = ns(sim.config.settings.witness_arbitration_delay);
    let lost =
        sim.quorum_claims(N1).into_iter().find(|(at, quorate, _)| *at > cut && !*quorate).map(|(at, ..)| at);
    let first = sim.storage_ops(N1).into_iter().find(|&(at, lun, ..)| at > cut && lun == WITNESS_LUN);
    match (lost, first) {
        (Some(lost), Some((first, ..))) => c.check(
            first == lost + delay,
            format!("lost quorum at {}, first witness command at {}", fmt_time(lost), fmt_time(first)),
        ),
        _ => c.check(false, format!("node 1 lost quorum at {lost:?}, touched the witness at {first:?}")),
    }
    c.check(sim.serving_now(DB) == BTreeSet::from([N0]), format!("serving {:?}", sim.serving_now(DB)));
    c.finish(&sim);
}

#[test]
fn an_owner_that_knows_a_newer_ownership_term_does_not_reassert_a_vanished_reservation() {
    // Node 0 serves epoch 1 when the decision for epoch 2 reaches it (injected here: the cluster only
    // decides a new term for a serving owner in a race). Its ownership record now names epoch 2, so
    // epoch 1's claim on the disk is no longer its to defend: when an array reboot drops every
    // reservation, it must not register and reserve again on epoch 1's behalf.
    let mut sim = formed(scc(), N0);
    let mut c = Checks::new();
    let activate = Message::Activate { db: DB, epoch: 2, previous_owner: Some(N0) };
    sim.inject(N0, Input::Received { from: Endpoint::Node(N1), path: None, message: activate });
    sim.run_for(100 * MS);
    let record = sim.node(N0).disk().copies.get(&DB).map(|copy| (copy.owner_epoch, copy.owner));
    c.check(record == Some((2, Some(N0))), format!("node 0's record should name epoch 2: {record:?}"));
    c.check(sim.node(N0).role(DB) == Some(CopyRole::Active), "node 0 should still serve epoch 1");
    let reboot = sim.now();
    sim.array_reboot();
    sim.run_for(secs(20));
    let reasserted: Vec<_> = sim
        .storage_ops(N0)
        .into_iter()
        .filter(|(at, lun, _, op)| {
            *at > reboot
                && *lun == LUN
                && matches!(op, StorageOp::Register { .. } | StorageOp::Reserve { .. })
        })
        .collect();
    c.check(reasserted.is_empty(), format!("node 0 re-asserted epoch 1's claim: {reasserted:?}"));
    c.finish(&sim);
}

#[test]
fn a_member_without_the_disk_witness_reservation_gives_only_its_own_vote_to_a_proposal() {
    // Node 0 serves and holds the disk witness; an operator moves the group to node 1. Node 1 accepts
    // epoch 2 with its own vote; it holds no witness reservation, so it must not vote for the witness.
    let mut sim = formed(disk_witness_config(), N0);
    let mut c = Checks::new();
    c.check(
        sim.lun(WITNESS_LUN).holder == Some(reservation_key(N0)),
        format!("node 0 should hold the witness: {:?}", sim.lun(WITNESS_LUN).holder),
    );
    let moved_at = sim.now();
    sim.inject(N0, Input::OperatorMove { db: DB, to: N1 });
    sim.run_for(secs(20));
    let votes: Vec<Voter> = sim
        .outputs_of(N1)
        .filter(|(at, _)| *at >= moved_at)
        .filter_map(|(_, output)| match output {
            Output::Effect(Effect::Send {
                message: Message::ProposeReply { voter, accepted: true, .. },
                ..
            }) => Some(*voter),
            _ => None,
        })
        .collect();
    c.check(votes == vec![Voter::Node(N1)], format!("node 1's votes for epoch 2: {votes:?}"));
    let moved = sim.mounts().into_iter().find(|m| m.at > moved_at);
    c.check(moved.is_some_and(|m| m.node == N1 && m.epoch == 2), format!("the move: {moved:?}"));
    c.finish(&sim);
}

/// The block of the disk witness's epoch ledger that holds `DB`'s newest accepted epoch.
fn ledger_epoch(sim: &Sim) -> Option<u64> {
    sim.lun(WITNESS_LUN).blocks.get(&failover::ledger_block(DB)).map(|&(_, epoch)| epoch)
}

#[test]
fn the_disk_witness_votes_for_an_epoch_only_once_the_holder_has_written_it_to_the_witness_ledger() {
    // Node 0 serves and holds the disk witness and loses power; node 1, alone, takes the witness and
    // needs its vote to move the group. Writes to the array take longer than the storage request
    // timeout at first, so every ledger write node 1 sends fails: it must not commit a new epoch
    // with the witness meanwhile. Once writes land again, the write that lands is the vote, and the
    // decision follows it.
    let mut sim = formed(disk_witness_config(), N0);
    let mut c = Checks::new();
    let cut = secs(20) + 500 * MS;
    sim.run_until(cut);
    sim.power_off(N0);
    sim.write_service = ns(sim.config.settings.storage_request_timeout) + secs(5);
    sim.run_until(secs(90));
    let early: Vec<_> = sim.decisions().into_iter().filter(|d| d.at > cut).collect();
    c.check(early.is_empty(), format!("decided while no ledger write was acknowledged: {early:?}"));
    let counted = sim.quorum_claims(N1).into_iter().any(|(at, quorate, _)| at > cut && quorate);
    c.check(
        counted,
        "node 1 should count the witness it holds (the reservation counts; only the vote waits)",
    );
    let restored = sim.now();
    sim.write_service = 0;
    sim.run_until(secs(150));
    let decision = sim.decisions().into_iter().find(|d| d.at > restored && d.by == N1);
    let ledger_write = sim.array_writes().into_iter().find(|&(at, node, lun, _, epoch)| {
        at > restored && node == N1 && lun == WITNESS_LUN && Some(epoch) == decision.as_ref().map(|d| d.epoch)
    });
    match (&decision, ledger_write) {
        (Some(decision), Some((written, ..))) => c.check(
            written < decision.at && decision.to == N1,
            format!("ledger write at {}, decision {decision:?}", fmt_time(written)),
        ),
        _ => c.check(false, format!("decision {decision:?}, ledger write {ledger_write:?}")),
    }
    c.check(
        ledger_epoch(&sim) == decision.as_ref().map(|d| d.epoch),
        format!("the ledger holds {:?}", ledger_epoch(&sim)),
    );
    c.check(sim.serving_now(DB) == BTreeSet::from([N1]), format!("serving {:?}", sim.serving_now(DB)));
    c.finish(&sim);
}

#[test]
fn a_node_behind_the_disk_witness_ledger_does_not_commit_an_epoch_the_ledger_holds() {
    // A partition in time across the disk witness (nightly `scc-disk-witness` seeds 2275 and 2354):
    // node 1 is off while node 0 reboots, wins the witness alone and commits epoch 2 with it; then
    // node 0 loses power and node 1 boots, alone, knowing only epoch 1. It wins the witness too. The
    // ledger shows epoch 2, so node 1 must not count the witness: it does not form a cluster alone and
    // does not commit epoch 2 (or any) again. The control variant wipes the ledger before node 1 boots,
    // which is what a witness without a ledger amounted to: node 1 then commits epoch 2 a second time.
    let mut all = Checks::new();
    for wipe_ledger in [false, true] {
        let mut sim = formed(disk_witness_config(), N0);
        let mut c = Checks::new();
        sim.run_until(secs(20) + 500 * MS);
        sim.power_off(N1);
        sim.run_for(secs(5));
        sim.power_off(N0);
        sim.power_on(N0);
        sim.run_for(secs(60));
        let first = sim.decisions().into_iter().find(|d| d.epoch == 2);
        c.check(
            first.as_ref().is_some_and(|d| d.by == N0 && d.to == N0),
            format!("node 0 alone with the witness should commit epoch 2: {first:?}"),
        );
        c.check(ledger_epoch(&sim) == Some(2), format!("the ledger holds {:?}", ledger_epoch(&sim)));
        sim.power_off(N0);
        // Long enough for node 0's last heartbeats (which name epoch 2) to be gone from the network.
        sim.run_for(secs(2));
        if wipe_ledger {
            sim.array.entry(WITNESS_LUN).or_default().blocks.clear();
        }
        let booted = sim.now();
        sim.power_on(N1);
        sim.run_for(secs(90));
        let decided: Vec<_> = sim.decisions().into_iter().filter(|d| d.at > booted).collect();
        let formed_alone = sim.quorum_claims(N1).into_iter().any(|(at, quorate, _)| at > booted && quorate);
        let behind = first_step(&sim, N1, |step| matches!(step, ArbitrationStep::BehindLedger { .. }));
        if wipe_ledger {
            c.check(
                decided.iter().any(|d| d.by == N1 && d.epoch == 2),
                format!("without the ledger node 1 should commit epoch 2 again (the bug): {decided:?}"),
            );
            c.check(!sim.epochs_with_two_owners(DB).is_empty(), "without the ledger epoch 2 has two owners");
        } else {
            c.check(decided.is_empty(), format!("node 1 committed behind the ledger: {decided:?}"));
            c.check(!formed_alone, "node 1 counted the witness although the ledger was ahead of it");
            c.check(behind.is_some(), "node 1 never recorded that the ledger was ahead of it");
            c.check(
                sim.epochs_with_two_owners(DB).is_empty(),
                format!("{:?}", sim.epochs_with_two_owners(DB)),
            );
            c.check(sim.serving_now(DB).is_empty(), format!("serving {:?}", sim.serving_now(DB)));
            // Node 0 comes back: the two form a cluster by node majority and node 0's epoch 2 stands.
            sim.power_on(N0);
            sim.run_for(secs(90));
            c.check(
                sim.epochs_with_two_owners(DB).is_empty(),
                format!("{:?}", sim.epochs_with_two_owners(DB)),
            );
            c.check(!sim.serving_now(DB).is_empty(), "nobody serves once node 0 is back");
        }
        all.merge(c, &sim);
    }
    all.finish_all();
}
