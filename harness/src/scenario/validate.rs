//! From the file model to the validated model: defaults, ranges and cross-references, each error
//! located at the value that causes it.

use super::error::{ScenarioError, header_span};
use super::fault::{
    FabricFault, Fault, FaultSpec, HypervisorFault, PowerFault, RunFault, SanFault, SoftwareFault,
    WitnessFault,
};
use super::file::{
    ChecksFile, ClusterFile, DatabaseFile, FaultFile, HostFile, NetworkFile, ResourceFile, ScenarioFile,
    TransportFile, WorkloadFile,
};
use super::model::{
    CheckSpec, ClusterKind, ClusterSettings, ClusterSpec, DatabaseDef, FaultKind, FaultTrigger, FaultValue,
    HaSpec, HostDef, HostRole, HubConfig, LinkDirection, LunDef, NetworkDef, NetworkKind, OutageWindow,
    QuorumModel, Reachable, ResourceDef, ResourceKind, Scenario, Target, Tier, WorkloadSpec,
};
use super::units::{DurationText, SizeText, parse_signed_duration};
use crate::verdict::ViolationKind;
use emulators::fabric::NetworkSpec;
use kernel::format_duration;
use sha2::{Digest, Sha256};
use std::ops::Range;
use std::path::Path;
use std::time::Duration;
use toml::Spanned;

mod dns;
mod ha;
pub(super) mod limits;
mod nemesis;
mod storage;

type Result<T> = std::result::Result<T, ScenarioError>;

const SECOND: Duration = Duration::from_secs(1);
const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3_600);
const DAY: Duration = Duration::from_secs(86_400);
/// Longer runs than this are mistakes (a unit slip such as `400d` for `400s`), not experiments: even
/// the 7-day dumpster fits with room to spare.
const MAX_RUN: Duration = Duration::from_secs(30 * 86_400);
/// Sizes above this are unit slips too: no log, message or dumpster in the domain comes near it.
const MAX_SIZE_BYTES: u64 = 1 << 30;
/// Host names that would make a bare fault target ambiguous with a role.
const RESERVED_HOST_NAMES: [&str; 4] = ["active", "passive", "witness", "all"];

/// The file being validated, for locating errors.
struct Ctx<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Ctx<'_> {
    fn at<T>(&self, value: &Spanned<T>, message: impl Into<String>) -> ScenarioError {
        self.at_span(value.span(), message)
    }

    fn at_span(&self, span: Range<usize>, message: impl Into<String>) -> ScenarioError {
        ScenarioError::at(self.path, self.text, span, message)
    }

    /// The `nth` header of a table, or the start of the file when the table has no header of its own
    /// (written with dotted keys, inline, or absent). Only used when no single value is to blame.
    fn table(&self, name: &str, nth: usize) -> Range<usize> {
        header_span(self.text, name, nth).unwrap_or(0..0)
    }

    fn line_of<T>(&self, value: &Spanned<T>) -> usize {
        self.text.get(..value.span().start).map_or(0, |before| before.matches('\n').count()) + 1
    }
}

fn duration_of(value: &Spanned<DurationText>) -> Duration {
    value.get_ref().0
}

fn size_of(value: &Spanned<SizeText>) -> u64 {
    value.get_ref().0
}

fn human(duration: Duration) -> String {
    format_duration(duration)
}

fn list<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.into_iter().collect();
    if names.is_empty() { "(none)".to_string() } else { names.join(", ") }
}

/// An optional duration with its default, refusing zero where zero would make the simulation spin
/// or divide by nothing.
fn positive(
    ctx: &Ctx,
    value: &Option<Spanned<DurationText>>,
    default: Duration,
    key: &str,
) -> Result<Duration> {
    match value {
        Some(value) if duration_of(value).is_zero() => {
            Err(ctx.at(value, format!("`{key}` must be longer than zero")))
        }
        Some(value) => Ok(duration_of(value)),
        None => Ok(default),
    }
}

fn at_most(
    ctx: &Ctx,
    value: &Option<Spanned<DurationText>>,
    max: Duration,
    key: &str,
    why: &str,
) -> Result<()> {
    match value {
        Some(value) if duration_of(value) > max => Err(ctx.at(
            value,
            format!(
                "`{key}` of {} is absurd: it must be at most {} ({why})",
                human(duration_of(value)),
                human(max)
            ),
        )),
        _ => Ok(()),
    }
}

/// Names end up in fault targets, the history and report file names, so they are kept to characters
/// that need no quoting anywhere.
fn check_name(ctx: &Ctx, name: &Spanned<String>, what: &str) -> Result<String> {
    let text = name.get_ref();
    if text.is_empty() {
        return Err(ctx.at(name, format!("{what} name cannot be empty")));
    }
    if let Some(bad) = text.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))) {
        return Err(ctx.at(
            name,
            format!(
                "{what} name `{text}` contains {bad:?}; names may use only letters, digits, `-`, `_` and `.`"
            ),
        ));
    }
    Ok(text.clone())
}

/// Everything a fault or nemesis check needs to know about the rest of the scenario.
struct World<'a> {
    duration: Duration,
    quiesce: Duration,
    networks: &'a [NetworkDef],
    hosts: &'a [HostDef],
    databases: &'a [DatabaseDef],
    cluster: &'a ClusterSpec,
    luns: &'a [LunDef],
    array: Option<&'a str>,
    ha: Option<&'a HaSpec>,
}

impl World<'_> {
    fn host(&self, name: &str) -> Option<&HostDef> {
        self.hosts.iter().find(|host| host.name == name)
    }

    fn database(&self, name: &str) -> Option<&DatabaseDef> {
        self.databases.iter().find(|database| database.name == name)
    }

    fn host_names(&self) -> String {
        list(self.hosts.iter().map(|host| host.name.as_str()))
    }

    fn database_names(&self) -> String {
        list(self.databases.iter().map(|database| database.name.as_str()))
    }

    fn switches(&self) -> Vec<&str> {
        let mut switches: Vec<&str> = Vec::new();
        for switch in self.networks.iter().filter_map(|network| network.spec.switch.as_deref()) {
            if !switches.contains(&switch) {
                switches.push(switch);
            }
        }
        switches
    }

    fn quiesce_start(&self) -> Duration {
        self.duration.saturating_sub(self.quiesce)
    }

    /// The hosts a host-like target may resolve to at fault time.
    fn candidates(&self, target: &Target) -> Vec<&HostDef> {
        let copies_of = |database: Option<&DatabaseDef>| -> Vec<&HostDef> {
            database.map_or_else(Vec::new, |database| {
                database.copies.iter().filter_map(|copy| self.host(copy)).collect()
            })
        };
        match target {
            Target::Active | Target::Passive => copies_of(self.databases.first()),
            Target::OwnerOf(database) | Target::PassiveOf(database) => copies_of(self.database(database)),
            Target::Witness => {
                self.cluster.witness.as_deref().and_then(|witness| self.host(witness)).into_iter().collect()
            }
            Target::Host(host) => self.host(host).into_iter().collect(),
            Target::Switch(_) | Target::All => Vec::new(),
        }
    }
}

pub(crate) fn validate(path: &Path, text: &str, file: ScenarioFile) -> Result<Scenario> {
    let ctx = Ctx { path, text };
    let spans = limits::Spans::of(&file);
    let name = file.name.get_ref().trim().to_string();
    if name.is_empty() {
        return Err(ctx.at(&file.name, "scenario `name` cannot be empty"));
    }
    let duration = duration_of(&file.duration);
    if duration.is_zero() {
        return Err(ctx.at(&file.duration, "`duration` must be longer than zero"));
    }
    if duration > MAX_RUN {
        return Err(ctx.at(
            &file.duration,
            format!(
                "`duration` of {} is absurd: a run may simulate at most {} (longer is almost always a unit slip)",
                human(duration),
                human(MAX_RUN)
            ),
        ));
    }
    let tier = file.tier.as_ref().map_or(Tier::Fast, |tier| *tier.get_ref());
    let expect = validate_expect(&ctx, &file)?;
    let tolerate = validate_tolerate(&ctx, &file.tolerate, expect)?;

    let networks = validate_networks(&ctx, &file.network)?;
    let hosts = validate_hosts(&ctx, &file.host, &networks)?;
    let cluster_file = file.cluster.unwrap_or_default();
    let disk_witness_span = cluster_file.disk_witness.clone();
    let cluster = validate_cluster(&ctx, cluster_file, &hosts)?;
    check_heartbeat_phases(&ctx, &file.host, &cluster)?;
    check_topology(&ctx, &cluster, &hosts, &file.database)?;
    let (storage, luns) = storage::validate_storage(
        &ctx,
        file.storage.as_ref(),
        &file.lun,
        &file.host,
        &hosts,
        &cluster,
        disk_witness_span.as_ref(),
    )?;
    dns::check_dns_host(&ctx, &file.host, &hosts, storage.as_ref())?;
    let mut ha = ha::validate_ha(&ctx, file.ha.as_ref(), &file.host, &hosts, &networks)?;
    let databases = validate_databases(&ctx, &file.database, &hosts, &cluster, &luns)?;
    ha::check_vm_disks(&ctx, file.ha.as_ref(), &file.lun, &luns, &cluster, &databases, ha.as_mut())?;
    let transport = validate_transport(&ctx, file.transport.unwrap_or_default())?;
    let checks = validate_checks(&ctx, &file.checks, &file.duration)?;
    let workload =
        validate_workload(&ctx, file.workload.unwrap_or_default(), &file.duration, &file.checks, &checks)?;
    let world = World {
        duration,
        quiesce: checks.quiesce,
        networks: &networks,
        hosts: &hosts,
        databases: &databases,
        cluster: &cluster,
        luns: &luns,
        array: storage.as_ref().map(|storage| storage.array.as_str()),
        ha: ha.as_ref(),
    };
    let mut faults = Vec::with_capacity(file.fault.len());
    for fault in &file.fault {
        faults.push(validate_fault(&ctx, &world, fault)?);
    }
    ha::check_reverts_follow_snapshots(&ctx, &file.fault, &faults)?;
    // A stable sort keeps same-instant faults in file order, which the author may rely on.
    faults.sort_by_key(|fault| fault.at);
    let nemesis = match &file.nemesis {
        Some(nemesis) => Some(nemesis::validate_nemesis(&ctx, &world, nemesis, workload.start)?),
        None => None,
    };

    let scenario = Scenario {
        path: path.to_path_buf(),
        sha256: hex::encode(Sha256::digest(text.as_bytes())),
        name,
        description: file.description.trim().to_string(),
        tier,
        duration,
        expect,
        tolerate,
        cluster,
        networks,
        hosts,
        databases,
        storage,
        luns,
        transport,
        workload,
        faults,
        nemesis,
        ha,
        checks,
    };
    limits::check(&ctx, &spans, &scenario)?;
    Ok(scenario)
}

fn violation_names() -> String {
    list(ViolationKind::ALL.iter().map(|kind| kind.as_str()))
}

fn validate_expect(ctx: &Ctx, file: &ScenarioFile) -> Result<Option<ViolationKind>> {
    let hazard = file.tier.as_ref().filter(|tier| *tier.get_ref() == Tier::Hazard);
    let Some(expect) = &file.expect else {
        return match hazard {
            Some(tier) => Err(ctx.at(
                tier,
                format!(
                    "tier \"hazard\" needs `expect`: a hazard scenario must name the violation drill has to find \
                     (one of {})",
                    violation_names()
                ),
            )),
            None => Ok(None),
        };
    };
    if expect.get_ref() == "pass" {
        return match hazard {
            Some(_) => {
                Err(ctx.at(expect, "a hazard scenario cannot expect `pass`; name the violation it provokes"))
            }
            None => Ok(None),
        };
    }
    match ViolationKind::parse(expect.get_ref()) {
        Some(kind) => Ok(Some(kind)),
        None => Err(ctx.at(
            expect,
            format!(
                "unknown violation kind `{}` in `expect`; expected `pass` or one of {}",
                expect.get_ref(),
                violation_names()
            ),
        )),
    }
}

fn validate_tolerate(
    ctx: &Ctx,
    entries: &[Spanned<String>],
    expect: Option<ViolationKind>,
) -> Result<Vec<ViolationKind>> {
    let mut tolerate = Vec::with_capacity(entries.len());
    for entry in entries {
        let Some(kind) = ViolationKind::parse(entry.get_ref()) else {
            return Err(ctx.at(
                entry,
                format!(
                    "unknown violation kind `{}` in `tolerate`; expected one of {}",
                    entry.get_ref(),
                    violation_names()
                ),
            ));
        };
        if tolerate.contains(&kind) {
            return Err(ctx.at(entry, format!("`{kind}` is listed twice in `tolerate`")));
        }
        if expect == Some(kind) {
            return Err(ctx.at(
                entry,
                format!("`{kind}` is already the expected violation; it cannot also be tolerated"),
            ));
        }
        tolerate.push(kind);
    }
    Ok(tolerate)
}

fn validate_networks(ctx: &Ctx, entries: &[NetworkFile]) -> Result<Vec<NetworkDef>> {
    let mut networks: Vec<NetworkDef> = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        let name = check_name(ctx, &entry.name, "network")?;
        if let Some(first) = entries.iter().take(index).find(|other| other.name.get_ref() == &name) {
            return Err(ctx.at(
                &entry.name,
                format!("duplicate network name `{name}`; the first is at line {}", ctx.line_of(&first.name)),
            ));
        }
        at_most(ctx, &entry.latency, HOUR, "latency", "even a satellite hop is under a second")?;
        at_most(ctx, &entry.jitter, HOUR, "jitter", "even a satellite hop is under a second")?;
        if let Some(bandwidth) = entry.bandwidth.as_ref().filter(|bandwidth| bandwidth.get_ref().0 == 0) {
            return Err(
                ctx.at(bandwidth, "`bandwidth` must be above zero; cut the network with a fault instead")
            );
        }
        if let Some(mtu) = entry.mtu_bytes.as_ref().filter(|mtu| !(68..=65_535).contains(mtu.get_ref())) {
            return Err(ctx.at(
                mtu,
                format!("`mtu_bytes` of {} is outside 68..=65535, the range IPv4 allows", mtu.get_ref()),
            ));
        }
        if let Some(loss) =
            entry.loss_probability.as_ref().filter(|loss| !(0.0..=1.0).contains(loss.get_ref()))
        {
            return Err(ctx.at(
                loss,
                format!("`loss_probability` of {} is not a probability from 0 to 1", loss.get_ref()),
            ));
        }
        let switch = match &entry.switch {
            Some(switch) => Some(check_name(ctx, switch, "switch")?),
            None => None,
        };
        // The fabric's own type, starting from its defaults for the kind of network (written once,
        // in `NetworkSpec::lan` and `NetworkSpec::wan`).
        let kind = entry.kind.unwrap_or(NetworkKind::Lan);
        let defaults = match kind {
            NetworkKind::Lan => NetworkSpec::lan(name.as_str()),
            NetworkKind::Wan => NetworkSpec::wan(name.as_str()),
        };
        let spec = NetworkSpec {
            latency: entry.latency.as_ref().map_or(defaults.latency, duration_of),
            jitter: entry.jitter.as_ref().map_or(defaults.jitter, duration_of),
            bandwidth_bits_per_second: entry
                .bandwidth
                .as_ref()
                .map_or(defaults.bandwidth_bits_per_second, |bandwidth| bandwidth.get_ref().0),
            mtu_bytes: entry.mtu_bytes.as_ref().map_or(defaults.mtu_bytes, |mtu| *mtu.get_ref()),
            loss_probability: entry
                .loss_probability
                .as_ref()
                .map_or(defaults.loss_probability, |loss| *loss.get_ref()),
            switch,
            ..defaults
        };
        networks.push(NetworkDef { name, kind, spec });
    }
    Ok(networks)
}

fn validate_hosts(ctx: &Ctx, entries: &[HostFile], networks: &[NetworkDef]) -> Result<Vec<HostDef>> {
    let network_names = || list(networks.iter().map(|network| network.name.as_str()));
    let mut hosts: Vec<HostDef> = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        let name = check_name(ctx, &entry.name, "host")?;
        if RESERVED_HOST_NAMES.contains(&name.as_str()) {
            return Err(ctx.at(
                &entry.name,
                format!("`{name}` is a fault target role and cannot be a host name; choose another name"),
            ));
        }
        if let Some(first) = entries.iter().take(index).find(|other| other.name.get_ref() == &name) {
            return Err(ctx.at(
                &entry.name,
                format!("duplicate host name `{name}`; the first is at line {}", ctx.line_of(&first.name)),
            ));
        }
        if entry.networks.is_empty() {
            return Err(ctx.at(
                &entry.name,
                format!(
                    "host `{name}` has no `networks`; a {} host needs a NIC on at least one network (networks are: {})",
                    entry.role.get_ref().as_str(),
                    network_names()
                ),
            ));
        }
        let mut nics: Vec<String> = Vec::with_capacity(entry.networks.len());
        for network in &entry.networks {
            if !networks.iter().any(|known| &known.name == network.get_ref()) {
                return Err(ctx.at(
                    network,
                    format!(
                        "unknown network `{}` for host `{name}`; networks are: {}",
                        network.get_ref(),
                        network_names()
                    ),
                ));
            }
            if nics.contains(network.get_ref()) {
                return Err(
                    ctx.at(network, format!("host `{name}` lists network `{}` twice", network.get_ref()))
                );
            }
            nics.push(network.get_ref().clone());
        }
        let rack = match &entry.rack {
            Some(rack) => Some(check_name(ctx, rack, "rack")?),
            None => None,
        };
        let clock_offset_nanos = entry.clock_offset.as_ref().map_or(0, |offset| offset.get_ref().0);
        if let Some(offset) = &entry.clock_offset
            && offset.get_ref().0.unsigned_abs() > limits::MAX_CLOCK_SKEW.as_nanos() as u64
        {
            return Err(ctx.at(
                offset,
                format!(
                    "`clock_offset` is out of range: it must be within ±{} (drill keeps node clocks on a base \
                     11.6 days before time zero)",
                    human(limits::MAX_CLOCK_SKEW)
                ),
            ));
        }
        let clock_drift_ppm = entry.clock_drift_ppm.as_ref().map_or(0.0, |drift| *drift.get_ref());
        if let Some(drift) =
            entry.clock_drift_ppm.as_ref().filter(|drift| !(-1000.0..=1000.0).contains(drift.get_ref()))
        {
            return Err(ctx.at(
                drift,
                format!(
                    "`clock_drift_ppm` of {} is outside -1000..=1000; real clocks drift tens of ppm",
                    drift.get_ref()
                ),
            ));
        }
        hosts.push(HostDef {
            name,
            role: *entry.role.get_ref(),
            networks: nics,
            rack,
            clock_offset_nanos,
            clock_drift_ppm,
            receive_ring: receive_ring(ctx, entry)?,
            heartbeat_phase: heartbeat_phase(ctx, entry)?,
            runs_on: entry.runs_on.as_ref().map(|name| name.get_ref().clone()),
            boot_time: ha::boot_time(ctx, entry)?,
        });
    }
    Ok(hosts)
}

/// A host's receive rings: `receive_ring_packets` per NIC (default 256) and what a full ring drops.
fn receive_ring(ctx: &Ctx, entry: &HostFile) -> Result<emulators::host::RingConfig> {
    /// A paused host holds at most this many packets per NIC: far beyond any real driver's ring
    /// (e1000 allows 4,096), and small enough that a resume never floods the run.
    const MAX_RING_PACKETS: i64 = 65_536;
    let mut ring = emulators::host::RingConfig::default();
    if let Some(packets) = &entry.receive_ring_packets {
        if !(0..=MAX_RING_PACKETS).contains(packets.get_ref()) {
            return Err(ctx.at(
                packets,
                format!(
                    "`receive_ring_packets` of {} is outside 0..={MAX_RING_PACKETS} (real NICs have 64 to 4,096 receive descriptors)",
                    packets.get_ref()
                ),
            ));
        }
        ring.packets = *packets.get_ref() as u32;
    }
    if let Some(overflow) = entry.receive_ring_overflow {
        ring.overflow = overflow;
    }
    Ok(ring)
}

/// A mailbox host's `heartbeat_phase` (default 0); only mailbox hosts send cluster heartbeats. Checked
/// against the cluster's `heartbeat_interval` by [`check_heartbeat_phases`].
fn heartbeat_phase(ctx: &Ctx, entry: &HostFile) -> Result<Duration> {
    let Some(phase) = &entry.heartbeat_phase else { return Ok(Duration::ZERO) };
    let role = *entry.role.get_ref();
    if role != HostRole::Mailbox {
        return Err(ctx.at(
            phase,
            format!(
                "`heartbeat_phase` applies only to mailbox hosts: `{}` is a {} host and sends no cluster heartbeats",
                entry.name.get_ref(),
                role.as_str()
            ),
        ));
    }
    Ok(duration_of(phase))
}

/// Every heartbeat phase is shorter than the heartbeat interval: a phase offsets a node's beat within
/// one interval, and a longer one would only delay its first heartbeat past a peer's failure timeout.
fn check_heartbeat_phases(ctx: &Ctx, entries: &[HostFile], cluster: &ClusterSpec) -> Result<()> {
    for phase in entries.iter().filter_map(|entry| entry.heartbeat_phase.as_ref()) {
        if duration_of(phase) >= cluster.settings.heartbeat_interval {
            return Err(ctx.at(
                phase,
                format!(
                    "`heartbeat_phase` of {} must be shorter than `heartbeat_interval` ({}): the phase offsets \
                     the node's heartbeats within one interval",
                    human(duration_of(phase)),
                    human(cluster.settings.heartbeat_interval)
                ),
            ));
        }
    }
    Ok(())
}

fn validate_cluster(ctx: &Ctx, file: ClusterFile, hosts: &[HostDef]) -> Result<ClusterSpec> {
    // Every default is the failover logic's own (`ClusterSettings::default`), written once there.
    let defaults = ClusterSettings::default();
    let kind = file.kind.as_ref().map_or(ClusterKind::Ccr, |kind| *kind.get_ref());
    let quorum = file.quorum.as_ref().map_or(defaults.quorum, |quorum| *quorum.get_ref());
    let witness_capable =
        || list(hosts.iter().filter(|host| host.role != HostRole::Mailbox).map(|host| host.name.as_str()));
    let witness = match (quorum, &file.witness) {
        (QuorumModel::NodeAndFileShareMajority, None) => {
            let (span, which) = match &file.quorum {
                Some(quorum) => (quorum.span(), "quorum = \"node-and-file-share-majority\""),
                None => (ctx.table("cluster", 0), "the default quorum, node-and-file-share-majority,"),
            };
            return Err(ctx.at_span(
                span,
                format!(
                    "{which} needs `witness`, the host serving the file share witness (witness or hub hosts: {})",
                    witness_capable()
                ),
            ));
        }
        (QuorumModel::NodeAndFileShareMajority, Some(witness)) => {
            let Some(host) = hosts.iter().find(|host| &host.name == witness.get_ref()) else {
                return Err(ctx.at(
                    witness,
                    format!(
                        "unknown host `{}` as `witness`; witness or hub hosts are: {}",
                        witness.get_ref(),
                        witness_capable()
                    ),
                ));
            };
            if host.role == HostRole::Mailbox {
                return Err(ctx.at(
                    witness,
                    format!(
                        "`{}` is a mailbox host; the file share witness must live outside the cluster nodes, \
                         on a witness or hub host",
                        host.name
                    ),
                ));
            }
            Some(host.name.clone())
        }
        (
            QuorumModel::NodeMajority | QuorumModel::NodeAndDiskMajority | QuorumModel::Disabled,
            Some(witness),
        ) => {
            let model = match quorum {
                QuorumModel::Disabled => "disabled",
                QuorumModel::NodeAndDiskMajority => "node-and-disk-majority (its witness is `disk_witness`)",
                _ => "node-majority",
            };
            return Err(ctx.at(
                witness,
                format!("`witness` applies only to quorum = \"node-and-file-share-majority\"; this cluster's quorum is {model}"),
            ));
        }
        (QuorumModel::NodeMajority | QuorumModel::NodeAndDiskMajority | QuorumModel::Disabled, None) => None,
    };
    let disk_witness = match (quorum, &file.disk_witness) {
        (QuorumModel::NodeAndDiskMajority, Some(lun)) => Some(lun.get_ref().clone()),
        (QuorumModel::NodeAndDiskMajority, None) => {
            let span = file.quorum.as_ref().map_or_else(|| ctx.table("cluster", 0), Spanned::span);
            return Err(ctx.at_span(
                span,
                "quorum = \"node-and-disk-majority\" needs `disk_witness`, the [[lun]] whose reservation is the witness vote",
            ));
        }
        (_, Some(lun)) => {
            return Err(ctx.at(lun, "`disk_witness` applies only to quorum = \"node-and-disk-majority\""));
        }
        (_, None) => None,
    };
    if kind == ClusterKind::Ccr
        && let Some(fencing) = &file.disk_fencing
    {
        return Err(ctx.at(
            fencing,
            "`disk_fencing` applies only to kind = \"scc\": a ccr cluster has no shared disks",
        ));
    }
    let arbitration_delay =
        positive(ctx, &file.arbitration_delay, defaults.arbitration_delay, "arbitration_delay")?;
    at_most(
        ctx,
        &file.arbitration_delay,
        MINUTE,
        "arbitration_delay",
        "Windows disk arbitration takes seconds",
    )?;
    let defense_interval =
        positive(ctx, &file.defense_interval, defaults.defense_interval, "defense_interval")?;
    let takeover_margin = file.takeover_margin.as_ref().map_or(defaults.takeover_margin, duration_of);
    // A disk witness holder counts its vote for `arbitration_delay - takeover_margin` after each check;
    // with no time left it could never count it at all.
    if takeover_margin >= arbitration_delay
        && let Some(value) = file.arbitration_delay.as_ref().or(file.takeover_margin.as_ref())
    {
        return Err(ctx.at(
            value,
            format!(
                "`arbitration_delay` ({}) must exceed `takeover_margin` ({}), or a challenger could take a disk                  before its live owner's next check",
                human(arbitration_delay),
                human(takeover_margin)
            ),
        ));
    }
    if defense_interval >= arbitration_delay
        && let Some(value) = file.defense_interval.as_ref()
    {
        return Err(ctx.at(
            value,
            format!(
                "`defense_interval` ({}) must be shorter than `arbitration_delay` ({}) so a live owner defends                  before a challenger takes its disk",
                human(defense_interval),
                human(arbitration_delay)
            ),
        ));
    }
    let heartbeat_interval =
        positive(ctx, &file.heartbeat_interval, defaults.heartbeat_interval, "heartbeat_interval")?;
    at_most(ctx, &file.heartbeat_interval, HOUR, "heartbeat_interval", "WSFC allows at most 4s")?;
    let heartbeat_threshold = file
        .heartbeat_threshold
        .as_ref()
        .map_or(defaults.heartbeat_threshold, |threshold| *threshold.get_ref());
    if let Some(threshold) =
        file.heartbeat_threshold.as_ref().filter(|threshold| !(1..=120).contains(threshold.get_ref()))
    {
        return Err(ctx.at(
            threshold,
            format!(
                "`heartbeat_threshold` of {} is outside 1..=120 (WSFC allows 3 to 120 missed heartbeats)",
                threshold.get_ref()
            ),
        ));
    }
    let witness_arbitration_delay =
        file.witness_arbitration_delay.as_ref().map_or(defaults.witness_arbitration_delay, duration_of);
    at_most(
        ctx,
        &file.witness_arbitration_delay,
        MINUTE,
        "witness_arbitration_delay",
        "FSW ArbitrationDelay is 0 to 60s",
    )?;
    let inspect_attempts =
        file.inspect_attempts.as_ref().map_or(defaults.inspect_attempts, |attempts| *attempts.get_ref());
    if let Some(attempts) = file.inspect_attempts.as_ref().filter(|attempts| *attempts.get_ref() == 0) {
        return Err(
            ctx.at(attempts, "`inspect_attempts` must be at least 1: every log is copied and inspected once")
        );
    }
    let log_size_bytes = match &file.log_size {
        Some(size) if size_of(size) == 0 || size_of(size) > MAX_SIZE_BYTES => {
            return Err(
                ctx.at(size, "`log_size` must be above zero and at most 1GB (Exchange 2007 logs are 1MB)")
            );
        }
        Some(size) => size_of(size),
        None => defaults.log_size_bytes,
    };
    let settings = ClusterSettings {
        quorum,
        heartbeat_interval,
        heartbeat_threshold,
        failover: file.failover.unwrap_or(defaults.failover),
        mount_dial: file.mount_dial.unwrap_or(defaults.mount_dial),
        local_restart_attempts: file.local_restart_attempts.unwrap_or(defaults.local_restart_attempts),
        witness_arbitration_delay,
        witness_lease: positive(ctx, &file.witness_lease, defaults.witness_lease, "witness_lease")?,
        takeover_margin,
        inspect_attempts,
        log_size_bytes,
        log_roll_idle: positive(ctx, &file.log_roll_idle, defaults.log_roll_idle, "log_roll_idle")?,
        replay_time_per_log: file
            .replay_time_per_log
            .as_ref()
            .map_or(defaults.replay_time_per_log, duration_of),
        health_check_interval: positive(
            ctx,
            &file.health_check_interval,
            defaults.health_check_interval,
            "health_check_interval",
        )?,
        disk_fencing: file.disk_fencing.as_ref().map_or(defaults.disk_fencing, |fencing| *fencing.get_ref()),
        arbitration_delay,
        defense_interval,
        data_path_check_interval: positive(
            ctx,
            &file.data_path_check_interval,
            defaults.data_path_check_interval,
            "data_path_check_interval",
        )?,
        data_path_timeout: positive(
            ctx,
            &file.data_path_timeout,
            defaults.data_path_timeout,
            "data_path_timeout",
        )?,
        storage_request_timeout: positive(
            ctx,
            &file.storage_request_timeout,
            defaults.storage_request_timeout,
            "storage_request_timeout",
        )?,
        ..defaults
    };
    Ok(ClusterSpec {
        kind,
        witness,
        disk_witness,
        mount_time: file.mount_time.as_ref().map_or(2 * SECOND, duration_of),
        resource_online_time: file.resource_online_time.as_ref().map_or(SECOND, duration_of),
        settings,
    })
}

/// The shape a cluster needs: two mailbox nodes, a hub to submit mail, a database, and for a shared-disk
/// (scc) cluster a SAN array.
fn check_topology(
    ctx: &Ctx,
    cluster: &ClusterSpec,
    hosts: &[HostDef],
    databases: &[DatabaseFile],
) -> Result<()> {
    let kind = match cluster.kind {
        ClusterKind::Ccr => "ccr",
        ClusterKind::Scc => "scc",
    };
    let arrays = hosts.iter().filter(|host| host.role == HostRole::Array).count();
    if cluster.kind == ClusterKind::Scc && arrays == 0 {
        return Err(ctx.at_span(
            ctx.table("cluster", 0),
            "an scc cluster keeps its databases on shared LUNs: add a host with role = \"array\", a [storage] table and [[lun]]s",
        ));
    }
    let mailboxes: Vec<&str> =
        hosts.iter().filter(|host| host.role == HostRole::Mailbox).map(|host| host.name.as_str()).collect();
    if mailboxes.len() < 2 {
        return Err(ctx.at_span(
            ctx.table("host", 0),
            format!(
                "a {kind} cluster needs at least two mailbox hosts (role = \"mailbox\"); found {}: {}",
                mailboxes.len(),
                list(mailboxes.iter().copied())
            ),
        ));
    }
    if !hosts.iter().any(|host| host.role == HostRole::Hub) {
        return Err(ctx.at_span(
            ctx.table("host", 0),
            format!("a {kind} cluster needs at least one hub host (role = \"hub\") to submit mail and keep the dumpster"),
        ));
    }
    if databases.is_empty() {
        return Err(ctx.at_span(
            ctx.table("cluster", 0),
            format!("a {kind} cluster needs at least one [[database]] with its copies on the mailbox hosts"),
        ));
    }
    Ok(())
}

fn validate_databases(
    ctx: &Ctx,
    entries: &[DatabaseFile],
    hosts: &[HostDef],
    cluster: &ClusterSpec,
    luns: &[LunDef],
) -> Result<Vec<DatabaseDef>> {
    let mailboxes =
        || list(hosts.iter().filter(|host| host.role == HostRole::Mailbox).map(|host| host.name.as_str()));
    let mut databases = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        let name = check_name(ctx, &entry.name, "database")?;
        if let Some(first) = entries.iter().take(index).find(|other| other.name.get_ref() == &name) {
            return Err(ctx.at(
                &entry.name,
                format!(
                    "duplicate database name `{name}`; the first is at line {}",
                    ctx.line_of(&first.name)
                ),
            ));
        }
        if entry.copies.get_ref().is_empty() {
            return Err(ctx.at(
                &entry.copies,
                format!("database `{name}` needs at least one copy; mailbox hosts are: {}", mailboxes()),
            ));
        }
        let mut copies: Vec<String> = Vec::with_capacity(entry.copies.get_ref().len());
        for copy in entry.copies.get_ref() {
            match hosts.iter().find(|host| &host.name == copy.get_ref()) {
                None => {
                    return Err(ctx.at(
                        copy,
                        format!(
                            "unknown host `{}` in copies of `{name}`; mailbox hosts are: {}",
                            copy.get_ref(),
                            mailboxes()
                        ),
                    ));
                }
                Some(host) if host.role != HostRole::Mailbox => {
                    return Err(ctx.at(
                        copy,
                        format!(
                            "`{}` is a {} host; copies live on mailbox hosts: {}",
                            host.name,
                            host.role.as_str(),
                            mailboxes()
                        ),
                    ));
                }
                Some(_) => {}
            }
            if copies.contains(copy.get_ref()) {
                return Err(ctx.at(copy, format!("`{}` holds a copy of `{name}` twice", copy.get_ref())));
            }
            copies.push(copy.get_ref().clone());
        }
        let disks = validate_disks(ctx, entry, &name, cluster, luns)?;
        let resources = if entry.resource.is_empty() {
            default_resources(&disks)
        } else {
            if let Some(listed) = &entry.disks {
                return Err(ctx.at(
                    listed,
                    "`disks` builds the default resource chain; with [[database.resource]] tables, give each disk \
                     as a resource with kind = \"physical-disk\" and `lun` instead",
                ));
            }
            validate_resources(ctx, &name, &entry.resource, luns)?
        };
        let database = DatabaseDef { name, copies, resources, name_ttl: name_ttl(ctx, entry)? };
        match (cluster.kind, database.disks().is_empty()) {
            (ClusterKind::Scc, true) => {
                return Err(ctx.at(
                    &entry.name,
                    format!(
                        "database `{}` of an scc cluster needs its storage: `disks = [...]` naming [[lun]]s, or a \
                         physical-disk resource",
                        database.name
                    ),
                ));
            }
            (ClusterKind::Ccr, false) => {
                return Err(ctx.at(
                    &entry.name,
                    format!(
                        "database `{}` has physical disks, but a ccr cluster keeps a copy on each node; use kind = \"scc\"",
                        database.name
                    ),
                ));
            }
            _ => {}
        }
        for lun in database.disks() {
            if cluster.disk_witness.as_deref() == Some(lun) {
                return Err(ctx.at(
                    &entry.name,
                    format!(
                        "database `{}` uses LUN `{lun}`, which is the cluster's disk witness",
                        database.name
                    ),
                ));
            }
            if let Some(other) = databases.iter().find(|other: &&DatabaseDef| other.disks().contains(&lun)) {
                return Err(ctx.at(
                    &entry.name,
                    format!(
                        "LUN `{lun}` belongs to database `{}` already; a LUN holds one group",
                        other.name
                    ),
                ));
            }
        }
        databases.push(database);
    }
    Ok(databases)
}

/// A database's `name_ttl`: default 300 s (Exchange's standby guidance, HostRecordTTL = 300; domain.md
/// pattern 10), whole seconds as DNS counts them, zero (no caching) to one day.
fn name_ttl(ctx: &Ctx, entry: &DatabaseFile) -> Result<Duration> {
    let Some(ttl) = &entry.name_ttl else { return Ok(5 * MINUTE) };
    let value = duration_of(ttl);
    if value.subsec_nanos() != 0 {
        return Err(ctx.at(
            ttl,
            format!(
                "`name_ttl` of {} is not a whole number of seconds: DNS counts TTLs in seconds",
                human(value)
            ),
        ));
    }
    if value > DAY {
        return Err(ctx.at(
            ttl,
            format!(
                "`name_ttl` of {} is absurd: it must be at most {} (the Windows DNS client caches an answer \
                 for at most a day, MaxCacheTtl; WSFC's default HostRecordTTL is 20m)",
                human(value),
                human(DAY)
            ),
        ));
    }
    Ok(value)
}

/// The `disks` list of a database: LUN names, each known and listed once.
fn validate_disks(
    ctx: &Ctx,
    entry: &DatabaseFile,
    name: &str,
    cluster: &ClusterSpec,
    luns: &[LunDef],
) -> Result<Vec<String>> {
    let Some(listed) = &entry.disks else { return Ok(Vec::new()) };
    if cluster.kind != ClusterKind::Scc {
        return Err(
            ctx.at(listed, "`disks` applies only to kind = \"scc\": a ccr database has a copy per node")
        );
    }
    if listed.get_ref().is_empty() {
        return Err(ctx.at(listed, format!("database `{name}` lists no disks; name at least one [[lun]]")));
    }
    let mut disks: Vec<String> = Vec::with_capacity(listed.get_ref().len());
    for lun in listed.get_ref() {
        if !luns.iter().any(|known| &known.name == lun.get_ref()) {
            return Err(ctx.at(
                lun,
                format!(
                    "unknown LUN `{}` in disks of `{name}`; LUNs are: {}",
                    lun.get_ref(),
                    list(luns.iter().map(|known| known.name.as_str()))
                ),
            ));
        }
        if disks.contains(lun.get_ref()) {
            return Err(ctx.at(lun, format!("`{}` is listed twice", lun.get_ref())));
        }
        disks.push(lun.get_ref().clone());
    }
    Ok(disks)
}

/// The Exchange clustered mailbox server chain: IP address, then network name, then the database; a
/// shared-disk group starts with its disks (`disk-<lun>`), and the database depends on every one.
fn default_resources(disks: &[String]) -> Vec<ResourceDef> {
    let resource = |name: &str, kind, depends_on: Vec<String>, lun: Option<String>| ResourceDef {
        name: name.to_string(),
        kind,
        depends_on,
        online_time: None,
        lun,
    };
    let mut resources: Vec<ResourceDef> = disks
        .iter()
        .map(|lun| {
            resource(&format!("disk-{lun}"), ResourceKind::PhysicalDisk, Vec::new(), Some(lun.clone()))
        })
        .collect();
    let mut database_depends_on = vec!["name".to_string()];
    database_depends_on.extend(disks.iter().map(|lun| format!("disk-{lun}")));
    resources.push(resource("ip", ResourceKind::Ip, Vec::new(), None));
    resources.push(resource("name", ResourceKind::NetworkName, vec!["ip".to_string()], None));
    resources.push(resource("database", ResourceKind::Database, database_depends_on, None));
    resources
}

fn validate_resources(
    ctx: &Ctx,
    database: &str,
    entries: &[ResourceFile],
    luns: &[LunDef],
) -> Result<Vec<ResourceDef>> {
    let mut names: Vec<String> = Vec::with_capacity(entries.len());
    for entry in entries {
        let name = check_name(ctx, &entry.name, "resource")?;
        match (*entry.kind.get_ref(), &entry.lun) {
            (ResourceKind::PhysicalDisk, None) => {
                return Err(ctx.at(
                    &entry.kind,
                    format!("physical-disk resource `{name}` needs `lun`, the [[lun]] it brings online"),
                ));
            }
            (ResourceKind::PhysicalDisk, Some(lun)) => {
                if !luns.iter().any(|known| &known.name == lun.get_ref()) {
                    return Err(ctx.at(
                        lun,
                        format!(
                            "unknown LUN `{}` for resource `{name}`; LUNs are: {}",
                            lun.get_ref(),
                            list(luns.iter().map(|known| known.name.as_str()))
                        ),
                    ));
                }
            }
            (kind, Some(lun)) => {
                return Err(ctx.at(
                    lun,
                    format!("`lun` applies only to physical-disk resources; `{name}` is {kind:?}"),
                ));
            }
            (_, None) => {}
        }
        if names.contains(&name) {
            return Err(
                ctx.at(&entry.name, format!("duplicate resource name `{name}` in database `{database}`"))
            );
        }
        names.push(name);
    }
    let mut database_resources =
        entries.iter().filter(|entry| *entry.kind.get_ref() == ResourceKind::Database);
    match (database_resources.next(), database_resources.next()) {
        (None, _) => {
            let span = entries.first().map_or(0..0, |first| first.name.span());
            return Err(ctx.at_span(
                span,
                format!(
                    "database `{database}` has no resource of kind \"database\"; its group needs exactly one"
                ),
            ));
        }
        (Some(first), Some(second)) => {
            return Err(ctx.at(
                &second.kind,
                format!(
                    "database `{database}` has a second resource of kind \"database\" (`{}` after `{}`); it needs exactly one",
                    second.name.get_ref(),
                    first.name.get_ref()
                ),
            ));
        }
        (Some(_), None) => {}
    }
    let mut dependencies: Vec<Vec<usize>> = Vec::with_capacity(entries.len());
    for entry in entries {
        let mut indexes: Vec<usize> = Vec::with_capacity(entry.depends_on.len());
        for dependency in &entry.depends_on {
            let Some(index) = names.iter().position(|name| name == dependency.get_ref()) else {
                return Err(ctx.at(
                    dependency,
                    format!(
                        "unknown resource `{}` in depends_on; resources of `{database}` are: {}",
                        dependency.get_ref(),
                        list(names.iter().map(String::as_str))
                    ),
                ));
            };
            if indexes.contains(&index) {
                return Err(
                    ctx.at(dependency, format!("`{}` is listed twice in depends_on", dependency.get_ref()))
                );
            }
            indexes.push(index);
        }
        dependencies.push(indexes);
    }
    if let Some(cycle) = find_cycle(&dependencies) {
        let path: Vec<&str> =
            cycle.path.iter().filter_map(|&index| names.get(index).map(String::as_str)).collect();
        let closing = entries.get(cycle.from).and_then(|entry| entry.depends_on.get(cycle.edge));
        let span = closing.map_or(0..0, Spanned::span);
        return Err(ctx.at_span(
            span,
            format!(
                "resource dependency cycle in database `{database}`: {} (read `->` as \"depends on\")",
                path.join(" -> ")
            ),
        ));
    }
    Ok(entries
        .iter()
        .map(|entry| ResourceDef {
            name: entry.name.get_ref().clone(),
            kind: *entry.kind.get_ref(),
            depends_on: entry.depends_on.iter().map(|dependency| dependency.get_ref().clone()).collect(),
            online_time: entry.online_time.as_ref().map(duration_of),
            lun: entry.lun.as_ref().map(|lun| lun.get_ref().clone()),
        })
        .collect())
}

/// A dependency cycle: the resources along it (the first repeated at the end) and the edge that
/// closes it, as (resource index, position in its `depends_on`), which is where the error points.
#[derive(Debug, PartialEq, Eq)]
struct Cycle {
    path: Vec<usize>,
    from: usize,
    edge: usize,
}

/// Depth-first search in file order, iterative so a long chain cannot overflow the stack. Returns the
/// first cycle met, so the message is the same on every run.
fn find_cycle(dependencies: &[Vec<usize>]) -> Option<Cycle> {
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Mark {
        Unvisited,
        OnPath,
        Done,
    }
    let mut marks = vec![Mark::Unvisited; dependencies.len()];
    for root in 0..dependencies.len() {
        if marks.get(root) != Some(&Mark::Unvisited) {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        if let Some(mark) = marks.get_mut(root) {
            *mark = Mark::OnPath;
        }
        while let Some(&(node, edge)) = stack.last() {
            let next = dependencies.get(node).and_then(|edges| edges.get(edge)).copied();
            let Some(next) = next else {
                if let Some(mark) = marks.get_mut(node) {
                    *mark = Mark::Done;
                }
                stack.pop();
                continue;
            };
            if let Some(top) = stack.last_mut() {
                top.1 += 1;
            }
            match marks.get(next) {
                Some(Mark::OnPath) => {
                    let start = stack.iter().position(|&(on_path, _)| on_path == next).unwrap_or(0);
                    let mut path: Vec<usize> =
                        stack.get(start..).unwrap_or(&[]).iter().map(|&(on_path, _)| on_path).collect();
                    path.push(next);
                    return Some(Cycle { path, from: node, edge });
                }
                Some(Mark::Unvisited) => {
                    if let Some(mark) = marks.get_mut(next) {
                        *mark = Mark::OnPath;
                    }
                    stack.push((next, 0));
                }
                Some(Mark::Done) | None => {}
            }
        }
    }
    None
}

fn validate_transport(ctx: &Ctx, file: TransportFile) -> Result<HubConfig> {
    let defaults = HubConfig::default();
    let dumpster_size_bytes = match &file.dumpster_size {
        Some(size) if size_of(size) == 0 => {
            return Err(ctx.at(
                size,
                "`dumpster_size` must be above zero; to disable the dumpster write `dumpster = false`",
            ));
        }
        Some(size) if size_of(size) > MAX_SIZE_BYTES => {
            return Err(ctx.at(size, "`dumpster_size` is absurd: at most 1GB (Exchange's default is 18MB)"));
        }
        Some(size) => size_of(size),
        None => defaults.dumpster_size_bytes,
    };
    Ok(HubConfig {
        dumpster_enabled: file.dumpster.unwrap_or(defaults.dumpster_enabled),
        dumpster_size_bytes,
        dumpster_time: positive(ctx, &file.dumpster_time, defaults.dumpster_time, "dumpster_time")?,
        ..defaults
    })
}

fn validate_checks(ctx: &Ctx, file: &ChecksFile, run: &Spanned<DurationText>) -> Result<CheckSpec> {
    let duration = duration_of(run);
    if duration_of(&file.rto).is_zero() {
        return Err(ctx.at(&file.rto, "`rto` must be longer than zero"));
    }
    let quiesce = file.quiesce.as_ref().map_or(MINUTE, duration_of);
    if quiesce >= duration {
        let message = format!(
            "checks.quiesce ({}{}) must be shorter than the run's duration ({})",
            human(quiesce),
            if file.quiesce.is_none() { ", the default" } else { "" },
            human(duration)
        );
        return Err(match &file.quiesce {
            Some(quiesce) => ctx.at(quiesce, message),
            None => ctx.at(run, message),
        });
    }
    let expected_outage = match &file.expected_outage {
        None => None,
        Some(outage) => {
            let from = duration_of(&outage.from);
            if from >= duration {
                return Err(ctx.at(
                    &outage.from,
                    format!(
                        "expected outage starts at {}, at or after the end of the run ({})",
                        human(from),
                        human(duration)
                    ),
                ));
            }
            let to = outage.to.as_ref().map(duration_of);
            if let (Some(to_value), Some(to)) = (&outage.to, to) {
                if to <= from {
                    return Err(ctx.at(
                        to_value,
                        format!(
                            "expected outage ends at {}, not after it starts ({})",
                            human(to),
                            human(from)
                        ),
                    ));
                }
                if to > duration {
                    return Err(ctx.at(
                        to_value,
                        format!(
                            "expected outage ends at {}, after the end of the run ({}); leave `to` out to mean the end",
                            human(to),
                            human(duration)
                        ),
                    ));
                }
            }
            Some(OutageWindow { from, to })
        }
    };
    Ok(CheckSpec {
        rto: duration_of(&file.rto),
        max_lost_acked: file.max_lost_acked.unwrap_or(0),
        max_failovers: file.max_failovers,
        liveness_bound: positive(ctx, &file.liveness_bound, 3 * MINUTE, "liveness_bound")?,
        quiesce,
        expected_outage,
        reached: validate_reached(ctx, &file.reached)?,
    })
}

/// The reachability assertions, each named once: a repeated name asserts nothing more and is
/// most likely a slip for another one.
fn validate_reached(ctx: &Ctx, reached: &[Spanned<Reachable>]) -> Result<Vec<Reachable>> {
    let mut seen = Vec::new();
    for assertion in reached {
        let value = *assertion.get_ref();
        if seen.contains(&value) {
            return Err(ctx.at(assertion, format!("`{}` is named twice in `reached`", value.as_str())));
        }
        seen.push(value);
    }
    Ok(seen)
}

fn validate_workload(
    ctx: &Ctx,
    file: WorkloadFile,
    run: &Spanned<DurationText>,
    checks_file: &ChecksFile,
    checks: &CheckSpec,
) -> Result<WorkloadSpec> {
    let duration = duration_of(run);
    let rate_per_second = file.rate_per_second.as_ref().map_or(20.0, |rate| *rate.get_ref());
    if let Some(rate) =
        file.rate_per_second.as_ref().filter(|rate| !(0.0..=100_000.0).contains(rate.get_ref()))
    {
        return Err(ctx.at(
            rate,
            format!("`rate_per_second` of {} is outside 0..=100000 messages per second", rate.get_ref()),
        ));
    }
    let message_size_bytes = match &file.message_size {
        Some(size) if size_of(size) == 0 || size_of(size) > MAX_SIZE_BYTES => {
            return Err(ctx.at(size, "`message_size` must be above zero and at most 1GB"));
        }
        Some(size) => size_of(size),
        None => 20 << 10,
    };
    let start = file.start.as_ref().map_or(10 * SECOND, duration_of);
    if start >= duration {
        let message = format!(
            "the workload starts at {}, at or after the end of the run ({})",
            human(start),
            human(duration)
        );
        return Err(match &file.start {
            Some(value) => ctx.at(value, message),
            None => ctx.at(run, message),
        });
    }
    let stop = match &file.stop {
        Some(value) => {
            let stop = duration_of(value);
            if stop <= start {
                return Err(ctx.at(
                    value,
                    format!("workload stop ({}) must be after its start ({})", human(stop), human(start)),
                ));
            }
            if stop > duration {
                return Err(ctx.at(
                    value,
                    format!(
                        "workload stop ({}) is after the end of the run ({})",
                        human(stop),
                        human(duration)
                    ),
                ));
            }
            stop
        }
        None => {
            let stop = duration.saturating_sub(checks.quiesce);
            if stop <= start {
                let message = format!(
                    "the workload would stop at {} (duration - checks.quiesce), before it starts at {}",
                    human(stop),
                    human(start)
                );
                return Err(match (&file.start, &checks_file.quiesce) {
                    (Some(value), _) | (None, Some(value)) => ctx.at(value, message),
                    (None, None) => ctx.at(run, message),
                });
            }
            stop
        }
    };
    Ok(WorkloadSpec { rate_per_second, message_size_bytes, start, stop })
}

/// What each fault kind takes besides `at` and `kind`.
struct Rules {
    target: TargetRule,
    network: bool,
    peer: bool,
    value: Option<ValueRule>,
    database: bool,
    resource: bool,
    to: bool,
    /// `Some(true)`: `lun` is required; `Some(false)`: optional.
    lun: Option<bool>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum TargetRule {
    /// The SAN array host; optional, implied.
    Array,
    /// A host, directly or by role; required.
    Host,
    /// A switch named by some network; required.
    Switch,
    /// The file share witness; optional, implied.
    Witness,
    /// A rack named by some host's `rack`; required.
    Rack,
    /// Implied by the database (or everything, for heal-all); not written.
    Implied,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ValueRule {
    Probability,
    Duration,
    Bytes,
    SignedDuration,
}

fn rules(kind: FaultKind) -> Rules {
    let base = Rules {
        target: TargetRule::Host,
        network: false,
        peer: false,
        value: None,
        database: false,
        resource: false,
        to: false,
        lun: None,
    };
    match kind {
        FaultKind::PowerOff
        | FaultKind::PowerOn
        | FaultKind::PowerCycle
        | FaultKind::Freeze
        | FaultKind::Resume => base,
        FaultKind::NicDown | FaultKind::NicUp => Rules { network: true, ..base },
        FaultKind::LinkCut | FaultKind::LinkHeal => Rules { network: true, peer: true, ..base },
        FaultKind::LinkLoss => {
            Rules { network: true, peer: true, value: Some(ValueRule::Probability), ..base }
        }
        FaultKind::LatencySpike => Rules { network: true, value: Some(ValueRule::Duration), ..base },
        FaultKind::Mtu => Rules { network: true, value: Some(ValueRule::Bytes), ..base },
        FaultKind::SwitchDown | FaultKind::SwitchUp => Rules { target: TargetRule::Switch, ..base },
        FaultKind::RackPowerOff | FaultKind::RackPowerOn => Rules { target: TargetRule::Rack, ..base },
        FaultKind::WitnessDown | FaultKind::WitnessUp => Rules { target: TargetRule::Witness, ..base },
        FaultKind::WitnessSlow => {
            Rules { target: TargetRule::Witness, value: Some(ValueRule::Duration), ..base }
        }
        FaultKind::ClockStep => Rules { value: Some(ValueRule::SignedDuration), ..base },
        FaultKind::ResourceCrash => {
            Rules { target: TargetRule::Implied, database: true, resource: true, ..base }
        }
        FaultKind::CorruptLog => Rules { target: TargetRule::Implied, database: true, ..base },
        FaultKind::Move => Rules { target: TargetRule::Implied, database: true, to: true, ..base },
        FaultKind::HealAll => Rules { target: TargetRule::Implied, ..base },
        FaultKind::ControllerReboot => Rules { target: TargetRule::Array, ..base },
        FaultKind::LunOffline | FaultKind::LunOnline => {
            Rules { target: TargetRule::Array, lun: Some(true), ..base }
        }
        FaultKind::LunLatency => {
            Rules { target: TargetRule::Array, lun: Some(false), value: Some(ValueRule::Duration), ..base }
        }
        // `value` (the stun) and `to` (the destination) are optional: `vmotion_parts` fills them.
        FaultKind::Vmotion => Rules { value: Some(ValueRule::Duration), ..base },
        FaultKind::Snapshot | FaultKind::SnapshotRevert => base,
    }
}

/// Why `kind` cannot hit a host of `role`, if it cannot: a fault that would change nothing is refused
/// here rather than recorded as injected.
fn refusal_for_role(kind: FaultKind, role: HostRole, next_write: bool) -> Option<&'static str> {
    match (kind, role) {
        (FaultKind::Freeze | FaultKind::Resume, HostRole::Array) => {
            Some("a SAN array's controllers cannot be paused like a VM; use controller-reboot or power-off")
        }
        (FaultKind::Freeze, role) if next_write && role != HostRole::Mailbox => Some(
            "trigger = \"next-write\" waits for a cluster node's shared-disk write; only mailbox hosts write",
        ),
        (FaultKind::ClockStep, HostRole::Witness | HostRole::Array | HostRole::Dns) => Some(
            "the file share witness, the array and the DNS server keep true time in this model; step the clock of a mailbox or hub host",
        ),
        (FaultKind::Freeze | FaultKind::Resume, HostRole::Hypervisor) => Some(
            "pausing a whole hypervisor host is not modelled; freeze one of its VMs, or power the host off",
        ),
        (FaultKind::Vmotion, HostRole::Hypervisor) => {
            Some("vMotion moves a VM between hypervisor hosts; a hypervisor host is the hardware itself")
        }
        (FaultKind::Snapshot | FaultKind::SnapshotRevert, HostRole::Hypervisor) => {
            Some("a snapshot is of a VM's disks; a hypervisor host is the hardware itself")
        }
        (FaultKind::ClockStep, HostRole::Hypervisor) => Some(
            "the HA agent times everything on its host's monotonic clock, which a clock step does not move",
        ),
        _ => None,
    }
}

fn value_description(kind: FaultKind, rule: ValueRule) -> String {
    match rule {
        ValueRule::Probability => {
            format!("{kind} `value` is the packet loss probability, a number from 0 to 1")
        }
        ValueRule::Duration if kind == FaultKind::WitnessSlow => {
            format!(
                "{kind} `value` is the delay added to each witness request, a duration string such as \"5s\""
            )
        }
        ValueRule::Duration if kind == FaultKind::Vmotion => {
            format!(
                "{kind} `value` is the stun, how long the VM is paused at the switchover, a duration string such as \"2s\""
            )
        }
        ValueRule::Duration if kind == FaultKind::LunLatency => {
            format!(
                "{kind} `value` is the time added to every read and write, a duration string such as \"20s\""
            )
        }
        ValueRule::Duration => {
            format!("{kind} `value` is the added latency, a duration string such as \"200ms\"")
        }
        ValueRule::Bytes => format!("{kind} `value` is the new MTU in bytes, an integer from 68 to 65535"),
        ValueRule::SignedDuration => {
            format!(
                "{kind} `value` is how far the clock jumps, a signed duration string such as \"-30s\" or \"+2m\""
            )
        }
    }
}

fn validate_fault(ctx: &Ctx, world: &World, fault: &FaultFile) -> Result<FaultSpec> {
    let kind = *fault.kind.get_ref();
    let at = duration_of(&fault.at);
    if at >= world.duration {
        return Err(ctx.at(
            &fault.at,
            format!(
                "fault at {} is at or after the end of the run (duration = {}); faults must start before it",
                human(at),
                human(world.duration)
            ),
        ));
    }
    if !kind.is_heal() && at >= world.quiesce_start() {
        return Err(ctx.at(
            &fault.at,
            format!(
                "{kind} at {} falls in the final quiesce window ({} to {}, checks.quiesce = {}), where only heals may happen",
                human(at),
                human(world.quiesce_start()),
                human(world.duration),
                human(world.quiesce)
            ),
        ));
    }

    let rules = rules(kind);
    let forbid = |present: Option<Range<usize>>, allowed: bool, key: &str| -> Result<()> {
        match present {
            Some(span) if !allowed => {
                Err(ctx.at_span(span, format!("`{key}` does not apply to {kind} faults")))
            }
            _ => Ok(()),
        }
    };
    forbid(fault.target.as_ref().map(Spanned::span), rules.target != TargetRule::Implied, "target")?;
    forbid(fault.network.as_ref().map(Spanned::span), rules.network, "network")?;
    // An `mtu` fault with a `peer` shrinks the hop between the two (a switch port left at 1500 bytes)
    // rather than the target's NIC.
    forbid(fault.peer.as_ref().map(Spanned::span), rules.peer || kind == FaultKind::Mtu, "peer")?;
    forbid(fault.direction.as_ref().map(Spanned::span), rules.peer, "direction")?;
    forbid(fault.value.as_ref().map(Spanned::span), rules.value.is_some(), "value")?;
    forbid(fault.database.as_ref().map(Spanned::span), rules.database, "database")?;
    forbid(fault.resource.as_ref().map(Spanned::span), rules.resource, "resource")?;
    forbid(fault.to.as_ref().map(Spanned::span), rules.to || kind == FaultKind::Vmotion, "to")?;
    forbid(fault.lun.as_ref().map(Spanned::span), rules.lun.is_some(), "lun")?;
    forbid(fault.memory.as_ref().map(Spanned::span), kind == FaultKind::Snapshot, "memory")?;
    if let Some(trigger) = &fault.trigger
        && *trigger.get_ref() == FaultTrigger::NextWrite
    {
        if kind != FaultKind::Freeze {
            return Err(ctx
                .at(trigger, format!("trigger = \"next-write\" applies only to freeze faults, not {kind}")));
        }
        if world.array.is_none() {
            return Err(ctx.at(
                trigger,
                "trigger = \"next-write\" waits for a shared-disk write, but this scenario has no SAN array",
            ));
        }
    }

    if let Some(value) = &fault.duration
        && !kind.has_inverse()
    {
        return Err(ctx.at(
            value,
            format!("`duration` (auto-heal) does not apply to {kind} faults: they have no inverse"),
        ));
    }

    let require = |present: bool, key: &str, what: &str| -> Result<()> {
        if present { Ok(()) } else { Err(ctx.at(&fault.kind, format!("{kind} faults need `{key}`, {what}"))) }
    };
    require(fault.target.is_some() || rules.target != TargetRule::Host, "target", "the host they hit")?;
    require(fault.target.is_some() || rules.target != TargetRule::Switch, "target", "the switch they hit")?;
    require(fault.target.is_some() || rules.target != TargetRule::Rack, "target", "the rack they hit")?;
    require(fault.network.is_some() || !rules.network, "network", "the network of the NIC or link")?;
    require(fault.peer.is_some() || !rules.peer, "peer", "the host at the other end of the link")?;
    require(fault.database.is_some() || !rules.database, "database", "the database they act on")?;
    require(fault.to.is_some() || !rules.to, "to", "the mailbox host that becomes active")?;
    require(fault.lun.is_some() || rules.lun != Some(true), "lun", "the [[lun]] they hit")?;
    if let Some(rule) = rules.value
        && fault.value.is_none()
        && kind != FaultKind::Vmotion
    {
        return Err(
            ctx.at(&fault.kind, format!("{kind} faults need `value`: {}", value_description(kind, rule)))
        );
    }

    let database = match &fault.database {
        Some(name) => {
            let Some(database) = world.database(name.get_ref()) else {
                return Err(ctx.at(
                    name,
                    format!(
                        "unknown database `{}`; databases are: {}",
                        name.get_ref(),
                        world.database_names()
                    ),
                ));
            };
            Some(database)
        }
        None => None,
    };
    let target = match rules.target {
        TargetRule::Host => match &fault.target {
            Some(text) => host_target(ctx, world, text, "fault target")?,
            None => return Err(ctx.at(&fault.kind, format!("{kind} faults need `target`"))),
        },
        TargetRule::Switch => match &fault.target {
            Some(text) => switch_target(ctx, world, text, kind)?,
            None => return Err(ctx.at(&fault.kind, format!("{kind} faults need `target`"))),
        },
        TargetRule::Rack => match &fault.target {
            Some(text) => rack_target(ctx, world, text)?,
            None => return Err(ctx.at(&fault.kind, format!("{kind} faults need `target`"))),
        },
        TargetRule::Witness => witness_target(ctx, world, fault, kind)?,
        TargetRule::Array => array_target(ctx, world, fault, kind)?,
        TargetRule::Implied => match (kind, database) {
            (FaultKind::CorruptLog, Some(database)) => Target::PassiveOf(database.name.clone()),
            (_, Some(database)) => Target::OwnerOf(database.name.clone()),
            (_, None) => Target::All,
        },
    };
    let next_write =
        fault.trigger.as_ref().is_some_and(|trigger| *trigger.get_ref() == FaultTrigger::NextWrite);
    let role = match &target {
        Target::Host(name) => world.host(name).map(|host| host.role),
        Target::Witness => Some(HostRole::Witness),
        Target::Switch(_) | Target::All => None,
        Target::Active | Target::Passive | Target::OwnerOf(_) | Target::PassiveOf(_) => {
            Some(HostRole::Mailbox)
        }
    };
    if let (Some(role), Some(text)) = (role, &fault.target)
        && let Some(reason) = refusal_for_role(kind, role, next_write)
    {
        return Err(ctx.at(text, format!("{kind} cannot hit `{target}`, a {} host: {reason}", role.as_str())));
    }
    if matches!(kind, FaultKind::Snapshot | FaultKind::SnapshotRevert) {
        ha::snapshot_target(ctx, world.hosts, world.ha, world.luns, &target, fault)?;
    }
    if kind == FaultKind::CorruptLog
        && let Some(database) = database
        && database.copies.len() < 2
    {
        return Err(ctx.at(
            &fault.kind,
            format!("corrupt-log needs a database that ships logs; `{}` has only one copy", database.name),
        ));
    }
    if kind == FaultKind::CorruptLog && world.cluster.kind == ClusterKind::Scc {
        return Err(ctx.at(
            &fault.kind,
            "corrupt-log corrupts a shipped log, but a Single Copy Cluster ships no logs (its one copy is on the array); use lun faults",
        ));
    }

    let network = match &fault.network {
        Some(name) => {
            if !world.networks.iter().any(|network| &network.name == name.get_ref()) {
                return Err(ctx.at(
                    name,
                    format!(
                        "unknown network `{}` in {kind} fault; networks are: {}",
                        name.get_ref(),
                        list(world.networks.iter().map(|network| network.name.as_str()))
                    ),
                ));
            }
            check_nics(ctx, world, &target, name)?;
            Some(name.get_ref().clone())
        }
        None => None,
    };
    let peer = match &fault.peer {
        Some(text) => {
            let peer = host_target(ctx, world, text, "peer")?;
            if peer == target {
                return Err(ctx.at(
                    text,
                    format!("a link needs two different ends, but `peer` is `{peer}` like `target`"),
                ));
            }
            if let Some(network) = &fault.network {
                check_nics(ctx, world, &peer, network)?;
            }
            Some(peer)
        }
        None => None,
    };
    let resource = match (&fault.resource, database) {
        (Some(name), Some(database)) => {
            if !database.resources.iter().any(|resource| &resource.name == name.get_ref()) {
                return Err(ctx.at(
                    name,
                    format!(
                        "database `{}` has no resource `{}`; its resources are: {}",
                        database.name,
                        name.get_ref(),
                        list(database.resources.iter().map(|resource| resource.name.as_str()))
                    ),
                ));
            }
            if let Some(resource) =
                database.resources.iter().find(|resource| &resource.name == name.get_ref())
                && resource.kind == ResourceKind::PhysicalDisk
            {
                return Err(ctx.at(
                    name,
                    format!(
                        "resource-crash of `{}` is not modelled: a physical disk fails through its data path, \
                         so use lun-offline, lun-latency or a path fault instead",
                        name.get_ref()
                    ),
                ));
            }
            Some(name.get_ref().clone())
        }
        _ => None,
    };
    let to = match (&fault.to, database) {
        (_, None) if kind == FaultKind::Vmotion => {
            ha::vmotion_destination(ctx, world.hosts, world.ha, &world.candidates(&target), fault)?
        }
        (Some(host), Some(database)) => {
            if !database.copies.contains(host.get_ref()) {
                return Err(ctx.at(
                    host,
                    format!(
                        "`{}` holds no copy of `{}`; its copies are on: {}",
                        host.get_ref(),
                        database.name,
                        list(database.copies.iter().map(String::as_str))
                    ),
                ));
            }
            Some(host.get_ref().clone())
        }
        _ => None,
    };
    let lun = match &fault.lun {
        Some(name) => {
            if !world.luns.iter().any(|lun| &lun.name == name.get_ref()) {
                return Err(ctx.at(
                    name,
                    format!(
                        "unknown LUN `{}`; LUNs are: {}",
                        name.get_ref(),
                        list(world.luns.iter().map(|lun| lun.name.as_str()))
                    ),
                ));
            }
            Some(name.get_ref().clone())
        }
        None => None,
    };
    let value = match (&fault.value, rules.value) {
        (Some(value), Some(rule)) => Some(fault_value(ctx, value, kind, rule)?),
        _ => None,
    };
    let duration = match &fault.duration {
        Some(value) => {
            let heal_after = duration_of(value);
            if heal_after.is_zero() {
                return Err(ctx.at(value, "`duration` must be longer than zero; leave it out to never heal"));
            }
            let heal_at = at.saturating_add(heal_after);
            if heal_at >= world.duration {
                return Err(ctx.at(
                    value,
                    format!(
                        "auto-heal at {} would be at or after the end of the run ({}); shorten `duration` or leave it out",
                        human(heal_at),
                        human(world.duration)
                    ),
                ));
            }
            Some(heal_after)
        }
        None => None,
    };
    let parts = FaultParts {
        target,
        network,
        peer,
        direction: fault.direction.as_ref().map_or(LinkDirection::Both, |direction| *direction.get_ref()),
        value,
        database: database.map(|database| database.name.clone()),
        resource,
        to,
        lun,
        trigger: fault.trigger.as_ref().map_or(FaultTrigger::At, |trigger| *trigger.get_ref()),
        // vSphere's client keeps the memory of a powered-on VM unless told not to (docs/hypervisor.md).
        memory: fault.memory.as_ref().is_none_or(|memory| *memory.get_ref()),
    };
    Ok(FaultSpec { at, fault: typed_fault(kind, parts), duration })
}

/// What validation gathered for one fault, before it becomes the typed value of its device.
struct FaultParts {
    target: Target,
    network: Option<String>,
    peer: Option<Target>,
    direction: LinkDirection,
    value: Option<FaultValue>,
    database: Option<String>,
    resource: Option<String>,
    to: Option<String>,
    lun: Option<String>,
    trigger: FaultTrigger,
    memory: bool,
}

/// The typed fault for `kind`. Validation has already required every key the kind needs (`rules`),
/// so a missing one here falls back to an empty value rather than failing twice.
fn typed_fault(kind: FaultKind, parts: FaultParts) -> Fault {
    let FaultParts { target, network, peer, direction, value, database, resource, to, lun, trigger, memory } =
        parts;
    let network = network.unwrap_or_default();
    let database = database.unwrap_or_default();
    let duration_value = match value {
        Some(FaultValue::Duration(extra)) => extra,
        _ => Duration::ZERO,
    };
    let named = |target: &Target| match target {
        Target::Host(name) | Target::Switch(name) => name.clone(),
        other => other.to_string(),
    };
    match kind {
        FaultKind::PowerOff => Fault::Power(PowerFault::Off { target }),
        FaultKind::PowerOn => Fault::Power(PowerFault::On { target }),
        FaultKind::PowerCycle => Fault::Power(PowerFault::Cycle { target }),
        FaultKind::RackPowerOff => Fault::Power(PowerFault::RackOff { rack: named(&target) }),
        FaultKind::RackPowerOn => Fault::Power(PowerFault::RackOn { rack: named(&target) }),
        FaultKind::Freeze => Fault::Run(RunFault::Freeze { target, trigger }),
        FaultKind::Resume => Fault::Run(RunFault::Resume { target }),
        FaultKind::ClockStep => {
            let step_nanos = match value {
                Some(FaultValue::SignedDuration(step)) => step,
                _ => 0,
            };
            Fault::Run(RunFault::ClockStep { target, step_nanos })
        }
        FaultKind::NicDown => Fault::Fabric(FabricFault::NicDown { target, network }),
        FaultKind::NicUp => Fault::Fabric(FabricFault::NicUp { target, network }),
        FaultKind::LinkCut | FaultKind::LinkHeal | FaultKind::LinkLoss => {
            let peer = peer.unwrap_or(Target::All);
            match (kind, value) {
                (FaultKind::LinkCut, _) => {
                    Fault::Fabric(FabricFault::LinkCut { target, peer, network, direction })
                }
                (FaultKind::LinkHeal, _) => {
                    Fault::Fabric(FabricFault::LinkHeal { target, peer, network, direction })
                }
                (_, value) => {
                    let probability = match value {
                        Some(FaultValue::Probability(probability)) => probability,
                        _ => 0.0,
                    };
                    Fault::Fabric(FabricFault::LinkLoss { target, peer, network, direction, probability })
                }
            }
        }
        FaultKind::LatencySpike => {
            Fault::Fabric(FabricFault::LatencySpike { target, network, extra: duration_value })
        }
        FaultKind::Mtu => {
            let bytes = match value {
                Some(FaultValue::Bytes(bytes)) => Some(bytes),
                _ => None,
            };
            Fault::Fabric(FabricFault::Mtu { target, peer, network, bytes })
        }
        FaultKind::SwitchDown => Fault::Fabric(FabricFault::SwitchDown { switch: named(&target) }),
        FaultKind::SwitchUp => Fault::Fabric(FabricFault::SwitchUp { switch: named(&target) }),
        FaultKind::WitnessDown => Fault::Witness(WitnessFault::Down),
        FaultKind::WitnessUp => Fault::Witness(WitnessFault::Up),
        FaultKind::WitnessSlow => Fault::Witness(WitnessFault::Slow { extra: duration_value }),
        FaultKind::ResourceCrash => Fault::Software(SoftwareFault::ResourceCrash { database, resource }),
        FaultKind::Move => Fault::Software(SoftwareFault::Move { database, to: to.unwrap_or_default() }),
        FaultKind::CorruptLog => Fault::Software(SoftwareFault::CorruptLog { database }),
        FaultKind::HealAll => Fault::HealAll,
        FaultKind::ControllerReboot => Fault::San(SanFault::ControllerReboot),
        FaultKind::LunOffline => Fault::San(SanFault::LunOffline { lun: lun.unwrap_or_default() }),
        FaultKind::LunOnline => Fault::San(SanFault::LunOnline { lun: lun.unwrap_or_default() }),
        FaultKind::LunLatency => Fault::San(SanFault::LunLatency { lun, extra: duration_value }),
        FaultKind::Vmotion => {
            let stun = match value {
                Some(FaultValue::Duration(stun)) => stun,
                _ => emulators::hypervisor::VmotionConfig::default().stun,
            };
            Fault::Hypervisor(HypervisorFault::Vmotion { target, stun, to })
        }
        FaultKind::Snapshot => Fault::Hypervisor(HypervisorFault::Snapshot { target, memory }),
        FaultKind::SnapshotRevert => Fault::Hypervisor(HypervisorFault::SnapshotRevert { target }),
    }
}

/// `controller-reboot` and `lun-*` faults hit the SAN array; `target` may name it or be left out.
fn array_target(ctx: &Ctx, world: &World, fault: &FaultFile, kind: FaultKind) -> Result<Target> {
    let Some(array) = world.array else {
        return Err(ctx.at(&fault.kind, format!("{kind} needs a SAN array, but this scenario has none")));
    };
    if let Some(text) = &fault.target
        && text.get_ref() != array
    {
        return Err(
            ctx.at(text, format!("{kind} faults hit the SAN array; write `{array}` or leave `target` out"))
        );
    }
    Ok(Target::Host(array.to_string()))
}

/// Parses and resolves a host-like target: a role, `owner-of:`/`passive-of:` a database, or a host.
/// A rack named by some host's `rack` key.
fn rack_target(ctx: &Ctx, world: &World, text: &Spanned<String>) -> Result<Target> {
    let mut racks: Vec<&str> = world.hosts.iter().filter_map(|host| host.rack.as_deref()).collect();
    racks.dedup();
    if !racks.contains(&text.get_ref().as_str()) {
        let known = if racks.is_empty() {
            "no host has a `rack`".to_string()
        } else {
            format!("racks are: {}", list(racks))
        };
        return Err(ctx.at(text, format!("unknown rack `{}`; {known}", text.get_ref())));
    }
    Ok(Target::Host(text.get_ref().clone()))
}

fn host_target(ctx: &Ctx, world: &World, text: &Spanned<String>, what: &str) -> Result<Target> {
    let target = Target::parse(text.get_ref()).map_err(|message| ctx.at(text, message))?;
    let database_named = |name: &str| -> Result<&DatabaseDef> {
        world.database(name).ok_or_else(|| {
            ctx.at(
                text,
                format!("unknown database `{name}` in {what}; databases are: {}", world.database_names()),
            )
        })
    };
    match &target {
        Target::Active => {}
        Target::Passive | Target::PassiveOf(_) => {
            let database = match &target {
                Target::PassiveOf(name) => Some(database_named(name)?),
                _ => world.databases.first(),
            };
            if let Some(database) = database.filter(|database| database.copies.len() < 2) {
                return Err(ctx.at(
                    text,
                    format!("`{target}` needs a passive copy, but `{}` has only one copy", database.name),
                ));
            }
        }
        Target::OwnerOf(name) => {
            database_named(name)?;
        }
        Target::Witness => {
            if world.cluster.witness.is_none() {
                return Err(
                    ctx.at(text, "`witness` names the file share witness host, but this cluster has none")
                );
            }
        }
        Target::Host(host) => {
            if world.host(host).is_none() {
                return Err(ctx.at(
                    text,
                    format!("unknown host `{host}` in {what}; hosts are: {}", world.host_names()),
                ));
            }
        }
        Target::Switch(_) | Target::All => {
            return Err(
                ctx.at(text, format!("`{target}` is not a host; the {what} must be a host or a role"))
            );
        }
    }
    Ok(target)
}

fn switch_target(ctx: &Ctx, world: &World, text: &Spanned<String>, kind: FaultKind) -> Result<Target> {
    let switches = world.switches();
    let name = match Target::parse(text.get_ref()).map_err(|message| ctx.at(text, message))? {
        Target::Host(name) | Target::Switch(name) if !text.get_ref().starts_with("host:") => name,
        _ => {
            return Err(ctx.at(
                text,
                format!("{kind} faults target a switch by name; switches are: {}", list(switches)),
            ));
        }
    };
    if switches.is_empty() {
        return Err(ctx.at(
            text,
            "no network names a switch; add `switch = \"<name>\"` to the [[network]] tables it carries",
        ));
    }
    if !switches.contains(&name.as_str()) {
        return Err(ctx.at(
            text,
            format!("unknown switch `{name}`; switches named by networks are: {}", list(switches)),
        ));
    }
    Ok(Target::Switch(name))
}

fn witness_target(ctx: &Ctx, world: &World, fault: &FaultFile, kind: FaultKind) -> Result<Target> {
    let Some(witness) = &world.cluster.witness else {
        return Err(ctx.at(
            &fault.kind,
            format!("{kind} needs a file share witness, but this cluster's quorum does not use one"),
        ));
    };
    if let Some(text) = &fault.target {
        let names_witness = match Target::parse(text.get_ref()) {
            Ok(Target::Witness) => true,
            Ok(Target::Host(host)) => &host == witness,
            _ => false,
        };
        if !names_witness {
            return Err(ctx.at(
                text,
                format!("{kind} faults hit the file share witness; write `witness` or `{witness}`, or leave `target` out"),
            ));
        }
    }
    Ok(Target::Witness)
}

/// Every host the target may resolve to must have a NIC on the network, or the fault could do
/// nothing at run time depending on which node happens to be active.
fn check_nics(ctx: &Ctx, world: &World, target: &Target, network: &Spanned<String>) -> Result<()> {
    for host in world.candidates(target) {
        if !host.has_nic_on(network.get_ref()) {
            let who = match target {
                Target::Host(_) => format!("host `{}`", host.name),
                _ => format!("`{target}` may be host `{}`, which", host.name),
            };
            return Err(ctx.at(
                network,
                format!(
                    "{who} has no NIC on network `{}` (its networks: {})",
                    network.get_ref(),
                    list(host.networks.iter().map(String::as_str))
                ),
            ));
        }
    }
    Ok(())
}

fn fault_value(
    ctx: &Ctx,
    value: &Spanned<toml::Value>,
    kind: FaultKind,
    rule: ValueRule,
) -> Result<FaultValue> {
    let wrong = || ctx.at(value, value_description(kind, rule));
    match rule {
        ValueRule::Probability => {
            let probability = match value.get_ref() {
                toml::Value::Float(number) => *number,
                toml::Value::Integer(number) => *number as f64,
                _ => return Err(wrong()),
            };
            if !(0.0..=1.0).contains(&probability) {
                return Err(ctx.at(
                    value,
                    format!(
                        "loss probability {probability} is outside 0..=1; {}",
                        value_description(kind, rule)
                    ),
                ));
            }
            Ok(FaultValue::Probability(probability))
        }
        ValueRule::Duration => {
            let toml::Value::String(text) = value.get_ref() else {
                return Err(wrong());
            };
            let duration = kernel::parse_duration(text).map_err(|message| ctx.at(value, message))?;
            if duration.is_zero() {
                return Err(
                    ctx.at(value, format!("a {kind} of zero does nothing; give a duration above zero"))
                );
            }
            at_most(
                ctx,
                &Some(Spanned::new(value.span(), DurationText(duration))),
                HOUR,
                "value",
                "no real delay lasts that long",
            )?;
            Ok(FaultValue::Duration(duration))
        }
        ValueRule::Bytes => match value.get_ref() {
            toml::Value::Integer(number) => match u32::try_from(*number) {
                Ok(bytes) if (68..=65_535).contains(&bytes) => Ok(FaultValue::Bytes(bytes)),
                _ => Err(ctx.at(value, format!("MTU {number} is outside 68..=65535, the range IPv4 allows"))),
            },
            _ => Err(wrong()),
        },
        ValueRule::SignedDuration => {
            let toml::Value::String(text) = value.get_ref() else {
                return Err(wrong());
            };
            let nanos = parse_signed_duration(text).map_err(|message| ctx.at(value, message))?;
            if nanos == 0 {
                return Err(ctx.at(value, "a clock step of zero does nothing; give e.g. \"-30s\" or \"+2m\""));
            }
            if nanos.unsigned_abs() > limits::MAX_CLOCK_SKEW.as_nanos() as u64 {
                return Err(ctx.at(
                    value,
                    format!(
                        "a clock step of {text} is absurd: it must be within ±{}",
                        human(limits::MAX_CLOCK_SKEW)
                    ),
                ));
            }
            Ok(FaultValue::SignedDuration(nanos))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dependency_chain_has_no_cycle() {
        assert_eq!(find_cycle(&[vec![], vec![0], vec![1]]), None);
        assert_eq!(find_cycle(&[]), None);
    }

    #[test]
    fn a_self_dependency_is_a_cycle_of_one() {
        assert_eq!(find_cycle(&[vec![0]]), Some(Cycle { path: vec![0, 0], from: 0, edge: 0 }));
    }

    #[test]
    fn a_cycle_is_reported_from_where_the_search_entered_it_with_the_closing_edge() {
        // 0 -> 2 -> 1 -> 0: the search starts at 0, so the edge that closes the cycle is 1's first.
        let cycle = find_cycle(&[vec![2], vec![0], vec![1]]);
        assert_eq!(cycle, Some(Cycle { path: vec![0, 2, 1, 0], from: 1, edge: 0 }));
    }

    #[test]
    fn a_diamond_is_not_a_cycle_but_a_cycle_behind_it_is_found() {
        assert_eq!(find_cycle(&[vec![1, 2], vec![3], vec![3], vec![]]), None);
        let cycle = find_cycle(&[vec![1, 2], vec![3], vec![3], vec![4], vec![3]]);
        assert_eq!(cycle.map(|cycle| cycle.path), Some(vec![3, 4, 3]));
    }

    #[test]
    fn a_long_chain_does_not_overflow_the_stack() {
        let chain: Vec<Vec<usize>> =
            (0..200_000).map(|index| if index == 0 { vec![] } else { vec![index - 1] }).collect();
        assert_eq!(find_cycle(&chain), None);
    }

    #[test]
    fn the_default_resource_chain_starts_ip_then_name_then_database() {
        let database = DatabaseDef {
            name: "DB1".to_string(),
            copies: vec![],
            resources: default_resources(&[]),
            name_ttl: MINUTE,
        };
        let order: Vec<&str> = database.start_order().iter().map(|resource| resource.name.as_str()).collect();
        assert_eq!(order, ["ip", "name", "database"]);
        assert_eq!(database.database_resource().map(|resource| resource.kind), Some(ResourceKind::Database));
    }

    #[test]
    fn a_shared_disk_chain_starts_with_its_disks_and_mounts_only_after_all_of_them() {
        let disks = ["sg1".to_string(), "sg2".to_string()];
        let database = DatabaseDef {
            name: "EVS1".to_string(),
            copies: vec![],
            resources: default_resources(&disks),
            name_ttl: MINUTE,
        };
        let order: Vec<&str> = database.start_order().iter().map(|resource| resource.name.as_str()).collect();
        assert_eq!(order, ["disk-sg1", "disk-sg2", "ip", "name", "database"]);
        assert_eq!(database.disks(), ["sg1", "sg2"]);
        let mount = database.database_resource().expect("a database resource");
        assert!(
            mount.depends_on.contains(&"disk-sg1".to_string())
                && mount.depends_on.contains(&"disk-sg2".to_string())
        );
    }
}
