//! Typed faults: each fault is a value of the device it hits, with exactly the parameters that
//! device needs, its inverse (for auto-heal) where it has one, and its form in a scenario file
//! (`to_toml`), so a shrinker can write a schedule back as TOML.
//!
//! A device's faults are one enum here and one `inject_*` function in `world/faults.rs` that carries
//! them out on its emulator. Validation (`validate.rs`) builds these values and refuses, with
//! file:line:column and a reason, any fault that could not take effect on its target kind; at run
//! time a fault that finds its target already in that state is recorded as `fault-without-effect`.

use super::model::{FaultKind, FaultTrigger, LinkDirection, Target};
use kernel::format_duration;
use std::time::Duration;
use toml::{Table, Value};

/// One scheduled fault: when it fires, what it does, and when its inverse heals it.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultSpec {
    pub at: Duration,
    pub fault: Fault,
    /// Heal automatically this long after `at`, by the fault's inverse.
    pub duration: Option<Duration>,
}

/// A fault, by the device it hits.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    Power(PowerFault),
    /// Whether a host executes: pause, resume, and its clock.
    Run(RunFault),
    Fabric(FabricFault),
    Witness(WitnessFault),
    San(SanFault),
    /// The cluster software on a mailbox node, and its operator.
    Software(SoftwareFault),
    /// What the hypervisor does to a VM: a live migration.
    Hypervisor(HypervisorFault),
    /// Undoes every fault in force.
    HealAll,
}

#[derive(Clone, Debug, PartialEq)]
pub enum PowerFault {
    Off {
        target: Target,
    },
    On {
        target: Target,
    },
    /// Off, then on again after the spec's `duration` (10 s without one).
    Cycle {
        target: Target,
    },
    /// Cuts a rack's feed: every host in it goes off.
    RackOff {
        rack: String,
    },
    RackOn {
        rack: String,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum RunFault {
    /// Pauses the host (a VM stun); with `NextWrite`, at the node's next shared-disk write.
    Freeze {
        target: Target,
        trigger: FaultTrigger,
    },
    Resume {
        target: Target,
    },
    /// Steps the host's clock by this many nanoseconds (negative: back).
    ClockStep {
        target: Target,
        step_nanos: i64,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum FabricFault {
    NicDown {
        target: Target,
        network: String,
    },
    NicUp {
        target: Target,
        network: String,
    },
    LinkCut {
        target: Target,
        peer: Target,
        network: String,
        direction: LinkDirection,
    },
    LinkHeal {
        target: Target,
        peer: Target,
        network: String,
        direction: LinkDirection,
    },
    /// Packet loss on the link to `peer`, or on the whole network without one... (the file format
    /// requires a peer today).
    LinkLoss {
        target: Target,
        peer: Target,
        network: String,
        direction: LinkDirection,
        probability: f64,
    },
    LatencySpike {
        target: Target,
        network: String,
        extra: Duration,
    },
    /// The target's NIC MTU, or with `peer` the hop between them; `None` restores it.
    Mtu {
        target: Target,
        peer: Option<Target>,
        network: String,
        bytes: Option<u32>,
    },
    SwitchDown {
        switch: String,
    },
    SwitchUp {
        switch: String,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum WitnessFault {
    Down,
    Up,
    Slow { extra: Duration },
}

#[derive(Clone, Debug, PartialEq)]
pub enum SanFault {
    ControllerReboot,
    LunOffline {
        lun: String,
    },
    LunOnline {
        lun: String,
    },
    /// Extra service time on one LUN, or every LUN without one.
    LunLatency {
        lun: Option<String>,
        extra: Duration,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum SoftwareFault {
    /// The database resource's process dies on its owner (`resource` names it, when given).
    ResourceCrash { database: String, resource: Option<String> },
    /// An operator's scheduled switchover to `to`.
    Move { database: String, to: String },
    /// The next log shipped to the database's passive copy arrives corrupt.
    CorruptLog { database: String },
}

#[derive(Clone, Debug, PartialEq)]
pub enum HypervisorFault {
    /// A vMotion of the VM `target`: paused for `stun` (the switchover), then resumed on `to`, or on
    /// another hypervisor host its rules allow when `to` is `None`. Not undone: the VM stays there.
    Vmotion { target: Target, stun: Duration, to: Option<String> },
    /// A snapshot of the VM `target` (a cluster node's VM): what its disks hold now, and with
    /// `memory` its running guest too, is kept for a later `SnapshotRevert`. The VM runs on untouched.
    Snapshot { target: Target, memory: bool },
    /// The VM `target` reverted to its latest snapshot: its disks go back to what they held then; a
    /// snapshot without memory leaves it powered off, one with memory resumes the guest it kept.
    SnapshotRevert { target: Target },
}

impl Fault {
    /// The kind, as scenario files and the history name it.
    pub fn kind(&self) -> FaultKind {
        match self {
            Fault::Power(fault) => match fault {
                PowerFault::Off { .. } => FaultKind::PowerOff,
                PowerFault::On { .. } => FaultKind::PowerOn,
                PowerFault::Cycle { .. } => FaultKind::PowerCycle,
                PowerFault::RackOff { .. } => FaultKind::RackPowerOff,
                PowerFault::RackOn { .. } => FaultKind::RackPowerOn,
            },
            Fault::Run(fault) => match fault {
                RunFault::Freeze { .. } => FaultKind::Freeze,
                RunFault::Resume { .. } => FaultKind::Resume,
                RunFault::ClockStep { .. } => FaultKind::ClockStep,
            },
            Fault::Fabric(fault) => fault.kind(),
            Fault::Witness(fault) => match fault {
                WitnessFault::Down => FaultKind::WitnessDown,
                WitnessFault::Up => FaultKind::WitnessUp,
                WitnessFault::Slow { .. } => FaultKind::WitnessSlow,
            },
            Fault::San(fault) => match fault {
                SanFault::ControllerReboot => FaultKind::ControllerReboot,
                SanFault::LunOffline { .. } => FaultKind::LunOffline,
                SanFault::LunOnline { .. } => FaultKind::LunOnline,
                SanFault::LunLatency { .. } => FaultKind::LunLatency,
            },
            Fault::Software(fault) => match fault {
                SoftwareFault::ResourceCrash { .. } => FaultKind::ResourceCrash,
                SoftwareFault::Move { .. } => FaultKind::Move,
                SoftwareFault::CorruptLog { .. } => FaultKind::CorruptLog,
            },
            Fault::Hypervisor(HypervisorFault::Vmotion { .. }) => FaultKind::Vmotion,
            Fault::Hypervisor(HypervisorFault::Snapshot { .. }) => FaultKind::Snapshot,
            Fault::Hypervisor(HypervisorFault::SnapshotRevert { .. }) => FaultKind::SnapshotRevert,
            Fault::HealAll => FaultKind::HealAll,
        }
    }

    /// The host-like target, if the fault has one (a role such as `active` or a host by name).
    pub fn target(&self) -> Option<&Target> {
        match self {
            Fault::Power(
                PowerFault::Off { target } | PowerFault::On { target } | PowerFault::Cycle { target },
            )
            | Fault::Run(
                RunFault::Freeze { target, .. }
                | RunFault::Resume { target }
                | RunFault::ClockStep { target, .. },
            )
            | Fault::Hypervisor(
                HypervisorFault::Vmotion { target, .. }
                | HypervisorFault::Snapshot { target, .. }
                | HypervisorFault::SnapshotRevert { target },
            ) => Some(target),
            Fault::Fabric(fault) => fault.target(),
            _ => None,
        }
    }

    /// This fault with its host target and its peer named by the hosts they resolved to when it
    /// fired (a role such as `active` or `witness` becomes that host's name), so the fault written
    /// back into a scenario hits what it hit in the run whatever the roles do then. Faults without a
    /// host target (a switch, a rack, the array, a database's owner) are unchanged.
    pub fn pinned(&self, host: Option<&str>, peer: Option<&str>) -> Fault {
        let mut fault = self.clone();
        let pin = |slot: &mut Target, name: Option<&str>| {
            if let Some(name) = name {
                *slot = Target::Host(name.to_string());
            }
        };
        match &mut fault {
            Fault::Power(
                PowerFault::Off { target } | PowerFault::On { target } | PowerFault::Cycle { target },
            )
            | Fault::Run(
                RunFault::Freeze { target, .. }
                | RunFault::Resume { target }
                | RunFault::ClockStep { target, .. },
            )
            | Fault::Hypervisor(
                HypervisorFault::Vmotion { target, .. }
                | HypervisorFault::Snapshot { target, .. }
                | HypervisorFault::SnapshotRevert { target },
            )
            | Fault::Fabric(
                FabricFault::NicDown { target, .. }
                | FabricFault::NicUp { target, .. }
                | FabricFault::LatencySpike { target, .. }
                | FabricFault::Mtu { target, peer: None, .. },
            ) => pin(target, host),
            Fault::Fabric(
                FabricFault::LinkCut { target, peer: other, .. }
                | FabricFault::LinkHeal { target, peer: other, .. }
                | FabricFault::LinkLoss { target, peer: other, .. }
                | FabricFault::Mtu { target, peer: Some(other), .. },
            ) => {
                pin(target, host);
                pin(other, peer);
            }
            _ => {}
        }
        fault
    }

    /// A freeze armed to fire at the target's next shared-disk write: its `duration` counts from that
    /// write, not from `at`, so its resume is scheduled when it fires.
    pub fn fires_on_next_write(&self) -> bool {
        matches!(self, Fault::Run(RunFault::Freeze { trigger: FaultTrigger::NextWrite, .. }))
    }

    /// The fault that undoes this one, for auto-heal; `None` for a step, a crash, a move, a reboot,
    /// a vMotion (the VM stays where it went) or a heal, which have nothing to undo.
    pub fn inverse(&self) -> Option<Fault> {
        Some(match self.clone() {
            Fault::Power(PowerFault::Off { target }) => Fault::Power(PowerFault::On { target }),
            Fault::Power(PowerFault::RackOff { rack }) => Fault::Power(PowerFault::RackOn { rack }),
            Fault::Run(RunFault::Freeze { target, .. }) => Fault::Run(RunFault::Resume { target }),
            Fault::Fabric(fault) => Fault::Fabric(fault.inverse()?),
            Fault::Witness(WitnessFault::Down | WitnessFault::Slow { .. }) => {
                Fault::Witness(WitnessFault::Up)
            }
            Fault::San(SanFault::LunOffline { lun }) => Fault::San(SanFault::LunOnline { lun }),
            Fault::San(SanFault::LunLatency { lun, .. }) => {
                Fault::San(SanFault::LunLatency { lun, extra: Duration::ZERO })
            }
            _ => return None,
        })
    }
}

impl FabricFault {
    fn kind(&self) -> FaultKind {
        match self {
            FabricFault::NicDown { .. } => FaultKind::NicDown,
            FabricFault::NicUp { .. } => FaultKind::NicUp,
            FabricFault::LinkCut { .. } => FaultKind::LinkCut,
            FabricFault::LinkHeal { .. } => FaultKind::LinkHeal,
            FabricFault::LinkLoss { .. } => FaultKind::LinkLoss,
            FabricFault::LatencySpike { .. } => FaultKind::LatencySpike,
            FabricFault::Mtu { .. } => FaultKind::Mtu,
            FabricFault::SwitchDown { .. } => FaultKind::SwitchDown,
            FabricFault::SwitchUp { .. } => FaultKind::SwitchUp,
        }
    }

    fn target(&self) -> Option<&Target> {
        match self {
            FabricFault::NicDown { target, .. }
            | FabricFault::NicUp { target, .. }
            | FabricFault::LinkCut { target, .. }
            | FabricFault::LinkHeal { target, .. }
            | FabricFault::LinkLoss { target, .. }
            | FabricFault::LatencySpike { target, .. }
            | FabricFault::Mtu { target, .. } => Some(target),
            FabricFault::SwitchDown { .. } | FabricFault::SwitchUp { .. } => None,
        }
    }

    fn inverse(self) -> Option<FabricFault> {
        Some(match self {
            FabricFault::NicDown { target, network } => FabricFault::NicUp { target, network },
            FabricFault::LinkCut { target, peer, network, direction } => {
                FabricFault::LinkHeal { target, peer, network, direction }
            }
            FabricFault::LinkLoss { target, peer, network, direction, .. } => {
                FabricFault::LinkLoss { target, peer, network, direction, probability: 0.0 }
            }
            FabricFault::LatencySpike { target, network, .. } => {
                FabricFault::LatencySpike { target, network, extra: Duration::ZERO }
            }
            FabricFault::Mtu { target, peer, network, .. } => {
                FabricFault::Mtu { target, peer, network, bytes: None }
            }
            FabricFault::SwitchDown { switch } => FabricFault::SwitchUp { switch },
            _ => return None,
        })
    }
}

impl FaultSpec {
    /// The `[[fault]]` table that loads back as this fault (with `at`, `kind` and the keys its kind
    /// takes). Implied targets (witness, array, a database's owner) are left out, as a user writes them.
    pub fn to_toml(&self) -> Table {
        let mut table = Table::new();
        let text = |value: &str| Value::String(value.to_string());
        let duration = |value: Duration| Value::String(format_duration(value));
        table.insert("at".into(), duration(self.at));
        table.insert("kind".into(), text(self.fault.kind().as_str()));
        if let Some(heal_after) = self.duration {
            table.insert("duration".into(), duration(heal_after));
        }
        let mut put = |key: &str, value: Value| {
            table.insert(key.into(), value);
        };
        if let Some(target) = self.fault.target() {
            put("target", text(&target.to_string()));
        }
        match &self.fault {
            Fault::Power(PowerFault::RackOff { rack } | PowerFault::RackOn { rack }) => {
                put("target", text(rack))
            }
            Fault::Run(RunFault::Freeze { trigger: FaultTrigger::NextWrite, .. }) => {
                put("trigger", text("next-write"))
            }
            Fault::Run(RunFault::ClockStep { step_nanos, .. }) => {
                let magnitude = format_duration(Duration::from_nanos(step_nanos.unsigned_abs()));
                put("value", text(&if *step_nanos < 0 { format!("-{magnitude}") } else { magnitude }));
            }
            Fault::Fabric(fault) => fabric_keys(fault, &mut put),
            Fault::Witness(WitnessFault::Slow { extra }) => put("value", duration(*extra)),
            Fault::San(SanFault::LunOffline { lun } | SanFault::LunOnline { lun }) => put("lun", text(lun)),
            Fault::San(SanFault::LunLatency { lun, extra }) => {
                if let Some(lun) = lun {
                    put("lun", text(lun));
                }
                put("value", duration(*extra));
            }
            Fault::Software(SoftwareFault::ResourceCrash { database, resource }) => {
                put("database", text(database));
                if let Some(resource) = resource {
                    put("resource", text(resource));
                }
            }
            Fault::Software(SoftwareFault::Move { database, to }) => {
                put("database", text(database));
                put("to", text(to));
            }
            Fault::Software(SoftwareFault::CorruptLog { database }) => put("database", text(database)),
            Fault::Hypervisor(HypervisorFault::Vmotion { stun, to, .. }) => {
                put("value", duration(*stun));
                if let Some(to) = to {
                    put("to", text(to));
                }
            }
            Fault::Hypervisor(HypervisorFault::Snapshot { memory, .. }) => {
                put("memory", Value::Boolean(*memory))
            }
            _ => {}
        }
        table
    }
}

fn fabric_keys(fault: &FabricFault, put: &mut impl FnMut(&str, Value)) {
    let text = |value: &str| Value::String(value.to_string());
    let direction =
        |direction: LinkDirection| text(if direction == LinkDirection::OneWay { "one-way" } else { "both" });
    match fault {
        FabricFault::NicDown { network, .. } | FabricFault::NicUp { network, .. } => {
            put("network", text(network))
        }
        FabricFault::LinkCut { peer, network, direction: way, .. }
        | FabricFault::LinkHeal { peer, network, direction: way, .. } => {
            put("network", text(network));
            put("peer", text(&peer.to_string()));
            put("direction", direction(*way));
        }
        FabricFault::LinkLoss { peer, network, direction: way, probability, .. } => {
            put("network", text(network));
            put("peer", text(&peer.to_string()));
            put("direction", direction(*way));
            put("value", Value::Float(*probability));
        }
        FabricFault::LatencySpike { network, extra, .. } => {
            put("network", text(network));
            put("value", text(&format_duration(*extra)));
        }
        FabricFault::Mtu { peer, network, bytes, .. } => {
            put("network", text(network));
            if let Some(peer) = peer {
                put("peer", text(&peer.to_string()));
            }
            if let Some(bytes) = bytes {
                put("value", Value::Integer(i64::from(*bytes)));
            }
        }
        FabricFault::SwitchDown { switch } | FabricFault::SwitchUp { switch } => put("target", text(switch)),
    }
}
