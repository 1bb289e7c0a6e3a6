//! Datastores on the array: which hypervisor host reaches which datastore, what its HA agent is told
//! (`HaInput::Datastore`: accessible, all paths down, permanent device loss), and what the guests whose
//! home is on it see.
//!
//! A datastore named like a `[[lun]]` is a VMFS volume on that LUN (`HaSpec::datastore_luns`); any
//! other datastore has no array behind it and stays reachable from every running host, as before.
//! From ground truth, re-read whenever the host's agent takes an input (at least every heartbeat
//! interval, 1 s), a host reaches a datastore while some path to the array runs: its NIC and link on
//! one of the array's iSCSI networks up both ways, and that controller answering. With no path the
//! datastore is in APD; with a path and the LUN offline the array answers that the device is gone
//! (the `lun-offline` fault stands in for an unmapped LUN, whose LOGICAL UNIT NOT SUPPORTED sense is
//! a PDL code [KB-PDL]), which is PDL. The 1 s polling stands in for ESXi's own path-state detection.
//!
//! What a guest sees (docs/hypervisor.md, "Datastores on the array"):
//! - APD: ESXi retries the VM's I/O to an APD device indefinitely (the APD timeout fast-fails only
//!   non-VM I/O [DOC-APD]), so the guest's I/O to its system disk hangs and the guest stalls. Modelled
//!   as a pause through the host gate (packets to it wait in its rings): at its next shared-disk write,
//!   which stays queued in the guest (as a `freeze` with `trigger = "next-write"`), or
//!   `GUEST_STALL_AFTER` later when it writes nothing there first. It resumes, queued write and all,
//!   when a path returns; a VMCP power-off ends it instead.
//! - PDL: I/O to the system disk fails at once and a Windows guest stops with a bug check. Modelled as
//!   the VM powering off (after the agent has taken its VMCP action, so a PDL response of
//!   `power-off-and-restart` restarts it; without one it stays down: VM monitoring is not wired).
//! - HA's `StorageOp`s on a datastore the host does not reach get `HaStorage::unreachable`, and HA
//!   powers a VM on only on a host that reaches its home datastore.

use super::World;
use crate::history::{Event, HaRecord, Name};
use emulators::fabric::PathState;
use emulators::hypervisor::{DatastoreId, DatastoreState, HaInput};
use emulators::{ControllerId, HostId, LunId};
use kernel::SimTime;
use std::collections::BTreeMap;
use std::time::Duration;

/// How long a guest on an APD datastore runs on before its own I/O to its system disk (event log,
/// paging, the cluster hive) hangs and stalls it, when no shared-disk write stalled it first (H:: no
/// source; a busy Windows server touches its system disk within a second or two).
const GUEST_STALL_AFTER: Duration = Duration::from_secs(2);

/// The world's side of datastore access.
#[derive(Debug, Default)]
pub(super) struct DatastoreAccess {
    /// What each hypervisor host's agent was last told about each LUN-backed datastore; absent:
    /// accessible (what a new agent assumes).
    told: BTreeMap<(usize, DatastoreId), DatastoreState>,
    /// VMs whose home datastore is in APD from their host: when the APD began for them.
    stalling: BTreeMap<usize, SimTime>,
}

impl World<'_> {
    /// Ground truth: `host`'s access to `datastore` now.
    pub(super) fn datastore_state(&self, host: usize, datastore: DatastoreId) -> DatastoreState {
        let lun = self
            .ha
            .as_ref()
            .and_then(|ha| ha.spec.datastore_luns.get(datastore.0 as usize).copied().flatten());
        let (Some(lun), Some(storage)) = (lun, self.storage.as_ref()) else {
            return DatastoreState::Accessible;
        };
        let now = self.now();
        let (host, array) = (HostId(host as u32), HostId(storage.array_host as u32));
        let path_runs = storage.networks.iter().enumerate().any(|(index, &network)| {
            storage.array.port_answers(now, ControllerId(index as u8))
                && self.fabric.path_state(host, array, network) == PathState::Up
                && self.fabric.path_state(array, host, network) == PathState::Up
        });
        if !path_runs {
            DatastoreState::AllPathsDown
        } else if storage.array.is_lun_offline(LunId(lun as u16)) {
            DatastoreState::PermanentDeviceLoss
        } else {
            DatastoreState::Accessible
        }
    }

    /// A new agent on `host` assumes every datastore accessible: forget what the old one was told.
    pub(super) fn forget_datastores(&mut self, host: usize) {
        if let Some(ha) = self.ha.as_mut() {
            ha.access.told.retain(|&(on, _), _| on != host);
        }
    }

    /// Tells agent `agent` of every change in its host's access to a LUN-backed datastore, carries out
    /// what the guests on it see, and stalls the guests whose APD has lasted `GUEST_STALL_AFTER`.
    pub(super) fn refresh_datastores(&mut self, agent: usize) {
        let Some(ha) = self.ha.as_ref() else { return };
        let host = ha.agents[agent].host;
        let backed: Vec<DatastoreId> = (0..ha.spec.datastores.len())
            .filter(|&index| ha.spec.datastore_luns[index].is_some())
            .map(|index| DatastoreId(index as u16))
            .collect();
        for datastore in backed {
            let state = self.datastore_state(host, datastore);
            let Some(ha) = self.ha.as_mut() else { return };
            let told = ha.access.told.get(&(host, datastore)).copied().unwrap_or(DatastoreState::Accessible);
            if told == state {
                continue;
            }
            ha.access.told.insert((host, datastore), state);
            let name = Name::from(
                self.ha.as_ref().map_or("?", |ha| ha.spec.datastores[datastore.0 as usize].as_str()),
            );
            tracing::info!(t = %self.now(), host = %self.host_names[host], datastore = %name, ?state, "datastore");
            let agent_name = self.host_names[host].clone();
            self.record(Event::Ha {
                agent: agent_name,
                what: HaRecord::Datastore { datastore: name, state },
            });
            self.handle_agent(agent, HaInput::Datastore { datastore, state });
            self.guests_see(host, datastore, state);
        }
        self.stall_guests(host);
    }

    /// The VMs on `host` that are on and whose home is `datastore`.
    fn vms_homed(&self, host: usize, datastore: DatastoreId) -> Vec<usize> {
        let Some(ha) = self.ha.as_ref() else { return Vec::new() };
        ha.placement
            .iter()
            .filter(|&(&vm, &on)| {
                on == host
                    && self.hosts.is_on(HostId(vm as u32))
                    && ha
                        .spec
                        .cluster
                        .vms
                        .get(&emulators::hypervisor::VmId(vm as u32))
                        .is_some_and(|spec| spec.home == datastore)
            })
            .map(|(&vm, _)| vm)
            .collect()
    }

    fn guests_see(&mut self, host: usize, datastore: DatastoreId, state: DatastoreState) {
        let now = self.now();
        for vm in self.vms_homed(host, datastore) {
            match state {
                DatastoreState::AllPathsDown => {
                    if let Some(ha) = self.ha.as_mut() {
                        ha.access.stalling.entry(vm).or_insert(now);
                    }
                    self.arm_stall_on_next_write(vm, true);
                }
                DatastoreState::Accessible => {
                    self.end_stall(vm);
                    if self.hosts.state(HostId(vm as u32)) == emulators::host::RunState::Paused {
                        self.resume_host(vm);
                    }
                }
                DatastoreState::PermanentDeviceLoss => {
                    self.end_stall(vm);
                    // The guest's system disk failed under it: a bug check. Powered off unless VMCP
                    // already did (the agent heard the PDL first).
                    self.power_off_host(vm);
                }
            }
        }
    }

    fn end_stall(&mut self, vm: usize) {
        if let Some(ha) = self.ha.as_mut() {
            ha.access.stalling.remove(&vm);
        }
        self.arm_stall_on_next_write(vm, false);
    }

    /// Arms (or disarms) the pause of `vm` at its node's next shared-disk write, with no resume time.
    fn arm_stall_on_next_write(&mut self, vm: usize, arm: bool) {
        let Some(node) = self.node_on(vm) else { return };
        let Some(storage) = self.storage.as_mut() else { return };
        if let Some(slot) = storage.initiators.get_mut(node) {
            slot.freeze_on_next_write = arm.then_some(None);
        }
    }

    /// Pauses every VM on `host` whose APD began `GUEST_STALL_AFTER` ago and which still runs there.
    fn stall_guests(&mut self, host: usize) {
        let now = self.now();
        let Some(ha) = self.ha.as_ref() else { return };
        let due: Vec<usize> = ha
            .access
            .stalling
            .iter()
            .filter(|&(vm, &since)| {
                ha.placement.get(vm) == Some(&host) && now.saturating_since(since) >= GUEST_STALL_AFTER
            })
            .map(|(&vm, _)| vm)
            .collect();
        for vm in due {
            if self.hosts.is_running(HostId(vm as u32)) {
                self.arm_stall_on_next_write(vm, false);
                self.freeze_host(vm, None);
            }
        }
    }

    /// Forgets a VM's stall when it powers off or moves: a stall is its host's, not the VM's.
    pub(super) fn forget_stall(&mut self, vm: usize) {
        if self.ha.as_ref().is_some_and(|ha| ha.access.stalling.contains_key(&vm)) {
            self.end_stall(vm);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::history::{DatastoreState, Event, HaRecord, HostDownReason};
    use crate::scenario;
    use std::path::Path;

    /// The stacked-ha hazard (a guest SCC cluster on VMs whose home is the datastore `vmfs1`, a LUN of
    /// the array) with its faults replaced by `faults`.
    fn run(datastores: &str, faults: &str) -> Vec<(u64, Event)> {
        let text = include_str!("../../../suites/hazards/stacked-ha.toml");
        let text = text.split("[[fault]]").next().unwrap_or_default().to_string();
        let text = text.replace("datastores = [\"vmfs1\"]", &format!("datastores = [{datastores}]"));
        let text = format!("{text}{faults}\n[checks]\nrto = \"90s\"\n");
        let scenario = scenario::parse(Path::new("lab.toml"), &text).expect("the lab loads");
        let outcome = super::super::run_scenario(&scenario, 1);
        outcome
            .history
            .records()
            .iter()
            .map(|record| (record.at.as_nanos() / 1_000_000_000, record.event.clone()))
            .collect()
    }

    fn told(events: &[(u64, Event)], state: DatastoreState) -> Vec<(u64, String)> {
        events
            .iter()
            .filter_map(|(at, event)| match event {
                Event::Ha { agent, what: HaRecord::Datastore { state: told, .. } } if *told == state => {
                    Some((*at, agent.to_string()))
                }
                _ => None,
            })
            .collect()
    }

    fn powered_off(events: &[(u64, Event)], host: &str) -> Vec<u64> {
        events
            .iter()
            .filter_map(|(at, event)| match event {
                Event::HostDown { host: down, reason: HostDownReason::Power } if down.as_ref() == host => {
                    Some(*at)
                }
                _ => None,
            })
            .collect()
    }

    /// Runs the stacked-ha lab (its shared disk attached as `attach`, disk fencing off) to T+30 s, has
    /// mbx1's node send a PERSISTENT RESERVE OUT REGISTER with a key no node uses, and returns the
    /// `reservation` records of that key.
    fn register_foreign_key(attach: &str) -> Vec<Event> {
        const KEY: u64 = 0xD811;
        let text = include_str!("../../../suites/hazards/stacked-ha.toml");
        let text = text
            .split("[[fault]]")
            .next()
            .unwrap_or_default()
            .replace("attach = \"multi-writer\"", &format!("attach = \"{attach}\""));
        let text = format!("{text}\n[checks]\nrto = \"90s\"\n");
        let scenario = scenario::parse(Path::new("lab.toml"), &text).expect("the lab loads");
        let mut world = super::super::World::new(&scenario, 1);
        world.start();
        while world.queue.peek_time().is_some_and(|at| at < kernel::SimTime::from_secs(30)) {
            let Some((_, event)) = world.queue.pop() else { break };
            world.handle(event);
        }
        let node =
            world.nodes.iter().position(|slot| world.host_names[slot.host].as_ref() == "mbx1").expect("mbx1");
        let op = failover::io::StorageOp::Register { key: KEY };
        world.storage_request(node, 1_000_000, failover::LunId(0), None, op);
        while let Some((_, event)) = world.queue.pop() {
            if !world.handle(event) {
                break;
            }
        }
        world
            .history
            .records()
            .iter()
            .map(|record| record.event.clone())
            .filter(|event| matches!(event, Event::Reservation { key, .. } if *key == KEY))
            .collect()
    }

    #[test]
    fn a_vm_reservation_command_reaches_the_array_through_a_physical_rdm_and_not_through_a_multi_writer_disk()
    {
        assert!(
            !register_foreign_key("physical-rdm").is_empty(),
            "a pRDM passes PR OUT through to the array"
        );
        assert!(
            register_foreign_key("multi-writer").is_empty(),
            "the VMkernel answers it for a multi-writer VMDK"
        );
    }

    #[test]
    fn a_guest_that_writes_nothing_stalls_two_seconds_into_an_apd_and_resumes_when_a_path_returns() {
        // mbx2 is passive: it writes nothing to the shared disk, so only its own system-disk I/O hangs.
        let cut = |network: &str| {
            format!(
                "[[fault]]\nat = \"60s\"\nkind = \"nic-down\"\ntarget = \"esx2\"\nnetwork = \"{network}\"\nduration = \"20s\"\n"
            )
        };
        let events = run("\"vmfs1\"", &format!("{}{}", cut("iscsi-a"), cut("iscsi-b")));
        let paused: Vec<u64> = events
            .iter()
            .filter_map(|(at, event)| match event {
                Event::HostDown { host, reason: HostDownReason::Freeze } if host.as_ref() == "mbx2" => {
                    Some(*at)
                }
                _ => None,
            })
            .collect();
        let resumed: Vec<u64> = events
            .iter()
            .filter_map(|(at, event)| match event {
                Event::HostUp { host, boot: false } if host.as_ref() == "mbx2" => Some(*at),
                _ => None,
            })
            .collect();
        assert_eq!((paused, resumed), (vec![62], vec![80]));
    }

    const LUN_OFFLINE: &str = "[[fault]]\nat = \"60s\"\nkind = \"lun-offline\"\nlun = \"vmfs1\"\n";

    #[test]
    fn a_datastore_lun_taken_offline_is_a_permanent_device_loss_that_crashes_the_guests_on_it() {
        let events = run("\"vmfs1\"", LUN_OFFLINE);
        let hosts: Vec<String> =
            told(&events, DatastoreState::PermanentDeviceLoss).into_iter().map(|(_, h)| h).collect();
        assert_eq!(hosts, ["esx1", "esx2", "esx3"], "every host reaches the array and hears the LUN is gone");
        assert_eq!(powered_off(&events, "mbx1"), [60]);
        assert_eq!(powered_off(&events, "mbx2"), [60]);
    }

    #[test]
    fn a_datastore_that_is_no_lun_is_never_lost_and_its_guests_run_on() {
        let events = run("\"datastore1\"", LUN_OFFLINE);
        assert!(told(&events, DatastoreState::PermanentDeviceLoss).is_empty());
        assert!(powered_off(&events, "mbx1").is_empty());
    }

    #[test]
    fn ha_does_not_restart_a_vm_on_a_host_that_does_not_reach_its_home_datastore() {
        // esx3, the only other host mbx1's rule allows, lost its paths; then mbx1's host fails.
        let cut = |network: &str| {
            format!(
                "[[fault]]\nat = \"30s\"\nkind = \"nic-down\"\ntarget = \"esx3\"\nnetwork = \"{network}\"\n"
            )
        };
        let fail = "[[fault]]\nat = \"60s\"\nkind = \"power-off\"\ntarget = \"esx1\"\n";
        let restarted = |events: &[(u64, Event)]| {
            events.iter().any(|(_, event)| {
                matches!(event, Event::Ha { what: HaRecord::RestartSucceeded { vm, .. }, .. } if vm.as_ref() == "mbx1")
            })
        };
        assert!(restarted(&run("\"vmfs1\"", fail)), "with its paths, esx3 restarts mbx1");
        let events = run("\"vmfs1\"", &format!("{}{}{fail}", cut("iscsi-a"), cut("iscsi-b")));
        assert_eq!(told(&events, DatastoreState::AllPathsDown), [(30, "esx3".to_string())]);
        assert!(!restarted(&events), "mbx1 was powered on where its datastore is unreachable");
    }
}
