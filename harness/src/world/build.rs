//! Turns a validated scenario into emulators, failover configuration and node/hub slots.

use crate::scenario::{self, HostRole, Scenario};
use emulators::fabric::Fabric;
use emulators::{HostId, NetworkId};
use failover::config::{DatabaseConfig, ResourceConfig, ResourceKind};
use failover::{ClusterConfig, DbId, HubConfig, HubId, LunId, NodeId, PathId};

/// Builds the fabric: one network per `[[network]]`, one NIC per host per listed network.
pub fn fabric(scenario: &Scenario, seeds: &kernel::SeedTree) -> (Fabric, Vec<NetworkId>) {
    let mut fabric = Fabric::new(seeds);
    let networks: Vec<NetworkId> =
        scenario.networks.iter().map(|def| fabric.add_network(def.spec.clone())).collect();
    for (index, host) in scenario.hosts.iter().enumerate() {
        for name in &host.networks {
            if let Some(position) = scenario.networks.iter().position(|def| &def.name == name) {
                fabric.attach(HostId(index as u32), networks[position]);
            }
        }
    }
    (fabric, networks)
}

/// The failover configuration the administrator set, translated field by field.
pub fn cluster_config(scenario: &Scenario, mailbox_hosts: &[usize], hub_hosts: &[usize]) -> ClusterConfig {
    let spec = &scenario.cluster;
    let node_of = |host_name: &str| {
        mailbox_hosts
            .iter()
            .position(|&index| scenario.hosts[index].name == host_name)
            .map(|position| NodeId(position as u16))
    };
    // Heartbeats go on every network that some pair of mailbox hosts shares, except the iSCSI
    // networks: WSFC disables cluster communication on storage NICs, as the iSCSI guidance requires.
    let storage_networks: &[String] = scenario.storage.as_ref().map_or(&[], |storage| &storage.networks);
    let lun_of = |name: &str| scenario.luns.iter().position(|lun| lun.name == name).map(|i| LunId(i as u16));
    let paths: Vec<PathId> = scenario
        .networks
        .iter()
        .enumerate()
        .filter(|(_, network)| !storage_networks.contains(&network.name))
        .filter(|(_, network)| {
            mailbox_hosts.iter().filter(|&&host| scenario.hosts[host].has_nic_on(&network.name)).count() >= 2
        })
        .map(|(index, _)| PathId(index as u16))
        .collect();
    let databases = scenario
        .databases
        .iter()
        .enumerate()
        .map(|(index, db)| DatabaseConfig {
            id: DbId(index as u16),
            name: db.name.clone(),
            copies: db.copies.iter().filter_map(|host| node_of(host)).collect(),
            resources: db
                .resources
                .iter()
                .map(|resource| ResourceConfig {
                    name: resource.name.clone(),
                    kind: match resource.kind {
                        scenario::ResourceKind::Ip => ResourceKind::Ip,
                        scenario::ResourceKind::NetworkName => ResourceKind::NetworkName,
                        scenario::ResourceKind::Database => ResourceKind::Database,
                        scenario::ResourceKind::Generic => ResourceKind::Generic,
                        scenario::ResourceKind::PhysicalDisk => ResourceKind::PhysicalDisk {
                            lun: resource.lun.as_deref().and_then(lun_of).unwrap_or(LunId(0)),
                        },
                    },
                    depends_on: resource
                        .depends_on
                        .iter()
                        .filter_map(|dependency| db.resources.iter().position(|r| &r.name == dependency))
                        .collect(),
                    online_time: resource.online_time.unwrap_or(
                        if resource.kind == scenario::ResourceKind::Database {
                            spec.mount_time
                        } else {
                            spec.resource_online_time
                        },
                    ),
                })
                .collect(),
        })
        .collect();
    let heartbeat_phase = mailbox_hosts
        .iter()
        .enumerate()
        .map(|(node, &host)| (NodeId(node as u16), scenario.hosts[host].heartbeat_phase))
        .collect();
    ClusterConfig {
        nodes: (0..mailbox_hosts.len()).map(|index| NodeId(index as u16)).collect(),
        hubs: (0..hub_hosts.len()).map(|index| HubId(index as u16)).collect(),
        paths,
        heartbeat_phase,
        storage_paths: storage_networks.len() as u8,
        disk_witness: spec.disk_witness.as_deref().and_then(lun_of),
        databases,
        settings: spec.settings.clone(),
    }
}

pub fn hub_config(scenario: &Scenario) -> HubConfig {
    scenario.transport.clone()
}

/// Host indexes by role, in file order.
pub fn hosts_with_role(scenario: &Scenario, role: HostRole) -> Vec<usize> {
    scenario.hosts.iter().enumerate().filter(|(_, host)| host.role == role).map(|(index, _)| index).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::time::Duration;

    #[test]
    fn each_mailbox_hosts_heartbeat_phase_becomes_its_nodes_phase_in_the_cluster_config() {
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../suites/fast/ccr-private-nic-loss.toml"),
        )
        .expect("the catalogue file");
        let phased = text.replacen(
            "name = \"mbx2\"\nrole = \"mailbox\"",
            "name = \"mbx2\"\nrole = \"mailbox\"\nheartbeat_phase = \"400ms\"",
            1,
        );
        assert_ne!(phased, text, "the phase line was inserted");
        let scenario = crate::scenario::parse(Path::new("phased.toml"), &phased).expect("loads");
        let mailboxes = hosts_with_role(&scenario, HostRole::Mailbox);
        let config = cluster_config(&scenario, &mailboxes, &hosts_with_role(&scenario, HostRole::Hub));
        assert_eq!(config.heartbeat_phase_of(NodeId(0)), Duration::ZERO);
        assert_eq!(config.heartbeat_phase_of(NodeId(1)), Duration::from_millis(400));
    }
}
