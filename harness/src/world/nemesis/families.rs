//! One swarm draw per family: a typed `Fault` (a flapping link: a few), exactly what a `[[fault]]`
//! table of that kind would be, with the impact it has on the tolerance while it lasts. Magnitudes are
//! fixed ranges documented in `docs/scenarios.md` ("Nemesis families"); durations come from the seed's
//! `max_fault_duration`.

use super::{Draw, Impact};
use crate::scenario::{
    FabricFault, Fault, FaultSpec, FaultTrigger, HostRole, HypervisorFault, LinkDirection, NemesisFamily,
    PowerFault, RunFault, SanFault, SoftwareFault, Target, WitnessFault,
};
use crate::world::World;
use kernel::{RngStream, SimTime};
use std::time::Duration;

const MS: Duration = Duration::from_millis(1);
const SECOND: Duration = Duration::from_secs(1);

/// A uniform duration in `[min, max]`.
fn between(rng: &mut RngStream, min: Duration, max: Duration) -> Duration {
    min + rng.duration_up_to(max.saturating_sub(min))
}

fn pick<T: Clone>(rng: &mut RngStream, items: &[T]) -> Option<T> {
    (!items.is_empty()).then(|| items[rng.below(items.len() as u64) as usize].clone())
}

/// What every draw shares: when it happens, how long a held fault lasts, and the host it targets.
struct Slot {
    /// The fault's `at`, from time zero.
    at: Duration,
    now: SimTime,
    /// How long a held fault lasts: at least a second (or the seed's whole maximum, when that is
    /// shorter), and never past the nemesis's stop, where everything heals.
    duration: Duration,
    /// Time left until the nemesis stops.
    left: Duration,
    host: usize,
    target: Target,
}

impl Slot {
    /// A fault that lasts `duration` and then heals, with what it takes away while it lasts.
    fn held(&self, fault: Fault, impacts: Vec<Impact>) -> Draw {
        Draw {
            faults: vec![FaultSpec { at: self.at, fault, duration: Some(self.duration) }],
            impacts,
            until: self.now + self.duration,
        }
    }

    /// A fault with no duration (a step, a crash, an operator command).
    fn once(&self, fault: Fault) -> Draw {
        Draw {
            faults: vec![FaultSpec { at: self.at, fault, duration: None }],
            impacts: vec![],
            until: self.now,
        }
    }
}

impl World<'_> {
    /// Draws one fault of `family` at `now`, or `None` when the family finds nothing to hit now. The
    /// draws come from the nemesis stream in a fixed order (duration, target, then the family's own),
    /// so a seed replays the same schedule.
    pub(super) fn draw_family(&mut self, family: NemesisFamily, now: SimTime) -> Option<Draw> {
        let slot = self.draw_slot(now)?;
        match family {
            NemesisFamily::Power | NemesisFamily::Freeze | NemesisFamily::RackPower | NemesisFamily::Dns => {
                self.draw_host_fault(family, &slot)
            }
            NemesisFamily::LinkCut
            | NemesisFamily::OneWayCut
            | NemesisFamily::LinkFlap
            | NemesisFamily::LinkLoss
            | NemesisFamily::PathFlap => self.draw_link_fault(family, &slot),
            NemesisFamily::Nic | NemesisFamily::Latency | NemesisFamily::Mtu | NemesisFamily::Switch => {
                self.draw_network_fault(family, &slot)
            }
            NemesisFamily::WitnessDown | NemesisFamily::WitnessRestart | NemesisFamily::WitnessSlow => {
                self.draw_witness_fault(family, &slot)
            }
            NemesisFamily::ControllerReboot | NemesisFamily::LunOffline | NemesisFamily::LunLatency => {
                self.draw_array_fault(family, &slot)
            }
            NemesisFamily::ClockStep
            | NemesisFamily::ResourceCrash
            | NemesisFamily::Move
            | NemesisFamily::CorruptLog => self.draw_instant_fault(family, &slot),
            NemesisFamily::HostFailure
            | NemesisFamily::HostIsolation
            | NemesisFamily::ManagementPartition
            | NemesisFamily::Stun => self.draw_hypervisor_fault(family, &slot),
            NemesisFamily::Apd => self.draw_apd(&slot),
            NemesisFamily::SnapshotRevert => self.draw_snapshot_revert(&slot),
        }
    }

    /// The duration and target every family draws first.
    fn draw_slot(&mut self, now: SimTime) -> Option<Slot> {
        let spec = self.scenario.nemesis.as_ref()?;
        let plan_max = self.nemesis.plan.as_ref()?.max_fault_duration;
        let at = now.saturating_since(SimTime::ZERO);
        let left = spec.stop.saturating_sub(at);
        let rng = &mut self.nemesis.rng;
        let duration = between(rng, SECOND.min(plan_max), plan_max).min(left).max(MS);
        let target = pick(rng, &spec.targets)?;
        let host = self.scenario.hosts.iter().position(|host| host.name == target)?;
        Some(Slot { at, now, duration, left, host, target: Target::Host(target) })
    }

    /// A host stops: power, a freeze, its rack's power, or the DNS server.
    fn draw_host_fault(&mut self, family: NemesisFamily, slot: &Slot) -> Option<Draw> {
        let scenario = self.scenario;
        let target = slot.target.clone();
        match family {
            NemesisFamily::Power => {
                Some(slot.held(Fault::Power(PowerFault::Off { target }), vec![Impact::Stop(slot.host)]))
            }
            NemesisFamily::Freeze => Some(slot.held(
                Fault::Run(RunFault::Freeze { target, trigger: FaultTrigger::At }),
                vec![Impact::Stop(slot.host)],
            )),
            NemesisFamily::RackPower => {
                let rack = scenario.hosts[slot.host].rack.clone()?;
                let members =
                    scenario.hosts.iter().enumerate().filter(|(_, each)| each.rack.as_ref() == Some(&rack));
                let impacts = members.map(|(index, _)| Impact::Stop(index)).collect();
                Some(slot.held(Fault::Power(PowerFault::RackOff { rack }), impacts))
            }
            NemesisFamily::Dns => {
                let dns = scenario.hosts.iter().position(|each| each.role == HostRole::Dns)?;
                let target = Target::Host(scenario.hosts[dns].name.clone());
                let fault = if self.nemesis.rng.chance(0.5) {
                    Fault::Power(PowerFault::Off { target })
                } else {
                    Fault::Run(RunFault::Freeze { target, trigger: FaultTrigger::At })
                };
                Some(slot.held(fault, vec![Impact::Stop(dns)]))
            }
            _ => None,
        }
    }

    /// One link between two hosts misbehaves: cut (both ways or one), flapping, lossy, or a storage
    /// path to the array cut.
    fn draw_link_fault(&mut self, family: NemesisFamily, slot: &Slot) -> Option<Draw> {
        let scenario = self.scenario;
        let target = slot.target.clone();
        match family {
            NemesisFamily::LinkCut | NemesisFamily::OneWayCut => {
                let (peer, network) = self.cluster_link(slot.host)?;
                let direction = if family == NemesisFamily::OneWayCut {
                    LinkDirection::OneWay
                } else {
                    LinkDirection::Both
                };
                let impact = Impact::Cut(slot.host, peer, network.clone());
                let peer = Target::Host(scenario.hosts[peer].name.clone());
                Some(slot.held(
                    Fault::Fabric(FabricFault::LinkCut { target, peer, network, direction }),
                    vec![impact],
                ))
            }
            NemesisFamily::LinkFlap => self.link_flap(slot.host, slot.now, slot.duration),
            NemesisFamily::LinkLoss => {
                let (peer, network) = self.cluster_link(slot.host)?;
                let probability = (5 + self.nemesis.rng.below(46)) as f64 / 100.0;
                let peer = Target::Host(scenario.hosts[peer].name.clone());
                let direction = LinkDirection::Both;
                let fault = FabricFault::LinkLoss { target, peer, network, direction, probability };
                Some(slot.held(Fault::Fabric(fault), vec![]))
            }
            NemesisFamily::PathFlap => {
                let storage = scenario.storage.as_ref()?;
                let host = &scenario.hosts[slot.host];
                let paths: Vec<String> =
                    storage.networks.iter().filter(|network| host.has_nic_on(network)).cloned().collect();
                let network = pick(&mut self.nemesis.rng, &paths)?;
                let peer = Target::Host(storage.array.clone());
                let direction = LinkDirection::Both;
                Some(
                    slot.held(
                        Fault::Fabric(FabricFault::LinkCut { target, peer, network, direction }),
                        vec![],
                    ),
                )
            }
            _ => None,
        }
    }

    /// A host's network or the fabric itself degrades: a NIC down, latency, a smaller MTU, a switch.
    fn draw_network_fault(&mut self, family: NemesisFamily, slot: &Slot) -> Option<Draw> {
        let scenario = self.scenario;
        let target = slot.target.clone();
        let rng = &mut self.nemesis.rng;
        match family {
            NemesisFamily::Nic => {
                let network = pick(rng, &scenario.hosts[slot.host].networks)?;
                let impact = Impact::NicDown(slot.host, network.clone());
                Some(slot.held(Fault::Fabric(FabricFault::NicDown { target, network }), vec![impact]))
            }
            NemesisFamily::Latency => {
                let networks = self.cluster_networks(slot.host);
                let network = pick(&mut self.nemesis.rng, &networks)?;
                let extra = between(&mut self.nemesis.rng, 10 * MS, 2 * SECOND);
                Some(slot.held(Fault::Fabric(FabricFault::LatencySpike { target, network, extra }), vec![]))
            }
            NemesisFamily::Mtu => {
                let network = pick(rng, &scenario.hosts[slot.host].networks)?;
                let mtu = scenario.network(&network)?.spec.mtu_bytes;
                let bytes = 576 + rng.below(u64::from(mtu.checked_sub(576)?)) as u32;
                let fault = FabricFault::Mtu { target, peer: None, network, bytes: Some(bytes) };
                Some(slot.held(Fault::Fabric(fault), vec![]))
            }
            NemesisFamily::Switch => {
                let switches: Vec<String> = scenario.switches().into_iter().map(str::to_string).collect();
                let switch = pick(rng, &switches)?;
                let impact = Impact::SwitchDown(switch.clone());
                Some(slot.held(Fault::Fabric(FabricFault::SwitchDown { switch }), vec![impact]))
            }
            _ => None,
        }
    }

    /// The file share witness goes down, restarts (losing its lock table) or answers slowly.
    fn draw_witness_fault(&mut self, family: NemesisFamily, slot: &Slot) -> Option<Draw> {
        let rng = &mut self.nemesis.rng;
        match family {
            NemesisFamily::WitnessDown => {
                Some(slot.held(Fault::Witness(WitnessFault::Down), vec![Impact::WitnessDown]))
            }
            NemesisFamily::WitnessRestart => {
                let back = between(rng, 100 * MS, 2 * SECOND).min(slot.left).max(MS);
                Some(Draw {
                    faults: vec![FaultSpec {
                        at: slot.at,
                        fault: Fault::Witness(WitnessFault::Down),
                        duration: Some(back),
                    }],
                    impacts: vec![Impact::WitnessDown],
                    until: slot.now + back,
                })
            }
            NemesisFamily::WitnessSlow => {
                let extra = between(rng, SECOND, 10 * SECOND);
                Some(slot.held(Fault::Witness(WitnessFault::Slow { extra }), vec![]))
            }
            _ => None,
        }
    }

    /// The array: its controllers reboot, a LUN goes offline, or a LUN answers slowly.
    fn draw_array_fault(&mut self, family: NemesisFamily, slot: &Slot) -> Option<Draw> {
        let scenario = self.scenario;
        let rng = &mut self.nemesis.rng;
        match family {
            NemesisFamily::ControllerReboot => {
                // The array is gone until its controllers are back: with a disk witness, so is the witness.
                let boot = scenario.storage.as_ref()?.array_config.controller_boot_time;
                let mut impacts = vec![Impact::StorageDown];
                if scenario.cluster.disk_witness.is_some() {
                    impacts.push(Impact::WitnessDown);
                }
                Some(Draw {
                    faults: vec![FaultSpec {
                        at: slot.at,
                        fault: Fault::San(SanFault::ControllerReboot),
                        duration: None,
                    }],
                    impacts,
                    // The array counts as down until the cluster could have recovered from this
                    // reboot (its boot plus the RTO), so the next array fault is judged on its own.
                    until: slot.now + boot + scenario.checks.rto,
                })
            }
            NemesisFamily::LunOffline => {
                let lun = pick(rng, &scenario.luns)?.name;
                let witness = scenario.cluster.disk_witness.as_ref() == Some(&lun);
                let impact = if witness { Impact::WitnessDown } else { Impact::StorageDown };
                Some(slot.held(Fault::San(SanFault::LunOffline { lun }), vec![impact]))
            }
            NemesisFamily::LunLatency => {
                let lun = pick(rng, &scenario.luns)?.name;
                let extra = between(rng, 10 * MS, 5 * SECOND);
                Some(slot.held(Fault::San(SanFault::LunLatency { lun: Some(lun), extra }), vec![]))
            }
            _ => None,
        }
    }

    /// Faults with no duration: a clock step, a resource crash, an operator's move, a corrupt log.
    fn draw_instant_fault(&mut self, family: NemesisFamily, slot: &Slot) -> Option<Draw> {
        let scenario = self.scenario;
        let rng = &mut self.nemesis.rng;
        let shipping: Vec<_> = scenario.databases.iter().filter(|db| db.copies.len() >= 2).collect();
        match family {
            NemesisFamily::ClockStep => {
                let magnitude = between(rng, MS, 30 * SECOND).as_nanos() as i64;
                let step_nanos = if rng.chance(0.5) { magnitude } else { -magnitude };
                Some(slot.once(Fault::Run(RunFault::ClockStep { target: slot.target.clone(), step_nanos })))
            }
            NemesisFamily::ResourceCrash => {
                let database = pick(rng, &scenario.databases)?.name;
                Some(slot.once(Fault::Software(SoftwareFault::ResourceCrash { database, resource: None })))
            }
            NemesisFamily::Move => {
                let database = pick(rng, &shipping)?;
                let to = pick(rng, &database.copies)?;
                Some(slot.once(Fault::Software(SoftwareFault::Move { database: database.name.clone(), to })))
            }
            NemesisFamily::CorruptLog => {
                let database = pick(rng, &shipping)?.name.clone();
                Some(slot.once(Fault::Software(SoftwareFault::CorruptLog { database })))
            }
            _ => None,
        }
    }

    /// The hypervisor layer under guest clusters: a host fails, isolates itself from the management
    /// network, the management network splits, or a VM is stunned by a vMotion. These hit hypervisor
    /// hosts and VMs of their own choosing, not the nemesis's `targets`.
    fn draw_hypervisor_fault(&mut self, family: NemesisFamily, slot: &Slot) -> Option<Draw> {
        let scenario = self.scenario;
        let management = scenario.ha.as_ref()?.management_network.clone();
        let hypervisors: Vec<usize> = (0..scenario.hosts.len())
            .filter(|&host| scenario.hosts[host].role == HostRole::Hypervisor)
            .collect();
        let name = |host: usize| Target::Host(scenario.hosts[host].name.clone());
        match family {
            NemesisFamily::HostFailure => {
                let host = pick(&mut self.nemesis.rng, &hypervisors)?;
                let fault = Fault::Power(PowerFault::Off { target: name(host) });
                Some(slot.held(fault, vec![Impact::Stop(host)]))
            }
            NemesisFamily::HostIsolation => {
                let host = pick(&mut self.nemesis.rng, &hypervisors)?;
                let impact = Impact::NicDown(host, management.clone());
                let fault = FabricFault::NicDown { target: name(host), network: management };
                Some(slot.held(Fault::Fabric(fault), vec![impact]))
            }
            NemesisFamily::ManagementPartition => self.management_partition(&hypervisors, &management, slot),
            NemesisFamily::Stun => {
                let vms: Vec<usize> = (0..scenario.hosts.len())
                    .filter(|&host| scenario.hosts[host].runs_on.is_some())
                    .collect();
                let vm = pick(&mut self.nemesis.rng, &vms)?;
                let stun = between(&mut self.nemesis.rng, 100 * MS, 10 * SECOND).min(slot.left).max(MS);
                let fault = Fault::Hypervisor(HypervisorFault::Vmotion { target: name(vm), stun, to: None });
                Some(Draw {
                    faults: vec![FaultSpec { at: slot.at, fault, duration: None }],
                    impacts: vec![Impact::Stop(vm)],
                    until: slot.now + stun,
                })
            }
            _ => None,
        }
    }

    /// All paths down on a random hypervisor host: its links to the array cut, both ways, on every
    /// storage network it has, for the draw's duration. Its datastores go APD, its datastore
    /// heartbeats stop, and its VMs stall at their next disk write, so they count as stopped.
    fn draw_apd(&mut self, slot: &Slot) -> Option<Draw> {
        let scenario = self.scenario;
        let storage = scenario.storage.as_ref()?;
        let hosts: Vec<usize> = (0..scenario.hosts.len())
            .filter(|&host| scenario.hosts[host].role == HostRole::Hypervisor)
            .filter(|&host| storage.networks.iter().any(|network| scenario.hosts[host].has_nic_on(network)))
            .collect();
        let host = pick(&mut self.nemesis.rng, &hosts)?;
        let faults = storage
            .networks
            .iter()
            .filter(|network| scenario.hosts[host].has_nic_on(network))
            .map(|network| FaultSpec {
                at: slot.at,
                fault: Fault::Fabric(FabricFault::LinkCut {
                    target: Target::Host(scenario.hosts[host].name.clone()),
                    peer: Target::Host(storage.array.clone()),
                    network: network.clone(),
                    direction: LinkDirection::Both,
                }),
                duration: Some(slot.duration),
            })
            .collect();
        Some(Draw { faults, impacts: vec![Impact::Stop(host)], until: slot.now + slot.duration })
    }

    /// A snapshot of a guest node's VM (with memory or not, evenly), reverted after the draw's
    /// duration (at least a second); a disk-only revert leaves the VM off, so its operator powers it
    /// on a second later. The VM counts as stopped from the snapshot until it runs again.
    ///
    /// The database's owner is drawn like any node, but its snapshot keeps memory. Reverting it takes
    /// back acknowledged mail no copy holds yet; the failover logic gets it back from the hubs'
    /// dumpsters once the image knows what it is. A revert shorter than a heartbeat interval cannot
    /// be told from a short pause, so the draw's one-second minimum matters (ARCHITECTURE.md, Known
    /// bugs). A disk-only revert of the owner (the node that last mounted a database) would destroy
    /// logs only it held: the mount dial then rightly keeps the database down for good, a loss beyond
    /// what the cluster is designed to survive (`ha-ccr-nemesis` seeds 800 and 3818).
    fn draw_snapshot_revert(&mut self, slot: &Slot) -> Option<Draw> {
        let scenario = self.scenario;
        let datastores = scenario.ha.as_ref().map_or(&[][..], |ha| &ha.datastores[..]);
        let vms: Vec<usize> = (0..scenario.hosts.len())
            .filter(|&host| scenario.hosts[host].may_snapshot(&scenario.luns, datastores))
            .collect();
        let vm = pick(&mut self.nemesis.rng, &vms)?;
        // The revert comes at least a second after the snapshot, even where the nemesis's stop cuts
        // the slot short: a shorter revert of the owner cannot be told from a short stun
        // (ARCHITECTURE.md, Known bugs; `ha-ccr-nemesis` seed 1231, 0.245 s before the final heal).
        if slot.duration < SECOND {
            return None;
        }
        let owner = self.last_owner.values().any(|node| self.nodes[node.0 as usize].host == vm);
        // Drawn whatever the VM, so the draws after it do not depend on who owns what.
        let memory = self.nemesis.rng.chance(0.5) || owner;
        let target = || Target::Host(scenario.hosts[vm].name.clone());
        let revert_at = slot.at + slot.duration;
        let mut faults = vec![
            FaultSpec {
                at: slot.at,
                fault: Fault::Hypervisor(HypervisorFault::Snapshot { target: target(), memory }),
                duration: None,
            },
            FaultSpec {
                at: revert_at,
                fault: Fault::Hypervisor(HypervisorFault::SnapshotRevert { target: target() }),
                duration: None,
            },
        ];
        let mut until = slot.now + slot.duration;
        if !memory && slot.left > slot.duration + SECOND {
            let power_on = Fault::Power(PowerFault::On { target: target() });
            faults.push(FaultSpec { at: revert_at + SECOND, fault: power_on, duration: None });
            until += SECOND;
        }
        Some(Draw { faults, impacts: vec![Impact::Stop(vm)], until })
    }

    /// The management network split in two: a random non-empty group of hypervisor hosts loses every
    /// management link to the rest, both ways, for the draw's duration.
    fn management_partition(&mut self, hypervisors: &[usize], management: &str, slot: &Slot) -> Option<Draw> {
        let count = u32::try_from(hypervisors.len()).ok().filter(|&count| (2..16).contains(&count))?;
        // A bit mask of the first side, neither empty nor everything.
        let side = 1 + self.nemesis.rng.below((1u64 << count) - 2);
        let in_side = |index: usize| side & (1 << index) != 0;
        let mut faults = Vec::new();
        let mut impacts = Vec::new();
        for (i, &one) in hypervisors.iter().enumerate().filter(|&(i, _)| in_side(i)) {
            for (_, &other) in hypervisors.iter().enumerate().filter(|&(j, _)| !in_side(j) && j != i) {
                let fault = FabricFault::LinkCut {
                    target: Target::Host(self.scenario.hosts[one].name.clone()),
                    peer: Target::Host(self.scenario.hosts[other].name.clone()),
                    network: management.to_string(),
                    direction: LinkDirection::Both,
                };
                faults.push(FaultSpec {
                    at: slot.at,
                    fault: Fault::Fabric(fault),
                    duration: Some(slot.duration),
                });
                impacts.push(Impact::Cut(one, other, management.to_string()));
            }
        }
        Some(Draw { faults, impacts, until: slot.now + slot.duration })
    }

    /// The networks of `host` that carry cluster traffic (not iSCSI).
    fn cluster_networks(&self, host: usize) -> Vec<String> {
        let networks = &self.scenario.hosts[host].networks;
        networks.iter().filter(|network| !self.is_storage_network(network)).cloned().collect()
    }

    /// A random cluster link of `host`: a network it has and another host (not the array) on it.
    fn cluster_link(&mut self, host: usize) -> Option<(usize, String)> {
        let networks = self.cluster_networks(host);
        let network = pick(&mut self.nemesis.rng, &networks)?;
        let peers: Vec<usize> = (0..self.scenario.hosts.len())
            .filter(|&other| {
                let each = &self.scenario.hosts[other];
                other != host && each.role != HostRole::Array && each.has_nic_on(&network)
            })
            .collect();
        Some((pick(&mut self.nemesis.rng, &peers)?, network))
    }

    /// A flapping link: three to six cuts of 200 ms to 2 s, each after a gap of 200 ms to 2 s, all
    /// within `window`.
    fn link_flap(&mut self, host: usize, now: SimTime, window: Duration) -> Option<Draw> {
        let (peer, network) = self.cluster_link(host)?;
        let rng = &mut self.nemesis.rng;
        let flaps = 3 + rng.below(4);
        let start = now.saturating_since(SimTime::ZERO);
        let mut offset = Duration::ZERO;
        let mut faults = Vec::new();
        for _ in 0..flaps {
            let cut = between(rng, 200 * MS, 2 * SECOND);
            if offset + cut > window {
                break;
            }
            let fault = FabricFault::LinkCut {
                target: Target::Host(self.scenario.hosts[host].name.clone()),
                peer: Target::Host(self.scenario.hosts[peer].name.clone()),
                network: network.clone(),
                direction: LinkDirection::Both,
            };
            faults.push(FaultSpec { at: start + offset, fault: Fault::Fabric(fault), duration: Some(cut) });
            offset += cut + between(rng, 200 * MS, 2 * SECOND);
        }
        (!faults.is_empty()).then(|| Draw {
            faults,
            impacts: vec![Impact::Cut(host, peer, network)],
            until: now + window,
        })
    }
}
