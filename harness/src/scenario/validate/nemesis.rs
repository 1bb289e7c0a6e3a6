//! The `[nemesis]` table, in its two forms: `kinds` (every kind on every seed, one rate) and
//! `families` (a swarm: a subset of families, a rate, fault lengths and settings drawn per seed within
//! declared ranges, and a tolerance the draws never exceed). Every key is checked here with its
//! location; `limits.rs` checks the floors of `mean_interval` and `max_fault_duration` (their `min`).

use super::{Ctx, HOUR, MAX_SIZE_BYTES, MINUTE, Result, SECOND, World, human, refusal_for_role};
use crate::scenario::file::{NemesisFile, SettingsFile, ToleranceFile};
use crate::scenario::model::{
    ClusterKind, DriftRange, DurationRange, FaultKind, HostRole, NemesisFamily, NemesisKind, NemesisSpec,
    SettingRanges, Tolerance,
};
use crate::scenario::units::{DurationText, RangeText, SizeText};
use std::time::Duration;
use toml::Spanned;

pub(super) fn validate_nemesis(
    ctx: &Ctx,
    world: &World,
    file: &NemesisFile,
    workload_start: Duration,
) -> Result<NemesisSpec> {
    let (kinds, families) = drawn_lists(ctx, world, file)?;
    let swarm = !families.is_empty();
    if !swarm {
        refuse_swarm_keys(ctx, file)?;
    }
    let mean_interval = duration_range(ctx, &file.mean_interval, MINUTE, "mean_interval")?;
    let max_fault_duration =
        duration_range(ctx, &file.max_fault_duration, 30 * SECOND, "max_fault_duration")?;
    let (start, stop) = window(ctx, world, file, workload_start)?;
    let targets = targets(ctx, world, file, &kinds, &families)?;
    if families.contains(&NemesisFamily::RackPower)
        && !targets.iter().any(|name| world.host(name).is_some_and(|host| host.rack.is_some()))
        && let Some(listed) = &file.families
    {
        return Err(ctx.at(listed, "family rack-power needs a nemesis target with a `rack`; none has one"));
    }
    Ok(NemesisSpec {
        enabled: enabled(ctx, file, families.len())?,
        kinds,
        families,
        mean_interval,
        max_fault_duration,
        start,
        stop,
        targets,
        tolerance: tolerance(ctx, world, file.tolerance.as_ref())?,
        settings: settings(ctx, world, file.settings.as_ref())?,
    })
}

/// `kinds` or `families`: exactly one, non-empty, without duplicates, each possible in this world.
fn drawn_lists(
    ctx: &Ctx,
    world: &World,
    file: &NemesisFile,
) -> Result<(Vec<NemesisKind>, Vec<NemesisFamily>)> {
    match (&file.kinds, &file.families) {
        (Some(_), Some(families)) => Err(ctx.at(
            families,
            "a nemesis has either `kinds` (every kind on every seed) or `families` (a swarm), not both",
        )),
        (None, None) => Err(ctx.at_span(
            ctx.table("nemesis", 0),
            "a nemesis needs `families` (a swarm, e.g. families = [\"power\", \"freeze\", \"link-cut\"]) or `kinds`",
        )),
        (Some(kinds), None) => {
            let mut values: Vec<NemesisKind> = Vec::new();
            if kinds.get_ref().is_empty() {
                return Err(ctx.at(kinds, "nemesis `kinds` is empty; name at least one kind of fault to draw"));
            }
            for kind in kinds.get_ref() {
                let value = *kind.get_ref();
                if values.contains(&value) {
                    return Err(ctx.at(kind, format!("`{}` is listed twice in nemesis kinds", value.as_str())));
                }
                if value == NemesisKind::WitnessDown && world.cluster.witness.is_none() {
                    return Err(ctx.at(
                        kind,
                        "witness-down needs a file share witness, but this cluster's quorum does not use one",
                    ));
                }
                values.push(value);
            }
            Ok((values, Vec::new()))
        }
        (None, Some(families)) => {
            if families.get_ref().is_empty() {
                return Err(ctx.at(families, "nemesis `families` is empty; name at least one family of faults"));
            }
            let mut values: Vec<NemesisFamily> = Vec::new();
            for family in families.get_ref() {
                let value = *family.get_ref();
                if values.contains(&value) {
                    return Err(ctx.at(family, format!("`{}` is listed twice in nemesis families", value.as_str())));
                }
                if let Some(reason) = family_refusal(world, value) {
                    return Err(ctx.at(family, format!("family {} cannot be drawn here: {reason}", value.as_str())));
                }
                values.push(value);
            }
            Ok((Vec::new(), values))
        }
    }
}

/// Why a family could never produce a fault in this world, if it could not.
fn family_refusal(world: &World, family: NemesisFamily) -> Option<&'static str> {
    let shipping = world.databases.iter().any(|database| database.copies.len() >= 2);
    match family {
        NemesisFamily::WitnessDown | NemesisFamily::WitnessRestart | NemesisFamily::WitnessSlow
            if world.cluster.witness.is_none() =>
        {
            Some("this cluster's quorum uses no file share witness")
        }
        NemesisFamily::Switch if world.switches().is_empty() => {
            Some("no network names a switch; add `switch = \"<name>\"` to a [[network]]")
        }
        NemesisFamily::CorruptLog if world.cluster.kind == ClusterKind::Scc => {
            Some("a Single Copy Cluster ships no logs")
        }
        NemesisFamily::CorruptLog | NemesisFamily::Move if !shipping => Some("no database has a second copy"),
        NemesisFamily::ControllerReboot | NemesisFamily::PathFlap if world.array.is_none() => {
            Some("this scenario has no SAN array")
        }
        NemesisFamily::LunOffline | NemesisFamily::LunLatency if world.luns.is_empty() => {
            Some("this scenario has no [[lun]]")
        }
        NemesisFamily::Dns if !world.hosts.iter().any(|host| host.role == HostRole::Dns) => {
            Some("no host has role \"dns\"")
        }
        NemesisFamily::HostFailure | NemesisFamily::HostIsolation if world.ha.is_none() => {
            Some("no host has role \"hypervisor\"")
        }
        NemesisFamily::ManagementPartition
            if world.hosts.iter().filter(|host| host.role == HostRole::Hypervisor).count() < 2 =>
        {
            Some("a partition needs two hypervisor hosts or more")
        }
        NemesisFamily::Stun if !world.hosts.iter().any(|host| host.runs_on.is_some()) => {
            Some("no host is a VM (`runs_on`)")
        }
        NemesisFamily::Apd if world.ha.is_none() || world.array.is_none() => {
            Some("all paths down needs a `hypervisor` host and a SAN array")
        }
        NemesisFamily::SnapshotRevert
            if !world.hosts.iter().any(|host| {
                host.may_snapshot(world.luns, world.ha.map_or(&[][..], |ha| &ha.datastores[..]))
            }) =>
        {
            Some(
                "no VM runs a cluster node without a shared LUN (vSphere snapshots no VM with a shared disk)",
            )
        }
        _ => None,
    }
}

/// The swarm's own keys mean nothing to the `kinds` form, which draws the same way on every seed.
fn refuse_swarm_keys(ctx: &Ctx, file: &NemesisFile) -> Result<()> {
    let why = "applies only to a swarm nemesis (`families`); the `kinds` form draws every kind at one rate";
    if let Some(value) = &file.enabled {
        return Err(ctx.at(value, format!("`enabled` {why}")));
    }
    if let Some(value) = &file.tolerance {
        return Err(ctx.at(value, format!("[nemesis.tolerance] {why}")));
    }
    if let Some(value) = &file.settings {
        return Err(ctx.at(value, format!("[nemesis.settings] {why}")));
    }
    for (key, value) in
        [("mean_interval", &file.mean_interval), ("max_fault_duration", &file.max_fault_duration)]
    {
        if let Some(value) = value.as_ref().filter(|value| value.get_ref().min != value.get_ref().max) {
            return Err(ctx.at(value, format!("a range of `{key}` {why}; give one duration")));
        }
    }
    Ok(())
}

/// A duration range: both ends above zero, `min <= max`.
fn duration_range(
    ctx: &Ctx,
    value: &Option<Spanned<RangeText<DurationText>>>,
    default: Duration,
    key: &str,
) -> Result<DurationRange> {
    let Some(value) = value else { return Ok(DurationRange::fixed(default)) };
    let (min, max) = (value.get_ref().min.0, value.get_ref().max.0);
    if min.is_zero() {
        return Err(ctx.at(value, format!("`{key}` must be longer than zero")));
    }
    if min > max {
        return Err(ctx.at(
            value,
            format!("`{key}` range is backwards: min {} is above max {}", human(min), human(max)),
        ));
    }
    Ok(DurationRange { min, max })
}

fn window(
    ctx: &Ctx,
    world: &World,
    file: &NemesisFile,
    workload_start: Duration,
) -> Result<(Duration, Duration)> {
    let quiesce_start = world.quiesce_start();
    let stop = match &file.stop {
        Some(value) if value.get_ref().0 > quiesce_start => {
            return Err(ctx.at(
                value,
                format!(
                    "nemesis stop ({}) is inside the final quiesce window, which starts at {}",
                    human(value.get_ref().0),
                    human(quiesce_start)
                ),
            ));
        }
        Some(value) => value.get_ref().0,
        None => quiesce_start,
    };
    let start = file.start.as_ref().map_or(workload_start, |value| value.get_ref().0);
    if start >= stop {
        let message = format!("nemesis start ({}) must be before its stop ({})", human(start), human(stop));
        return Err(match (&file.start, &file.stop) {
            (Some(value), _) | (None, Some(value)) => ctx.at(value, message),
            (None, None) => ctx.at_span(ctx.table("nemesis", 0), message),
        });
    }
    Ok((start, stop))
}

/// The fault kinds the nemesis may inject against a target host, by form.
fn target_kinds(kinds: &[NemesisKind], families: &[NemesisFamily]) -> Vec<(&'static str, FaultKind)> {
    let legacy = kinds.iter().filter_map(|&kind| {
        let fault = match kind {
            NemesisKind::PowerCycle => FaultKind::PowerOff,
            NemesisKind::NicFlap => FaultKind::NicDown,
            NemesisKind::LinkCut | NemesisKind::OneWayCut => FaultKind::LinkCut,
            NemesisKind::Freeze => FaultKind::Freeze,
            NemesisKind::ClockStep => FaultKind::ClockStep,
            NemesisKind::WitnessDown | NemesisKind::ResourceCrash => return None,
        };
        Some((kind.as_str(), fault))
    });
    let swarm =
        families.iter().filter_map(|&family| family.target_kind().map(|fault| (family.as_str(), fault)));
    legacy.chain(swarm).collect()
}

fn targets(
    ctx: &Ctx,
    world: &World,
    file: &NemesisFile,
    kinds: &[NemesisKind],
    families: &[NemesisFamily],
) -> Result<Vec<String>> {
    let Some(targets) = &file.targets else {
        let mailboxes = world.hosts.iter().filter(|host| host.role == HostRole::Mailbox);
        return Ok(mailboxes.map(|host| host.name.clone()).collect());
    };
    if targets.get_ref().is_empty() {
        return Err(ctx.at(targets, "nemesis `targets` is empty; leave it out to target every mailbox host"));
    }
    let injected = target_kinds(kinds, families);
    let mut names: Vec<String> = Vec::with_capacity(targets.get_ref().len());
    for target in targets.get_ref() {
        let Some(host) = world.host(target.get_ref()) else {
            return Err(ctx.at(
                target,
                format!(
                    "unknown host `{}` in nemesis targets; hosts are: {}",
                    target.get_ref(),
                    world.host_names()
                ),
            ));
        };
        if names.contains(target.get_ref()) {
            return Err(ctx.at(target, format!("`{}` is listed twice in nemesis targets", target.get_ref())));
        }
        if let Some((name, reason)) = injected
            .iter()
            .find_map(|&(name, kind)| refusal_for_role(kind, host.role, false).map(|why| (name, why)))
        {
            return Err(ctx.at(
                target,
                format!(
                    "nemesis kind {name} cannot hit `{}`, a {} host: {reason}",
                    host.name,
                    host.role.as_str()
                ),
            ));
        }
        names.push(target.get_ref().clone());
    }
    Ok(names)
}

/// How many families a seed enables: default all of one to every family.
fn enabled(ctx: &Ctx, file: &NemesisFile, families: usize) -> Result<(usize, usize)> {
    let Some(value) = &file.enabled else { return Ok((1, families)) };
    let (min, max) = (value.get_ref().min as usize, value.get_ref().max as usize);
    if min == 0 || min > max || max > families {
        return Err(ctx.at(
            value,
            format!(
                "`enabled` is how many of the {families} families one seed draws from: 1 <= min <= max <= {families}"
            ),
        ));
    }
    Ok((min, max))
}

fn tolerance(ctx: &Ctx, world: &World, file: Option<&Spanned<ToleranceFile>>) -> Result<Tolerance> {
    let defaults = Tolerance::default();
    let Some(file) = file else { return Ok(defaults) };
    let mailboxes = world.hosts.iter().filter(|host| host.role == HostRole::Mailbox).count();
    let max_nodes_down = match &file.get_ref().max_nodes_down {
        Some(value) if !(0..=mailboxes as i64).contains(value.get_ref()) => {
            return Err(ctx.at(
                value,
                format!(
                    "`max_nodes_down` of {} is outside 0..={mailboxes}, the mailbox nodes",
                    value.get_ref()
                ),
            ));
        }
        Some(value) => *value.get_ref() as usize,
        None => defaults.max_nodes_down,
    };
    let witness_with_node = file.get_ref().witness_with_node.unwrap_or(defaults.witness_with_node);
    Ok(Tolerance { max_nodes_down, witness_with_node })
}

fn settings(ctx: &Ctx, world: &World, file: Option<&Spanned<SettingsFile>>) -> Result<SettingRanges> {
    let Some(file) = file.map(Spanned::get_ref) else { return Ok(SettingRanges::default()) };
    let heartbeat_threshold = match &file.heartbeat_threshold {
        Some(value) => {
            let (min, max) = (value.get_ref().min, value.get_ref().max);
            if min == 0 || min > max || max > 120 {
                return Err(ctx.at(
                    value,
                    "`heartbeat_threshold` range must satisfy 1 <= min <= max <= 120 (WSFC allows 3 to 120)",
                ));
            }
            Some((min, max))
        }
        None => None,
    };
    let online =
        |value: &Option<Spanned<RangeText<DurationText>>>, key: &str| -> Result<Option<DurationRange>> {
            let Some(value) = value else { return Ok(None) };
            let (min, max) = (value.get_ref().min.0, value.get_ref().max.0);
            if min > max || max > HOUR {
                return Err(ctx.at(value, format!("`{key}` range must satisfy min <= max <= 1h")));
            }
            Ok(Some(DurationRange { min, max }))
        };
    let mut mount_dial = Vec::new();
    if let Some(dials) = &file.mount_dial {
        if dials.get_ref().is_empty() {
            return Err(ctx.at(dials, "`mount_dial` lists the dials to draw from; name at least one"));
        }
        for dial in dials.get_ref() {
            if mount_dial.contains(dial.get_ref()) {
                return Err(ctx.at(dial, "this mount dial is listed twice"));
            }
            mount_dial.push(*dial.get_ref());
        }
    }
    Ok(SettingRanges {
        heartbeat_threshold,
        resource_online_time: online(&file.resource_online_time, "resource_online_time")?,
        mount_time: online(&file.mount_time, "mount_time")?,
        mount_dial,
        dumpster_size_bytes: dumpster_size(ctx, &file.dumpster_size)?,
        clock_drift: clock_drift(ctx, world, &file.clock_drift_ppm)?,
    })
}

/// Every host draws its own drift within the range (the range a host's own `clock_drift_ppm` allows).
fn clock_drift(
    ctx: &Ctx,
    world: &World,
    value: &Option<Spanned<RangeText<i32>>>,
) -> Result<Option<DriftRange>> {
    let Some(value) = value else { return Ok(None) };
    let (min, max) = (value.get_ref().min, value.get_ref().max);
    if min > max || min < -1000 || max > 1000 {
        return Err(ctx.at(value, "`clock_drift_ppm` range must satisfy -1000 <= min <= max <= 1000"));
    }
    let hosts = world.hosts.iter().map(|host| host.name.clone()).collect();
    Ok(Some(DriftRange { min, max, hosts }))
}

fn dumpster_size(ctx: &Ctx, value: &Option<Spanned<RangeText<SizeText>>>) -> Result<Option<(u64, u64)>> {
    let Some(value) = value else { return Ok(None) };
    let (min, max) = (value.get_ref().min.0, value.get_ref().max.0);
    if min == 0 || min > max || max > MAX_SIZE_BYTES {
        return Err(ctx.at(value, "`dumpster_size` range must satisfy 0 < min <= max <= 1GB"));
    }
    Ok(Some((min, max)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_family_names_itself_as_files_spell_it() {
        for family in super::NemesisFamily::ALL {
            let parsed: super::NemesisFamily =
                serde_json::from_str(&format!("\"{}\"", family.as_str())).expect("a family name");
            assert_eq!(parsed, family);
        }
    }
}
