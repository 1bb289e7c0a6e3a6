//! The `[storage]` table and the `[[lun]]` list: the SAN array, its LUNs and every host's iSCSI
//! initiator and multipath settings. Defaults come from `reference/domain.md` sections 4 and 5.

use super::{Ctx, HOUR, Result, at_most, check_name, duration_of, list, positive};
use crate::scenario::file::{HostFile, LunFile, StorageFile};
use crate::scenario::model::{
    ArrayConfig, ClusterSpec, HostDef, HostRole, InitiatorConfig, LunDef, NoPathRetry, QuorumModel,
    StorageSpec,
};
use crate::scenario::units::DurationText;
use std::time::Duration;
use toml::Spanned;

/// 2^48 blocks of 512 bytes (128 PiB, within a 64-bit LBA): more than any message id a run reaches,
/// since a shared-disk database writes each message to the block numbered by its id and database `k`
/// numbers its messages from `k × 10^9` (`world::MESSAGES_PER_DATABASE`). The store is sparse, so
/// the size costs nothing.
const DEFAULT_LUN_BLOCKS: u64 = 1 << 48;

/// Validates `[storage]` and `[[lun]]` against the hosts. Both are required exactly when some host
/// has role `array`; the cluster's disk witness must name one of the LUNs.
pub(super) fn validate_storage(
    ctx: &Ctx,
    file: Option<&StorageFile>,
    luns: &[LunFile],
    host_files: &[HostFile],
    hosts: &[HostDef],
    cluster: &ClusterSpec,
    cluster_table: Option<&Spanned<String>>,
) -> Result<(Option<StorageSpec>, Vec<LunDef>)> {
    let arrays: Vec<&HostDef> = hosts.iter().filter(|host| host.role == HostRole::Array).collect();
    let default_file = StorageFile::default();
    let array = match (arrays.as_slice(), file) {
        ([], None) => {
            if let Some(first) = luns.first() {
                return Err(ctx.at(
                    &first.name,
                    "a [[lun]] needs a SAN array: add a host with role = \"array\" (its networks are the iSCSI networks)",
                ));
            }
            if let Some(disk_witness) = cluster_table {
                return Err(ctx.at(disk_witness, "`disk_witness` needs a SAN array and a [[lun]] to hold it"));
            }
            return Ok((None, Vec::new()));
        }
        ([], Some(_)) => {
            return Err(ctx.at_span(
                ctx.table("storage", 0),
                "[storage] needs a SAN array: add a host with role = \"array\" (its networks are the iSCSI networks)",
            ));
        }
        (arrays, file) => {
            let file = file.unwrap_or(&default_file);
            match &file.array {
                Some(name) => match arrays.iter().find(|host| &host.name == name.get_ref()) {
                    Some(host) => *host,
                    None => {
                        return Err(ctx.at(
                            name,
                            format!(
                                "`{}` is not an array host; hosts with role = \"array\" are: {}",
                                name.get_ref(),
                                list(arrays.iter().map(|host| host.name.as_str()))
                            ),
                        ));
                    }
                },
                None if arrays.len() == 1 => arrays[0],
                None => {
                    return Err(ctx.at_span(
                        ctx.table("storage", 0),
                        format!(
                            "several array hosts ({}); name the one the cluster uses with `array = \"...\"`",
                            list(arrays.iter().map(|host| host.name.as_str()))
                        ),
                    ));
                }
            }
        }
    };
    let file = file.unwrap_or(&default_file);
    let networks = array.networks.clone();
    // Every mailbox host reaches every controller: path i of a node is its NIC on the array's i-th
    // network, and persistent reservations must be registered on every path.
    for (host, entry) in hosts.iter().zip(host_files).filter(|(host, _)| host.role == HostRole::Mailbox) {
        if let Some(missing) = networks.iter().find(|network| !host.has_nic_on(network)) {
            let span = entry.networks.last().map_or_else(|| entry.name.span(), Spanned::span);
            return Err(ctx.at_span(
                span,
                format!(
                    "mailbox host `{}` has no NIC on `{missing}`, an iSCSI network of array `{}` (the array's \
                     networks: {}); every node needs a path to every controller",
                    host.name,
                    array.name,
                    list(networks.iter().map(String::as_str))
                ),
            ));
        }
    }
    let no_path_retry = match &file.no_path_retry {
        None => InitiatorConfig::default().no_path_retry,
        Some(value) => match value.get_ref() {
            toml::Value::String(text) if text == "fail" => NoPathRetry::Fail,
            toml::Value::String(text) if text == "queue" => NoPathRetry::QueueForever,
            toml::Value::Integer(polls) if (1..=10_000).contains(polls) => {
                NoPathRetry::Queue { polls: *polls as u32 }
            }
            _ => {
                return Err(ctx.at(
                    value,
                    "`no_path_retry` is \"fail\", \"queue\" (queue forever) or a number of path-checker polls from 1 to 10000",
                ));
            }
        },
    };
    let retry_count =
        file.retry_count.as_ref().map_or(InitiatorConfig::default().retry_count, |count| *count.get_ref());
    if let Some(count) = file.retry_count.as_ref().filter(|count| *count.get_ref() == 0) {
        return Err(ctx.at(count, "`retry_count` must be at least 1: every I/O is tried once"));
    }
    for (value, key) in [
        (&file.probe_delay, "probe_delay"),
        (&file.mapping_delay, "mapping_delay"),
        (&file.controller_boot_time, "controller_boot_time"),
        (&file.replacement_timeout, "replacement_timeout"),
        (&file.command_timeout, "command_timeout"),
        (&file.pdo_remove_period, "pdo_remove_period"),
    ] {
        at_most(ctx, value, HOUR, key, "no storage timer in the domain comes near it")?;
    }
    // The emulators' own configuration types, with their own defaults: a key left out means the
    // emulator's default, written once in `ArrayConfig::default` and `InitiatorConfig::default`.
    let array_defaults = ArrayConfig::default();
    let initiator_defaults = InitiatorConfig::default();
    let or_default = |value: &Option<Spanned<DurationText>>, default: Duration, key: &str| {
        positive(ctx, value, default, key)
    };
    let array_config = ArrayConfig {
        controllers: networks.len() as u8,
        enumeration: file.enumeration.unwrap_or(array_defaults.enumeration),
        probe_delay: or_default(&file.probe_delay, array_defaults.probe_delay, "probe_delay")?,
        mapping_delay: file.mapping_delay.as_ref().map_or(array_defaults.mapping_delay, duration_of),
        read_service_time: or_default(
            &file.read_service_time,
            array_defaults.read_service_time,
            "read_service_time",
        )?,
        write_service_time: or_default(
            &file.write_service_time,
            array_defaults.write_service_time,
            "write_service_time",
        )?,
        write_cache: file.write_cache.unwrap_or(array_defaults.write_cache),
        controller_boot_time: or_default(
            &file.controller_boot_time,
            array_defaults.controller_boot_time,
            "controller_boot_time",
        )?,
        ..array_defaults
    };
    let timer = |value: &Option<Spanned<DurationText>>, default: Duration, key: &str| {
        positive(ctx, value, default, key)
    };
    let initiator = InitiatorConfig {
        policy: file.mpio_policy.unwrap_or(initiator_defaults.policy),
        no_path_retry,
        polling_interval: timer(
            &file.polling_interval,
            initiator_defaults.polling_interval,
            "polling_interval",
        )?,
        noop_out_interval: timer(
            &file.noop_out_interval,
            initiator_defaults.noop_out_interval,
            "noop_out_interval",
        )?,
        noop_out_timeout: timer(
            &file.noop_out_timeout,
            initiator_defaults.noop_out_timeout,
            "noop_out_timeout",
        )?,
        replacement_timeout: timer(
            &file.replacement_timeout,
            initiator_defaults.replacement_timeout,
            "replacement_timeout",
        )?,
        command_timeout: timer(&file.command_timeout, initiator_defaults.command_timeout, "command_timeout")?,
        pdo_remove_period: timer(
            &file.pdo_remove_period,
            initiator_defaults.pdo_remove_period,
            "pdo_remove_period",
        )?,
        retry_count,
        retry_interval: timer(&file.retry_interval, initiator_defaults.retry_interval, "retry_interval")?,
        ..initiator_defaults
    };
    let spec = StorageSpec {
        array: array.name.clone(),
        networks,
        array_config,
        initiator,
        aptpl: file.aptpl.unwrap_or(false),
    };

    if luns.is_empty() {
        return Err(ctx.at_span(
            ctx.table("storage", 0),
            format!("array `{}` has no [[lun]]; a shared-disk cluster needs at least one", array.name),
        ));
    }
    let mailboxes =
        || list(hosts.iter().filter(|host| host.role == HostRole::Mailbox).map(|host| host.name.as_str()));
    let mut defs: Vec<LunDef> = Vec::with_capacity(luns.len());
    for (index, entry) in luns.iter().enumerate() {
        let name = check_name(ctx, &entry.name, "LUN")?;
        if let Some(first) = luns.iter().take(index).find(|other| other.name.get_ref() == &name) {
            return Err(ctx.at(
                &entry.name,
                format!("duplicate LUN name `{name}`; the first is at line {}", ctx.line_of(&first.name)),
            ));
        }
        let blocks = entry.blocks.as_ref().map_or(DEFAULT_LUN_BLOCKS, |blocks| *blocks.get_ref());
        if let Some(value) = entry.blocks.as_ref().filter(|blocks| *blocks.get_ref() == 0) {
            return Err(ctx.at(value, "`blocks` must be above zero"));
        }
        let present_to = match &entry.present_to {
            None => hosts
                .iter()
                .filter(|host| host.role == HostRole::Mailbox)
                .map(|host| host.name.clone())
                .collect(),
            Some(names) => {
                let mut present_to = Vec::with_capacity(names.get_ref().len());
                for host in names.get_ref() {
                    match hosts.iter().find(|known| &known.name == host.get_ref()) {
                        Some(known) if known.role == HostRole::Mailbox => {}
                        _ => {
                            return Err(ctx.at(
                                host,
                                format!(
                                    "`{}` is not a mailbox host; LUNs are presented to mailbox hosts: {}",
                                    host.get_ref(),
                                    mailboxes()
                                ),
                            ));
                        }
                    }
                    if present_to.contains(host.get_ref()) {
                        return Err(ctx.at(host, format!("`{}` is listed twice", host.get_ref())));
                    }
                    present_to.push(host.get_ref().clone());
                }
                present_to
            }
        };
        let attach = entry.attach.as_ref().map_or_else(Default::default, |attach| *attach.get_ref());
        defs.push(LunDef { name, blocks, read_only: entry.read_only, present_to, attach });
    }
    if let (QuorumModel::NodeAndDiskMajority, Some(witness), Some(span)) =
        (cluster.settings.quorum, &cluster.disk_witness, cluster_table)
        && !defs.iter().any(|lun| &lun.name == witness)
    {
        return Err(ctx.at(
            span,
            format!(
                "unknown LUN `{witness}` as `disk_witness`; LUNs are: {}",
                list(defs.iter().map(|lun| lun.name.as_str()))
            ),
        ));
    }
    Ok((Some(spec), defs))
}
