//! The DNS server's host (role `dns`): at most one, and it shares a network with every mailbox and hub
//! host. The fabric does not route between networks, and every registration (from a node) and every
//! lookup (from a hub) crosses one to reach the server; iSCSI networks carry storage traffic only.

use super::{Ctx, Result};
use crate::scenario::file::HostFile;
use crate::scenario::model::{HostDef, HostRole, StorageSpec};

/// Checks the `dns` host, if the scenario has one. `entries` and `hosts` are in the same (file) order.
pub(super) fn check_dns_host(
    ctx: &Ctx,
    entries: &[HostFile],
    hosts: &[HostDef],
    storage: Option<&StorageSpec>,
) -> Result<()> {
    let mut servers = entries.iter().zip(hosts).filter(|(_, host)| host.role == HostRole::Dns);
    let Some((entry, server)) = servers.next() else { return Ok(()) };
    if let Some((second, _)) = servers.next() {
        return Err(ctx.at(
            &second.role,
            format!(
                "a second dns host: the model has one DNS server, `{}` (line {}); zone replication between \
                 domain controllers is not modelled",
                server.name,
                ctx.line_of(&entry.name)
            ),
        ));
    }
    let iscsi: &[String] = storage.map_or(&[], |storage| &storage.networks);
    for client in hosts.iter().filter(|host| matches!(host.role, HostRole::Mailbox | HostRole::Hub)) {
        let shared =
            server.networks.iter().any(|network| !iscsi.contains(network) && client.has_nic_on(network));
        if !shared {
            let traffic = if client.role == HostRole::Mailbox { "name registrations" } else { "lookups" };
            return Err(ctx.at(
                &entry.name,
                format!(
                    "the DNS server `{}` shares no network with the {} host `{}`, so its {traffic} could never \
                     reach the server (the fabric does not route between networks, and iSCSI networks carry \
                     storage only); give `{}` a NIC on one of: {}",
                    server.name,
                    client.role.as_str(),
                    client.name,
                    server.name,
                    client.networks.iter().filter(|network| !iscsi.contains(network)).cloned().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
    }
    Ok(())
}
