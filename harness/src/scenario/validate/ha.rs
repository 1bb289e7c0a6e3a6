//! Hypervisor hosts, the VMs placed on them (`runs_on`) and vSphere HA (`[ha]`): the emulator's own
//! `HaConfig` and `ClusterSpec`, filled from the file with the emulator's defaults.
//!
//! A VM's NICs ride its hypervisor host's NICs, so every network a VM has a NIC on must be one its
//! hypervisor host (and every host HA may restart it on) has a NIC on.

use super::{Ctx, Result, duration_of, human, list};
use crate::scenario::fault::{Fault, FaultSpec, HypervisorFault};
use crate::scenario::file::{FaultFile, HaFile, HaRuleFile, HaRuleKind, HostFile, LunFile};
use crate::scenario::model::{
    ClusterSpec as GuestCluster, DEFAULT_VM_BOOT_TIME, DatabaseDef, DiskAttach, HaSpec, HostDef, HostRole,
    LunDef, NetworkDef, Target,
};
use emulators::HostId;
use emulators::hypervisor::{ClusterSpec, DatastoreId, HaConfig, PlacementRule, VmId, VmSpec};
use failover::DiskFencing;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use toml::Spanned;

/// The datastore every hypervisor host mounts when `[ha] datastores` is not given.
const DEFAULT_DATASTORE: &str = "datastore1";

/// Checks `runs_on` and `restart_priority` on every host and builds the HA spec. `entries` and
/// `hosts` are in the same (file) order.
pub(super) fn validate_ha(
    ctx: &Ctx,
    file: Option<&HaFile>,
    entries: &[HostFile],
    hosts: &[HostDef],
    networks: &[NetworkDef],
) -> Result<Option<HaSpec>> {
    check_placements(ctx, entries, hosts)?;
    let hypervisors: Vec<usize> =
        (0..hosts.len()).filter(|&index| hosts[index].role == HostRole::Hypervisor).collect();
    let Some(&first) = hypervisors.first() else {
        if let Some(file) = file {
            let span = file.management_network.as_ref().map_or_else(|| ctx.table("ha", 0), Spanned::span);
            return Err(
                ctx.at_span(span, "`[ha]` without a host of role `hypervisor`: HA has no host to run on")
            );
        }
        return Ok(None);
    };
    let default = HaFile::default();
    let file = file.unwrap_or(&default);
    let management_network = match &file.management_network {
        Some(name) => {
            if !networks.iter().any(|network| &network.name == name.get_ref()) {
                return Err(ctx.at(
                    name,
                    format!(
                        "unknown network `{}` for `management_network`; networks are: {}",
                        name.get_ref(),
                        list(networks.iter().map(|network| network.name.as_str()))
                    ),
                ));
            }
            name.get_ref().clone()
        }
        None => hosts[first].networks[0].clone(),
    };
    for &index in &hypervisors {
        if !hosts[index].has_nic_on(&management_network) {
            return Err(ctx.at(
                &entries[index].name,
                format!(
                    "hypervisor host `{}` has no NIC on the management network `{management_network}`, so its HA \
                     agent could talk to no other",
                    hosts[index].name
                ),
            ));
        }
    }
    let isolation_address = isolation_address(ctx, file, hosts, &management_network)?;
    let datastores: Vec<String> = match &file.datastores {
        Some(names) if names.get_ref().is_empty() => {
            return Err(ctx.at(names, "`datastores` is empty: a VM's disks are on a datastore"));
        }
        Some(names) => names.get_ref().iter().map(|name| name.get_ref().clone()).collect(),
        None => vec![DEFAULT_DATASTORE.to_string()],
    };
    let stores: BTreeSet<DatastoreId> =
        (0..datastores.len()).map(|index| DatastoreId(index as u16)).collect();
    let mut cluster = ClusterSpec {
        hosts: hypervisors.iter().map(|&index| (HostId(index as u32), stores.clone())).collect(),
        vms: BTreeMap::new(),
        rules: Vec::new(),
    };
    for (index, entry) in entries.iter().enumerate().filter(|(index, _)| hosts[*index].runs_on.is_some()) {
        let mut spec = VmSpec::on(DatastoreId(0));
        if let Some(priority) = &entry.restart_priority {
            spec.restart_priority = *priority.get_ref();
        }
        cluster.vms.insert(VmId(index as u32), spec);
    }
    for rule in &file.rule {
        cluster.rules.push(placement_rule(ctx, rule, hosts)?);
    }
    check_restart_networks(ctx, entries, hosts, &cluster)?;
    let mut config = HaConfig::default();
    if let Some(response) = file.isolation_response {
        config.isolation_response = response;
    }
    if let Some(delay) = &file.isolation_policy_delay {
        config.isolation_policy_delay = duration_of(delay);
    }
    if let Some(respect) = file.respect_vm_anti_affinity {
        config.respect_vm_anti_affinity = respect;
    }
    if let Some(response) = file.apd_response {
        config.vmcp.apd_response = response;
    }
    if let Some(delay) = &file.apd_failover_delay {
        config.vmcp.apd_failover_delay = duration_of(delay);
    }
    if let Some(response) = file.pdl_response {
        config.vmcp.pdl_response = response;
    }
    let datastore_luns = vec![None; datastores.len()];
    Ok(Some(HaSpec { config, cluster, management_network, isolation_address, datastores, datastore_luns }))
}

/// A VM's `boot_time` (default `DEFAULT_VM_BOOT_TIME`); a physical host boots at once and refuses
/// the key: its boot would change every history written before VMs existed (a server's firmware
/// alone takes minutes), so physical hosts keep the instant boot (ARCHITECTURE.md, Known bugs).
pub(super) fn boot_time(ctx: &Ctx, entry: &HostFile) -> Result<Duration> {
    /// A guest that takes longer than this to boot is broken, not slow; it also bounds the run.
    const MAX_BOOT_TIME: Duration = Duration::from_secs(3600);
    let Some(value) = &entry.boot_time else {
        return Ok(if entry.runs_on.is_some() { DEFAULT_VM_BOOT_TIME } else { Duration::ZERO });
    };
    if entry.runs_on.is_none() {
        return Err(ctx.at(
            value,
            format!(
                "`boot_time` applies only to VMs: `{}` has no `runs_on`, and physical hosts boot at once in this model",
                entry.name.get_ref()
            ),
        ));
    }
    let boot_time = duration_of(value);
    if boot_time > MAX_BOOT_TIME {
        return Err(ctx.at(
            value,
            format!(
                "`boot_time` of {} is above 1h: a guest that has not booted in an hour is broken",
                human(boot_time)
            ),
        ));
    }
    Ok(boot_time)
}

/// Every `runs_on` names a hypervisor host, no hypervisor host or array is a VM, a VM's networks are
/// all on its hypervisor host, and only VMs take a restart priority.
fn check_placements(ctx: &Ctx, entries: &[HostFile], hosts: &[HostDef]) -> Result<()> {
    for (entry, host) in entries.iter().zip(hosts) {
        if let (Some(priority), None) = (&entry.restart_priority, &entry.runs_on) {
            return Err(ctx.at(
                priority,
                format!("`restart_priority` applies only to VMs: `{}` has no `runs_on`", host.name),
            ));
        }
        let Some(runs_on) = &entry.runs_on else { continue };
        if let Some(rack) = &entry.rack {
            return Err(ctx.at(
                rack,
                format!("`{}` is a VM: it has no power cord of its own, and its power follows its hypervisor host's rack", host.name),
            ));
        }
        match host.role {
            HostRole::Hypervisor => {
                return Err(ctx.at(
                    runs_on,
                    format!("`{}` is a hypervisor host and cannot run on another: nested virtualisation is not modelled", host.name),
                ));
            }
            HostRole::Array => {
                return Err(ctx
                    .at(runs_on, format!("`{}` is the SAN array, hardware that cannot be a VM", host.name)));
            }
            _ => {}
        }
        let Some(hypervisor) = hosts.iter().find(|other| &other.name == runs_on.get_ref()) else {
            return Err(ctx.at(
                runs_on,
                format!(
                    "unknown host `{}` in `runs_on`; hypervisor hosts are: {}",
                    runs_on.get_ref(),
                    list(hypervisor_names(hosts))
                ),
            ));
        };
        if hypervisor.role != HostRole::Hypervisor {
            return Err(ctx.at(
                runs_on,
                format!(
                    "`{}` is a {} host, not a hypervisor: a VM runs on a host of role `hypervisor` (hypervisor hosts are: {})",
                    hypervisor.name,
                    hypervisor.role.as_str(),
                    list(hypervisor_names(hosts))
                ),
            ));
        }
        check_vm_networks(ctx, entry, host, hypervisor)?;
    }
    Ok(())
}

fn hypervisor_names(hosts: &[HostDef]) -> impl Iterator<Item = &str> {
    hosts.iter().filter(|host| host.role == HostRole::Hypervisor).map(|host| host.name.as_str())
}

/// A VM's NICs ride its hypervisor host's NICs: a network the hypervisor host has no NIC on would
/// carry nothing of the VM's.
fn check_vm_networks(ctx: &Ctx, entry: &HostFile, vm: &HostDef, hypervisor: &HostDef) -> Result<()> {
    for (network, span) in vm.networks.iter().zip(&entry.networks) {
        if !hypervisor.has_nic_on(network) {
            return Err(ctx.at(
                span,
                format!(
                    "VM `{}` has a NIC on `{network}`, which its hypervisor host `{}` has no NIC on; a VM's NICs \
                     ride its hypervisor host's",
                    vm.name, hypervisor.name
                ),
            ));
        }
    }
    Ok(())
}

/// The same for every host HA may restart a VM on (all hypervisor hosts, or those its must rules
/// allow).
fn check_restart_networks(
    ctx: &Ctx,
    entries: &[HostFile],
    hosts: &[HostDef],
    cluster: &ClusterSpec,
) -> Result<()> {
    for &vm in cluster.vms.keys() {
        let index = vm.0 as usize;
        let allowed = cluster.hosts.keys().filter(|&&host| {
            cluster.rules.iter().all(|rule| match rule {
                PlacementRule::MustRunOn { vms, hosts } => !vms.contains(&vm) || hosts.contains(&host),
                PlacementRule::AntiAffinity { .. } => true,
            })
        });
        for &host in allowed {
            check_vm_networks(ctx, &entries[index], &hosts[index], &hosts[host.0 as usize])?;
        }
    }
    Ok(())
}

/// `[ha] isolation_address`: a host with a NIC on the management network.
fn isolation_address(
    ctx: &Ctx,
    file: &HaFile,
    hosts: &[HostDef],
    management: &str,
) -> Result<Option<String>> {
    let Some(name) = &file.isolation_address else { return Ok(None) };
    match hosts.iter().find(|host| &host.name == name.get_ref()) {
        None => Err(ctx.at(
            name,
            format!(
                "unknown host `{}` for `isolation_address`; hosts are: {}",
                name.get_ref(),
                list(hosts.iter().map(|host| host.name.as_str()))
            ),
        )),
        Some(host) if !host.has_nic_on(management) => Err(ctx.at(
            name,
            format!(
                "isolation address `{}` has no NIC on the management network `{management}`, so no ping could reach it",
                host.name
            ),
        )),
        Some(host) => Ok(Some(host.name.clone())),
    }
}

/// One `[[ha.rule]]`: its VMs are VMs, its hosts hypervisor hosts.
fn placement_rule(ctx: &Ctx, rule: &HaRuleFile, hosts: &[HostDef]) -> Result<PlacementRule> {
    let is_vm = |host: &HostDef| host.runs_on.is_some();
    let vms = named_hosts(
        ctx,
        rule.vms.get_ref(),
        hosts,
        is_vm,
        "`vms` is not a VM; VMs (hosts with `runs_on`) are",
    )?;
    let vms = vms.into_iter().map(|index| VmId(index as u32)).collect();
    match (rule.kind.get_ref(), &rule.hosts) {
        (HaRuleKind::AntiAffinity, None) => Ok(PlacementRule::AntiAffinity { vms }),
        (HaRuleKind::AntiAffinity, Some(listed)) => {
            Err(ctx.at(listed, "an `anti-affinity` rule keeps VMs apart and takes no `hosts`"))
        }
        (HaRuleKind::MustRunOn, None) => Err(
            ctx.at(&rule.kind, "a `must-run-on` rule needs `hosts`, the hypervisor hosts its VMs may run on")
        ),
        (HaRuleKind::MustRunOn, Some(listed)) => {
            let is_hypervisor = |host: &HostDef| host.role == HostRole::Hypervisor;
            let what = "`hosts` is not a hypervisor host; hypervisor hosts are";
            let allowed = named_hosts(ctx, listed.get_ref(), hosts, is_hypervisor, what)?;
            Ok(PlacementRule::MustRunOn {
                vms,
                hosts: allowed.into_iter().map(|index| HostId(index as u32)).collect(),
            })
        }
    }
}

/// The indexes of the hosts a rule names, each of which must pass `fits`; otherwise the error names
/// the key (`what` reads "`<key>` is not …; … are") and lists the hosts that would fit.
fn named_hosts(
    ctx: &Ctx,
    names: &[Spanned<String>],
    hosts: &[HostDef],
    fits: impl Fn(&HostDef) -> bool,
    what: &str,
) -> Result<BTreeSet<usize>> {
    let mut found = BTreeSet::new();
    for name in names {
        match hosts.iter().position(|host| &host.name == name.get_ref()) {
            Some(index) if fits(&hosts[index]) => {
                found.insert(index);
            }
            _ => {
                let fitting = list(hosts.iter().filter(|host| fits(host)).map(|host| host.name.as_str()));
                return Err(ctx.at(name, format!("`{}` in a rule's {what}: {fitting}", name.get_ref())));
            }
        }
    }
    Ok(found)
}

/// The destination of a `vmotion` fault (`to`, when given), once every host its target may name is
/// known to be movable: a VM whose must-run-on rules allow some hypervisor host besides the one it is
/// on, and `to` among them. Anything else could never take effect, so it is refused here.
pub(super) fn vmotion_destination(
    ctx: &Ctx,
    hosts: &[HostDef],
    ha: Option<&HaSpec>,
    candidates: &[&HostDef],
    fault: &FaultFile,
) -> Result<Option<String>> {
    let target = fault.target.as_ref().map_or_else(|| fault.kind.span(), Spanned::span);
    let Some(ha) = ha else {
        return Err(ctx.at_span(
            target,
            "vmotion moves a VM between hypervisor hosts, but this scenario has no host of role `hypervisor`",
        ));
    };
    let index_of = |name: &str| hosts.iter().position(|host| host.name == name);
    let to = match &fault.to {
        Some(name) => match index_of(name.get_ref()) {
            Some(index) if hosts[index].role == HostRole::Hypervisor => Some((index, name)),
            _ => {
                return Err(ctx.at(
                    name,
                    format!(
                        "`{}` in `to` is not a hypervisor host; hypervisor hosts are: {}",
                        name.get_ref(),
                        list(hypervisor_names(hosts))
                    ),
                ));
            }
        },
        None => None,
    };
    for vm in candidates {
        let Some(index) = index_of(&vm.name) else { continue };
        if vm.runs_on.is_none() {
            return Err(ctx.at_span(
                target,
                format!("vmotion moves a VM, but `{}` is a physical host (it has no `runs_on`)", vm.name),
            ));
        }
        let allowed = ha.allowed_hosts(index);
        let names = || list(allowed.iter().map(|&host| hosts[host].name.as_str()));
        if let Some((host, name)) = to
            && !allowed.contains(&host)
        {
            return Err(ctx.at(
                name,
                format!(
                    "the must-run-on rules of `{}` keep it off `{}`; it may run on: {}",
                    vm.name,
                    name.get_ref(),
                    names()
                ),
            ));
        }
        if allowed.len() < 2 {
            return Err(ctx.at_span(
                target,
                format!(
                    "`{}` may run only on {} (its must-run-on rules), so a vMotion has nowhere to move it",
                    vm.name,
                    names()
                ),
            ));
        }
    }
    Ok(to.map(|(_, name)| name.get_ref().clone()))
}

/// Ties each datastore named like a `[[lun]]` to that LUN (a VMFS volume on it), which then holds
/// nothing else: no database's disk, not the disk witness. And refuses a multi-writer disk under a
/// cluster that fences with persistent reservations, which the VMkernel would refuse it.
pub(super) fn check_vm_disks(
    ctx: &Ctx,
    file: Option<&HaFile>,
    lun_entries: &[LunFile],
    luns: &[LunDef],
    cluster: &GuestCluster,
    databases: &[DatabaseDef],
    ha: Option<&mut HaSpec>,
) -> Result<()> {
    let reservations = cluster.settings.disk_fencing != DiskFencing::Disabled;
    for (entry, lun) in lun_entries.iter().zip(luns) {
        let Some(attach) =
            entry.attach.as_ref().filter(|attach| *attach.get_ref() == DiskAttach::MultiWriter)
        else {
            continue;
        };
        let witness = cluster.disk_witness.as_deref() == Some(lun.name.as_str());
        if reservations || witness {
            let user = if witness {
                "it is the disk witness, whose vote is a reservation".to_string()
            } else {
                let fencing = match cluster.settings.disk_fencing {
                    DiskFencing::PreemptWithoutAbort => "preempt-without-abort",
                    _ => "persistent-reservation, the default",
                };
                format!("the cluster fences its shared disks with them (`disk_fencing` is {fencing})")
            };
            let or = if witness { "" } else { ", or set `disk_fencing = \"disabled\"` (unsafe)" };
            return Err(ctx.at(
                attach,
                format!(
                    "LUN `{}` is attached as a multi-writer virtual disk, which passes no SCSI-3 persistent \
                     reservation to the array (the VMkernel answers PR commands with ILLEGAL REQUEST; VMware \
                     supports only physical RDMs or clustered VMDKs for WSFC shared disks), but {user}: \
                     attach it as `physical-rdm`{or}",
                    lun.name
                ),
            ));
        }
    }
    let (Some(ha), Some(file)) = (ha, file) else { return Ok(()) };
    for (index, name) in ha.datastores.iter().enumerate() {
        let Some(lun) = luns.iter().position(|lun| &lun.name == name) else { continue };
        let taken = databases
            .iter()
            .find(|db| db.disks().contains(&name.as_str()))
            .map(|db| format!("database `{}`'s disk", db.name));
        let taken = taken.or_else(|| {
            (cluster.disk_witness.as_deref() == Some(name.as_str())).then(|| "the disk witness".to_string())
        });
        if let (Some(taken), Some(span)) = (taken, file.datastores.as_ref()) {
            return Err(ctx.at(
                span,
                format!("datastore `{name}` is a VMFS volume on LUN `{name}`, which is also {taken}: a LUN holds one or the other"),
            ));
        }
        ha.datastore_luns[index] = Some(lun);
    }
    Ok(())
}

/// The target of a `snapshot` or `snapshot-revert`: one VM, named, that runs a cluster node and has
/// no shared disk. vSphere refuses to snapshot a VM with a raw disk or a SCSI controller in bus
/// sharing (the `SnapshotIncompatibleDeviceInVm` fault, [API-SNAP] in docs/hypervisor.md), which is
/// how a guest cluster's shared LUNs are attached, so a node presented a LUN is refused here.
pub(super) fn snapshot_target(
    ctx: &Ctx,
    hosts: &[HostDef],
    ha: Option<&HaSpec>,
    luns: &[LunDef],
    target: &Target,
    fault: &FaultFile,
) -> Result<()> {
    let kind = fault.kind.get_ref();
    let span = fault.target.as_ref().map_or_else(|| fault.kind.span(), Spanned::span);
    let Target::Host(name) = target else {
        return Err(ctx.at_span(
            span,
            format!("{kind} names one VM by its host name: a VM's snapshots are its own, and a role may name another VM when it fires"),
        ));
    };
    let Some(vm) = hosts.iter().find(|host| &host.name == name) else { return Ok(()) };
    if ha.is_none() || vm.runs_on.is_none() {
        return Err(ctx.at_span(
            span,
            format!("{kind} acts on a VM, but `{name}` is a physical host (it has no `runs_on`)"),
        ));
    }
    if vm.role != HostRole::Mailbox {
        return Err(ctx.at_span(
            span,
            format!(
                "{kind} keeps or restores a cluster node's disks, and `{name}` is a {} host, whose disks drill does not model",
                vm.role.as_str()
            ),
        ));
    }
    let datastores = ha.map_or(&[][..], |ha| &ha.datastores[..]);
    if let Some(lun) = vm.shared_lun(luns, datastores) {
        return Err(ctx.at_span(
            span,
            format!(
                "vSphere does not snapshot a VM with shared disks (a raw device mapping or a SCSI controller in bus sharing: \
                 SnapshotIncompatibleDeviceInVm), and `{name}` is presented the shared LUN `{}`",
                lun.name
            ),
        ));
    }
    Ok(())
}

/// Every `snapshot-revert` needs a `snapshot` of the same VM before it (earlier, or at the same
/// instant and earlier in the file): a revert without one has nothing to go back to. `files` and
/// `specs` are in file order.
pub(super) fn check_reverts_follow_snapshots(
    ctx: &Ctx,
    files: &[FaultFile],
    specs: &[FaultSpec],
) -> Result<()> {
    let vm_of = |spec: &FaultSpec, reverts: bool| match &spec.fault {
        Fault::Hypervisor(HypervisorFault::SnapshotRevert { target: Target::Host(name) }) if reverts => {
            Some(name.clone())
        }
        Fault::Hypervisor(HypervisorFault::Snapshot { target: Target::Host(name), .. }) if !reverts => {
            Some(name.clone())
        }
        _ => None,
    };
    for (index, spec) in specs.iter().enumerate() {
        let Some(vm) = vm_of(spec, true) else { continue };
        let earlier = specs.iter().enumerate().any(|(other, taken)| {
            vm_of(taken, false).as_ref() == Some(&vm)
                && (taken.at < spec.at || (taken.at == spec.at && other < index))
        });
        if !earlier {
            return Err(ctx.at(
                &files[index].kind,
                format!("snapshot-revert of `{vm}` has no earlier snapshot of `{vm}` to revert to; take one with a `snapshot` fault before it"),
            ));
        }
    }
    Ok(())
}
