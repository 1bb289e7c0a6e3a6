//! The IP address of each database's resource group, and who answers for it.
//!
//! A group's `ip` resource brings its address online on its owner's public network: the first
//! network the owner's host lists that is not an iSCSI network. On one subnet the address is the same
//! whichever node owns the group, so a failover moves it (the new owner's gratuitous ARP) and clients
//! reach the new owner at once whatever their DNS caches say. Across subnets each subnet has its own
//! address, DNS names the one that is online, and a client whose cached answer names the old subnet's
//! address reaches nobody until the answer's TTL (`name_ttl`) runs out: the multi-subnet failover
//! delay of domain.md pattern 10.

use super::World;
use crate::scenario::ResourceKind;
use emulators::NetworkId;
use failover::DbId;
use failover::io::ResourceState;

impl World<'_> {
    /// The network a host's group addresses live on: its first listed network that is not iSCSI.
    fn public_network(&self, host: usize) -> Option<NetworkId> {
        let storage: &[NetworkId] = self.storage.as_ref().map_or(&[], |storage| &storage.networks);
        self.scenario.hosts[host]
            .networks
            .iter()
            .filter_map(|name| self.fabric.network_id(name))
            .find(|network| !storage.contains(network))
    }

    /// A node's group resource changed state: an `ip` resource online takes the group's address on
    /// the node's subnet over; offline or failed gives it up.
    pub(super) fn track_group_address(
        &mut self,
        node: usize,
        db: DbId,
        resource: usize,
        state: ResourceState,
    ) {
        let is_ip = self
            .scenario
            .databases
            .get(db.0 as usize)
            .and_then(|database| database.resources.get(resource))
            .is_some_and(|resource| resource.kind == ResourceKind::Ip);
        let Some(network) = self.public_network(self.nodes[node].host).filter(|_| is_ip) else { return };
        match state {
            ResourceState::Online => self.addresses.claim((db, network), node),
            ResourceState::Offline | ResourceState::Failed => self.addresses.release((db, network), node),
            ResourceState::OnlinePending | ResourceState::Restarting => {}
        }
    }

    /// The node answering for `db`'s address on the subnet of `host` (what a DNS answer naming `host`
    /// leads a client to), if any node holds it now.
    pub(super) fn address_holder(&self, db: DbId, host: usize) -> Option<usize> {
        let network = self.public_network(host)?;
        self.addresses.holder(&(db, network))
    }
}
