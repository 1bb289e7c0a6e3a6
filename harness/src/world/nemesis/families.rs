//! One swarm draw per family: a typed `Fault` (a flapping link: a few), exactly what a `[[fault]]`
//! table of that kind would be, with the impact it has on the tolerance while it lasts. Magnitudes are
//! fixed ranges documented in `docs/scenarios.md` ("Nemesis families"); durations come from the seed's
//! `max_fault_duration`.

use super::{Draw, Impact};
use crate::scenario::{
    FabricFault, Fault, FaultSpec, FaultTrigger, HostRole, LinkDirection, NemesisFamily, PowerFault,
    RunFault, SanFault, SoftwareFault, Target, WitnessFault,
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

impl World<'_> {
    /// Draws one fault of `family` at `now`, or `None` when the family finds nothing to hit now.
    pub(super) fn draw_family(&mut self, family: NemesisFamily, now: SimTime) -> Option<Draw> {
        let scenario = self.scenario;
        let spec = scenario.nemesis.as_ref()?;
        let plan_max = self.nemesis.plan.as_ref()?.max_fault_duration;
        let at = now.saturating_since(SimTime::ZERO);
        let left = spec.stop.saturating_sub(at);
        let rng = &mut self.nemesis.rng;
        // Every fault lasts at least a second (or its whole maximum, when that is shorter), and ends
        // by the nemesis's stop, where everything heals.
        let duration = between(rng, SECOND.min(plan_max), plan_max).min(left).max(MS);
        let target = pick(rng, &spec.targets)?;
        let host = scenario.hosts.iter().position(|host| host.name == target)?;
        let held = |fault: Fault, impacts: Vec<Impact>| Draw {
            faults: vec![FaultSpec { at, fault, duration: Some(duration) }],
            impacts,
            until: now + duration,
        };
        let once = |fault: Fault| Draw {
            faults: vec![FaultSpec { at, fault, duration: None }],
            impacts: vec![],
            until: now,
        };
        let host_target = Target::Host(target.clone());
        Some(match family {
            NemesisFamily::Power => {
                held(Fault::Power(PowerFault::Off { target: host_target }), vec![Impact::Stop(host)])
            }
            NemesisFamily::Freeze => held(
                Fault::Run(RunFault::Freeze { target: host_target, trigger: FaultTrigger::At }),
                vec![Impact::Stop(host)],
            ),
            NemesisFamily::RackPower => {
                let rack = scenario.hosts[host].rack.clone()?;
                let members =
                    scenario.hosts.iter().enumerate().filter(|(_, each)| each.rack.as_ref() == Some(&rack));
                let impacts = members.map(|(index, _)| Impact::Stop(index)).collect();
                held(Fault::Power(PowerFault::RackOff { rack }), impacts)
            }
            NemesisFamily::Nic => {
                let network = pick(rng, &scenario.hosts[host].networks)?;
                let impact = Impact::NicDown(host, network.clone());
                held(Fault::Fabric(FabricFault::NicDown { target: host_target, network }), vec![impact])
            }
            NemesisFamily::LinkCut | NemesisFamily::OneWayCut => {
                let (peer, network) = self.cluster_link(host)?;
                let direction = if family == NemesisFamily::OneWayCut {
                    LinkDirection::OneWay
                } else {
                    LinkDirection::Both
                };
                let impact = Impact::Cut(host, peer, network.clone());
                let peer = Target::Host(scenario.hosts[peer].name.clone());
                held(
                    Fault::Fabric(FabricFault::LinkCut { target: host_target, peer, network, direction }),
                    vec![impact],
                )
            }
            NemesisFamily::LinkFlap => return self.link_flap(host, now, duration),
            NemesisFamily::LinkLoss => {
                let (peer, network) = self.cluster_link(host)?;
                let rng = &mut self.nemesis.rng;
                let probability = (5 + rng.below(46)) as f64 / 100.0;
                let peer = Target::Host(scenario.hosts[peer].name.clone());
                let direction = LinkDirection::Both;
                held(
                    Fault::Fabric(FabricFault::LinkLoss {
                        target: host_target,
                        peer,
                        network,
                        direction,
                        probability,
                    }),
                    vec![],
                )
            }
            NemesisFamily::Latency => {
                let networks = self.cluster_networks(host);
                let network = pick(&mut self.nemesis.rng, &networks)?;
                let extra = between(&mut self.nemesis.rng, 10 * MS, 2 * SECOND);
                held(Fault::Fabric(FabricFault::LatencySpike { target: host_target, network, extra }), vec![])
            }
            NemesisFamily::Mtu => {
                let network = pick(rng, &scenario.hosts[host].networks)?;
                let mtu = scenario.network(&network)?.spec.mtu_bytes;
                let bytes = 576 + self.nemesis.rng.below(u64::from(mtu.checked_sub(576)?)) as u32;
                held(
                    Fault::Fabric(FabricFault::Mtu {
                        target: host_target,
                        peer: None,
                        network,
                        bytes: Some(bytes),
                    }),
                    vec![],
                )
            }
            NemesisFamily::Switch => {
                let switches: Vec<String> = scenario.switches().into_iter().map(str::to_string).collect();
                let switch = pick(rng, &switches)?;
                held(
                    Fault::Fabric(FabricFault::SwitchDown { switch: switch.clone() }),
                    vec![Impact::SwitchDown(switch)],
                )
            }
            NemesisFamily::WitnessDown => held(Fault::Witness(WitnessFault::Down), vec![Impact::WitnessDown]),
            NemesisFamily::WitnessRestart => {
                let back = between(rng, 100 * MS, 2 * SECOND).min(left).max(MS);
                Draw {
                    faults: vec![FaultSpec {
                        at,
                        fault: Fault::Witness(WitnessFault::Down),
                        duration: Some(back),
                    }],
                    impacts: vec![Impact::WitnessDown],
                    until: now + back,
                }
            }
            NemesisFamily::WitnessSlow => {
                let extra = between(rng, SECOND, 10 * SECOND);
                held(Fault::Witness(WitnessFault::Slow { extra }), vec![])
            }
            NemesisFamily::ClockStep => {
                let magnitude = between(rng, MS, 30 * SECOND).as_nanos() as i64;
                let step_nanos = if rng.chance(0.5) { magnitude } else { -magnitude };
                once(Fault::Run(RunFault::ClockStep { target: host_target, step_nanos }))
            }
            NemesisFamily::ResourceCrash => {
                let database = pick(rng, &scenario.databases)?.name;
                once(Fault::Software(SoftwareFault::ResourceCrash { database, resource: None }))
            }
            NemesisFamily::Move => {
                let shipping: Vec<_> = scenario.databases.iter().filter(|db| db.copies.len() >= 2).collect();
                let database = pick(rng, &shipping)?;
                let to = pick(rng, &database.copies)?;
                once(Fault::Software(SoftwareFault::Move { database: database.name.clone(), to }))
            }
            NemesisFamily::CorruptLog => {
                let shipping: Vec<_> = scenario.databases.iter().filter(|db| db.copies.len() >= 2).collect();
                let database = pick(rng, &shipping)?.name.clone();
                once(Fault::Software(SoftwareFault::CorruptLog { database }))
            }
            NemesisFamily::ControllerReboot => {
                // The array is gone until its controllers are back: with a disk witness, so is the witness.
                let boot = scenario.storage.as_ref()?.array_config.controller_boot_time;
                let mut impacts = vec![Impact::StorageDown];
                if scenario.cluster.disk_witness.is_some() {
                    impacts.push(Impact::WitnessDown);
                }
                Draw {
                    faults: vec![FaultSpec {
                        at,
                        fault: Fault::San(SanFault::ControllerReboot),
                        duration: None,
                    }],
                    impacts,
                    // The array counts as down until the cluster could have recovered from this
                    // reboot (its boot plus the RTO), so the next array fault is judged on its own.
                    until: now + boot + scenario.checks.rto,
                }
            }
            NemesisFamily::LunOffline => {
                let lun = pick(rng, &scenario.luns)?.name;
                let witness = scenario.cluster.disk_witness.as_ref() == Some(&lun);
                held(
                    Fault::San(SanFault::LunOffline { lun }),
                    if witness { vec![Impact::WitnessDown] } else { vec![Impact::StorageDown] },
                )
            }
            NemesisFamily::LunLatency => {
                let lun = pick(rng, &scenario.luns)?.name;
                let extra = between(&mut self.nemesis.rng, 10 * MS, 5 * SECOND);
                held(Fault::San(SanFault::LunLatency { lun: Some(lun), extra }), vec![])
            }
            NemesisFamily::PathFlap => {
                let storage = scenario.storage.as_ref()?;
                let paths: Vec<String> = storage
                    .networks
                    .iter()
                    .filter(|network| scenario.hosts[host].has_nic_on(network))
                    .cloned()
                    .collect();
                let network = pick(rng, &paths)?;
                let peer = Target::Host(storage.array.clone());
                let direction = LinkDirection::Both;
                held(
                    Fault::Fabric(FabricFault::LinkCut { target: host_target, peer, network, direction }),
                    vec![],
                )
            }
            NemesisFamily::Dns => {
                let dns = scenario.hosts.iter().position(|each| each.role == HostRole::Dns)?;
                let target = Target::Host(scenario.hosts[dns].name.clone());
                let fault = if rng.chance(0.5) {
                    Fault::Power(PowerFault::Off { target })
                } else {
                    Fault::Run(RunFault::Freeze { target, trigger: FaultTrigger::At })
                };
                held(fault, vec![Impact::Stop(dns)])
            }
        })
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
