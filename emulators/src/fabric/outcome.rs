//! What the fabric answers: the fate of a frame, the state of a path, and the running counters.

use core::fmt;
use kernel::SimTime;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The fate of one frame, decided when it is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Transmission {
    /// The frame arrives at the receiver's NIC at `at`; the harness schedules its delivery then.
    Delivered { at: SimTime },
    /// The frame never arrives. Frames are datagrams: nothing retransmits it.
    Dropped(DropReason),
}

/// Why a frame was dropped.
///
/// When several apply, the fabric reports the first in the order `NoNic`, `NicDown`, `LinkCut`,
/// `SwitchDown`, `MtuExceeded`, `Loss`: the deterministic reasons come before the random one, so a frame
/// that a fault already stops never draws from the link's stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DropReason {
    /// The sender or the receiver has no NIC on that network.
    NoNic,
    /// The sender's or the receiver's NIC on that network is down.
    NicDown,
    /// The directed link from sender to receiver is cut.
    LinkCut,
    /// The switch the network goes through has lost power.
    SwitchDown,
    /// The frame was lost at random on the wire.
    Loss,
    /// The frame is larger than the smallest MTU on its path (a gray failure: small frames still pass).
    MtuExceeded,
}

impl DropReason {
    /// The kebab-case name, identical to the serde form, used in histories and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::NoNic => "no-nic",
            DropReason::NicDown => "nic-down",
            DropReason::LinkCut => "link-cut",
            DropReason::SwitchDown => "switch-down",
            DropReason::Loss => "loss",
            DropReason::MtuExceeded => "mtu-exceeded",
        }
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The ground-truth state of a directed path, for checkers and reports.
///
/// Only deterministic faults make a path `Down`; random loss and MTU limits depend on the frame, so a
/// lossy or MTU-limited path is still `Up` here (see `Fabric::path_mtu_bytes` for the latter).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PathState {
    Up,
    Down(DropReason),
}

/// Which directions of a link a cut or heal applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// From `from` to `to` only: an asymmetric (one-way) fault.
    Forward,
    /// Both directions between the two hosts.
    Both,
}

/// Running counters of every frame the fabric has decided.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FabricStats {
    /// Frames that were delivered.
    pub delivered: u64,
    /// Frames dropped, per reason; a reason that never happened is absent.
    pub dropped: BTreeMap<DropReason, u64>,
}

impl FabricStats {
    /// Frames dropped for `reason`.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped.get(&reason).copied().unwrap_or(0)
    }

    /// Frames dropped for any reason.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.values().sum()
    }

    pub(super) fn record(&mut self, outcome: Transmission) {
        match outcome {
            Transmission::Delivered { .. } => self.delivered += 1,
            Transmission::Dropped(reason) => *self.dropped.entry(reason).or_insert(0) += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drop_reasons_display_in_kebab_case() {
        let names: Vec<String> = [
            DropReason::NoNic,
            DropReason::NicDown,
            DropReason::LinkCut,
            DropReason::SwitchDown,
            DropReason::Loss,
            DropReason::MtuExceeded,
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        assert_eq!(names, ["no-nic", "nic-down", "link-cut", "switch-down", "loss", "mtu-exceeded"]);
    }

    #[test]
    fn stats_count_deliveries_and_drops_per_reason() {
        let mut stats = FabricStats::default();
        stats.record(Transmission::Delivered { at: SimTime::ZERO });
        stats.record(Transmission::Dropped(DropReason::Loss));
        stats.record(Transmission::Dropped(DropReason::Loss));
        stats.record(Transmission::Dropped(DropReason::LinkCut));
        assert_eq!(stats.delivered, 1);
        assert_eq!(stats.dropped(DropReason::Loss), 2);
        assert_eq!(stats.dropped(DropReason::LinkCut), 1);
        assert_eq!(stats.dropped(DropReason::NicDown), 0);
        assert_eq!(stats.dropped_total(), 3);
    }
}
