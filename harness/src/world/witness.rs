//! The file share witness in the world: a node's lock request crosses the fabric to the witness host
//! (through its host gate), the share answers after its response delay, and the answer crosses back.
//! Every grant and reset is recorded as ground truth for the quorum checker.

use super::World;
use super::gate::Packet;
use crate::history::{Event, WitnessResetReason};
use emulators::HostId;
use emulators::witness::WitnessReply;
use failover::{Input, WitnessAnswer, WitnessCall, WitnessOp};

impl World<'_> {
    pub(super) fn witness_request(&mut self, node: usize, call: WitnessCall) {
        let Some(witness_host) = self.witness_host else { return };
        let from_host = self.nodes[node].host;
        self.send_packet(self.now(), from_host, witness_host, None, 200, Packet::Witness { node, call });
    }

    /// A lock request reached the witness share (whose host runs: the gate saw to that).
    pub(super) fn witness_arrive(&mut self, node: usize, call: WitnessCall) {
        let now = self.now();
        let (Some(witness_host), Some(witness)) = (self.witness_host, self.witness.as_mut()) else { return };
        let node_host = self.nodes[node].host;
        let reply = witness.request(
            now,
            HostId(node_host as u32),
            match call.op {
                WitnessOp::Acquire => emulators::witness::WitnessOp::Acquire,
                WitnessOp::Renew => emulators::witness::WitnessOp::Renew,
                WitnessOp::Release => emulators::witness::WitnessOp::Release,
                WitnessOp::Record { db, epoch } => {
                    emulators::witness::WitnessOp::Record { key: u64::from(db.0), value: epoch }
                }
            },
        );
        let delay = witness.response_delay();
        let ledger = witness_ledger(witness.file());
        let answer = match reply {
            WitnessReply::Granted { lease_until } => {
                let host = self.host_names[node_host].clone();
                self.record(Event::WitnessLease { host, until: lease_until });
                WitnessAnswer::Granted { lease: lease_until - now, ledger }
            }
            WitnessReply::Released => {
                self.record(Event::WitnessReset { reason: WitnessResetReason::Released });
                WitnessAnswer::Released
            }
            WitnessReply::Recorded { accepted } => WitnessAnswer::Recorded { accepted },
            WitnessReply::Denied { .. } | WitnessReply::NotHeld => WitnessAnswer::Denied,
            WitnessReply::Unavailable => WitnessAnswer::Unavailable,
        };
        // The answer leaves after the share's response delay and crosses the network back.
        let packet = Packet::Node { node, input: Input::Witness { call, answer } };
        self.send_packet(now + delay, witness_host, node_host, None, 200, packet);
    }
}

/// The witness file as the failover logic reads it: the newest epoch recorded for each database.
fn witness_ledger(file: &std::collections::BTreeMap<u64, u64>) -> Vec<(failover::DbId, failover::Epoch)> {
    file.iter().filter_map(|(&key, &epoch)| Some((failover::DbId(u16::try_from(key).ok()?), epoch))).collect()
}
