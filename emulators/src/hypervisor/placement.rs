//! Where a master restarts a VM: a host in contact that reaches the VM's home datastore, allowed by
//! its VM-Host "must" rules and, when HA respects them, its VM-VM anti-affinity rules; among those,
//! the host with the fewest VMs (ties: the lowest id), which spreads restarts as HA's placement does.
//!
//! Not modelled: CPU and memory reservations and admission control, the 32 concurrent power-ons per
//! host, agent VMs, and "should" rules.

use super::agent::FdmAgent;
use super::{PlacementRule, RestartBlock, VmId};
use crate::ids::HostId;
use kernel::SimTime;
use std::collections::{BTreeMap, BTreeSet};

impl FdmAgent {
    /// The VMs on each host in contact, counting power-ons in flight as already there.
    fn load(&self, now: SimTime) -> BTreeMap<HostId, BTreeSet<VmId>> {
        let mut load = BTreeMap::new();
        if !self.is_isolated() {
            load.insert(self.host, self.running_vms());
        }
        let Some(master) = self.master.as_ref() else { return load };
        for (&host, view) in &master.hosts {
            if self.in_contact(now, host) {
                load.insert(host, view.vms.clone());
            }
        }
        for (&vm, flight) in &master.in_flight {
            if let Some(vms) = load.get_mut(&flight.host) {
                vms.insert(vm);
            }
        }
        load
    }

    /// Whether `host` reaches `vm`'s home datastore, as this master knows.
    fn reaches_home(&self, host: HostId, vm: VmId) -> bool {
        let Some(home) = self.cluster.vms.get(&vm).map(|spec| spec.home) else { return false };
        if host == self.host {
            return self.accessible().any(|ds| ds == home);
        }
        self.master
            .as_ref()
            .and_then(|m| m.hosts.get(&host))
            .is_some_and(|view| view.datastores.contains(&home))
    }

    pub(super) fn place(&self, now: SimTime, vm: VmId) -> Result<HostId, RestartBlock> {
        let home = self.cluster.vms.get(&vm).map(|spec| spec.home);
        if home.is_none_or(|ds| !self.master.as_ref().is_some_and(|m| m.owned.contains(&ds))) {
            return Err(RestartBlock::DatastoreNotOwned);
        }
        let mut load = self.load(now);
        load.retain(|&host, _| self.reaches_home(host, vm));
        for rule in &self.cluster.rules {
            if let PlacementRule::MustRunOn { vms, hosts } = rule
                && vms.contains(&vm)
            {
                load.retain(|host, _| hosts.contains(host));
            }
        }
        if load.is_empty() {
            return Err(RestartBlock::NoCompatibleHost);
        }
        if self.config.respect_vm_anti_affinity {
            for rule in &self.cluster.rules {
                if let PlacementRule::AntiAffinity { vms } = rule
                    && vms.contains(&vm)
                {
                    load.retain(|_, there| there.iter().all(|other| *other == vm || !vms.contains(other)));
                }
            }
        }
        load.iter()
            .min_by_key(|&(&host, vms)| (vms.len(), host))
            .map(|(&host, _)| host)
            .ok_or(RestartBlock::AntiAffinity)
    }
}
