//! Bounds that make every scenario that loads runnable in memory and time proportional to the work it
//! asks for: floors and ceilings on timers, a floor on the mail rate, the capacity of the model's
//! identifiers, how far a host clock may be from true time, and an estimate of the run's size, refused
//! above [`MAX_RUN_EVENTS`]. Every refusal points at the key to change.
//!
//! These checks run after the rest of validation, on the validated scenario, so a value that is wrong
//! in a plainer way (zero, negative, no unit) keeps its plainer message.

use super::{Ctx, HOUR, MAX_RUN, Result, SECOND, at_most, duration_of, human};
use crate::scenario::fault::{Fault, RunFault};
use crate::scenario::file::{HostFile, ScenarioFile};
use crate::scenario::model::{
    ClusterKind, DiskFencing, HostDef, HostRole, NemesisFamily, NemesisKind, Scenario, Target,
};
use crate::scenario::units::{DurationText, RangeText, SignedDurationText};
use std::fmt;
use std::ops::Range;
use std::time::Duration;
use toml::Spanned;

/// The most kernel events a scenario may ask for: a bound on time, since memory no longer grows with
/// the run (a campaign checks a run's history as it is produced and lets it go; the reference drill's
/// week, about 111 million events, peaks at 16 MiB). The catalogue's largest, the 2-hour banking lab,
/// is estimated at about 750,000. A release build simulates 0.4 to 1.4 million events a second (the
/// lower figure under heavy mail), so a run at the limit takes three to ten minutes: heavy, but what a
/// workstation does. Beyond it (30 days of mail at the default rate is about 230 million) a
/// campaign of several seeds does not finish in a night. A run page holds the whole history, and
/// `drill run` draws one only up to `cli::run::MAX_PAGE_EVENTS`.
pub const MAX_RUN_EVENTS: u64 = 200_000_000;

/// How far a host clock may be from true time, by its offset and clock steps together: the ±30 days
/// the documentation has always promised. The world starts host clocks 10,000 days ahead of zero
/// (`world/clock.rs`), so everything within this is modelled exactly.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(30 * 86_400);

/// The shortest protocol timer drill simulates.
const MIN_TIMER: Duration = Duration::from_millis(10);

/// Why [`MIN_TIMER`] is where it is, after the real products' own figure.
const MIN_TIMER_REASON: &str = "10ms is drill's floor for protocol timers: shorter ones flood the run with events, and \
     a node acts on millisecond ticks, so they would not be modelled as written";

/// The lowest mail rate above zero: one message every 16m40s on average.
const MIN_RATE: f64 = 0.001;

/// The most attempts an I/O may be given.
const MAX_RETRY_COUNT: u32 = 100;

/// The shortest mean time between nemesis faults and the shortest fault it may draw.
const MIN_NEMESIS: Duration = SECOND;

/// Events one fault is budgeted: its injection, its heal and the failover traffic it provokes
/// (measured at 100 to 800 on the nightly nemesis scenarios).
const EVENTS_PER_FAULT: f64 = 500.0;

/// The values of a scenario file that these checks blame, kept from the file model before validation
/// consumes it.
pub(super) struct Spans {
    duration: Spanned<DurationText>,
    timers: Vec<Timer>,
    rate: Option<Spanned<f64>>,
    retry_count: Option<Spanned<u32>>,
    witness_lease: Option<Range<usize>>,
    takeover_margin: Option<Range<usize>>,
    hosts: Vec<HostSpans>,
    networks: Vec<Range<usize>>,
    /// The `bandwidth` of each network, when the file sets it.
    bandwidths: Vec<Option<Range<usize>>>,
    databases: Vec<Range<usize>>,
    luns: Vec<Range<usize>>,
    /// `(at, value)` of every fault, in file order.
    faults: Vec<(Duration, Option<Range<usize>>)>,
    nemesis_clock_step: Option<Range<usize>>,
    /// Keys the run-size estimate may blame, by name.
    keys: Vec<(&'static str, Range<usize>)>,
}

struct HostSpans {
    name: Range<usize>,
    clock_offset: Option<Spanned<SignedDurationText>>,
}

/// One duration key with its bounds.
struct Timer {
    key: &'static str,
    value: Option<Spanned<DurationText>>,
    floor: Option<(Duration, &'static str)>,
    ceiling: Option<(Duration, &'static str)>,
}

const NO_TIMER_THAT_LONG: &str = "no timer in the domain comes near it";
const LONGER_THAN_ANY_RUN: &str = "longer than the longest run drill simulates";

impl Spans {
    pub(super) fn of(file: &ScenarioFile) -> Spans {
        let cluster = file.cluster.as_ref();
        let storage = file.storage.as_ref();
        let nemesis = file.nemesis.as_ref();
        // A range's floor is its `min`: the shortest interval or fault a seed may draw.
        let lower = |value: Option<&Spanned<RangeText<DurationText>>>| {
            value.map(|value| Spanned::new(value.span(), value.get_ref().min))
        };
        let nemesis_mean_interval = lower(nemesis.and_then(|n| n.mean_interval.as_ref()));
        let nemesis_max_fault_duration = lower(nemesis.and_then(|n| n.max_fault_duration.as_ref()));
        let protocol = |key: &'static str, value: Option<&Spanned<DurationText>>, real: &'static str| Timer {
            key,
            value: value.cloned(),
            floor: Some((MIN_TIMER, real)),
            ceiling: Some((HOUR, NO_TIMER_THAT_LONG)),
        };
        let delay = |key: &'static str, value: Option<&Spanned<DurationText>>| Timer {
            key,
            value: value.cloned(),
            floor: None,
            ceiling: Some((HOUR, NO_TIMER_THAT_LONG)),
        };
        let span = |key: &'static str, value: Option<&Spanned<DurationText>>, floor| Timer {
            key,
            value: value.cloned(),
            floor,
            ceiling: Some((MAX_RUN, LONGER_THAN_ANY_RUN)),
        };
        let mut timers = vec![
            protocol(
                "heartbeat_interval",
                cluster.and_then(|c| c.heartbeat_interval.as_ref()),
                "WSFC's SameSubnetDelay is 250ms to 2s",
            ),
            protocol(
                "health_check_interval",
                cluster.and_then(|c| c.health_check_interval.as_ref()),
                "cluster resources are checked every few seconds",
            ),
            protocol(
                "witness_lease",
                cluster.and_then(|c| c.witness_lease.as_ref()),
                "a file share witness lock is held for seconds",
            ),
            protocol(
                "arbitration_delay",
                cluster.and_then(|c| c.arbitration_delay.as_ref()),
                "Windows disk arbitration waits about 6s",
            ),
            protocol(
                "defense_interval",
                cluster.and_then(|c| c.defense_interval.as_ref()),
                "an owner defends its disks every 3s",
            ),
            protocol(
                "data_path_check_interval",
                cluster.and_then(|c| c.data_path_check_interval.as_ref()),
                "the default is 5s",
            ),
            protocol(
                "data_path_timeout",
                cluster.and_then(|c| c.data_path_timeout.as_ref()),
                "the default is 15s",
            ),
            protocol(
                "storage_request_timeout",
                cluster.and_then(|c| c.storage_request_timeout.as_ref()),
                "the default is 10s",
            ),
            protocol(
                "polling_interval",
                storage.and_then(|s| s.polling_interval.as_ref()),
                "dm-multipath's polling_interval is whole seconds, 5s by default",
            ),
            protocol(
                "noop_out_interval",
                storage.and_then(|s| s.noop_out_interval.as_ref()),
                "open-iscsi sets it in whole seconds, 5s by default",
            ),
            protocol(
                "noop_out_timeout",
                storage.and_then(|s| s.noop_out_timeout.as_ref()),
                "open-iscsi sets it in whole seconds, 5s by default",
            ),
            protocol(
                "replacement_timeout",
                storage.and_then(|s| s.replacement_timeout.as_ref()),
                "open-iscsi's is 120s, 5 to 15s under multipath",
            ),
            protocol(
                "command_timeout",
                storage.and_then(|s| s.command_timeout.as_ref()),
                "the SCSI command timer is 30 to 60s",
            ),
            protocol(
                "pdo_remove_period",
                storage.and_then(|s| s.pdo_remove_period.as_ref()),
                "MSDSM's PDORemovePeriod is 20s",
            ),
            protocol(
                "retry_interval",
                storage.and_then(|s| s.retry_interval.as_ref()),
                "MSDSM's RetryInterval is 1s",
            ),
            delay("replay_time_per_log", cluster.and_then(|c| c.replay_time_per_log.as_ref())),
            delay("mount_time", cluster.and_then(|c| c.mount_time.as_ref())),
            delay("resource_online_time", cluster.and_then(|c| c.resource_online_time.as_ref())),
            delay("read_service_time", storage.and_then(|s| s.read_service_time.as_ref())),
            delay("write_service_time", storage.and_then(|s| s.write_service_time.as_ref())),
            span(
                "log_roll_idle",
                cluster.and_then(|c| c.log_roll_idle.as_ref()),
                Some((MIN_TIMER, "Exchange closes an idle log after minutes")),
            ),
            span("dumpster_time", file.transport.as_ref().and_then(|t| t.dumpster_time.as_ref()), None),
            span(
                "mean_interval",
                nemesis_mean_interval.as_ref(),
                Some((
                    MIN_NEMESIS,
                    "every fault and its failover cost the run hundreds of events; the catalogue's nemeses \
                     draw one every 45s",
                )),
            ),
            span(
                "max_fault_duration",
                nemesis_max_fault_duration.as_ref(),
                Some((MIN_NEMESIS, "the nemesis holds every fault it draws for at least 1s")),
            ),
            span("rto", Some(&file.checks.rto), None),
            span("liveness_bound", file.checks.liveness_bound.as_ref(), None),
        ];
        for database in &file.database {
            for resource in &database.resource {
                timers.push(delay("online_time", resource.online_time.as_ref()));
            }
        }
        let mut keys: Vec<(&'static str, Range<usize>)> = timers
            .iter()
            .filter_map(|timer| timer.value.as_ref().map(|value| (timer.key, value.span())))
            .collect();
        if let Some(host) = file.host.first() {
            keys.push(("[[host]]", host.name.span()));
        }
        if let Some(workload) = &file.workload {
            if let Some(rate) = &workload.rate_per_second {
                keys.push(("rate_per_second", rate.span()));
            }
            if let Some(size) = &workload.message_size {
                keys.push(("message_size", size.span()));
            }
        }
        let nemesis_clock_step = nemesis.and_then(|nemesis| {
            let kind = nemesis.kinds.as_ref().and_then(|kinds| {
                kinds
                    .get_ref()
                    .iter()
                    .find(|kind| *kind.get_ref() == NemesisKind::ClockStep)
                    .map(Spanned::span)
            });
            let family = nemesis.families.as_ref().and_then(|families| {
                families
                    .get_ref()
                    .iter()
                    .find(|family| *family.get_ref() == NemesisFamily::ClockStep)
                    .map(Spanned::span)
            });
            kind.or(family)
        });
        Spans {
            duration: file.duration.clone(),
            timers,
            rate: file.workload.as_ref().and_then(|workload| workload.rate_per_second.clone()),
            retry_count: storage.and_then(|storage| storage.retry_count.clone()),
            witness_lease: cluster.and_then(|c| c.witness_lease.as_ref()).map(Spanned::span),
            takeover_margin: cluster.and_then(|c| c.takeover_margin.as_ref()).map(Spanned::span),
            hosts: file.host.iter().map(HostSpans::of).collect(),
            networks: file.network.iter().map(|network| network.name.span()).collect(),
            bandwidths: file
                .network
                .iter()
                .map(|network| network.bandwidth.as_ref().map(Spanned::span))
                .collect(),
            databases: file.database.iter().map(|database| database.name.span()).collect(),
            luns: file.lun.iter().map(|lun| lun.name.span()).collect(),
            faults: file
                .fault
                .iter()
                .map(|fault| (duration_of(&fault.at), fault.value.as_ref().map(Spanned::span)))
                .collect(),
            nemesis_clock_step,
            keys,
        }
    }

    /// The span of `key` when the file sets it, else of `duration`.
    fn key_or_duration(&self, key: &str) -> Range<usize> {
        self.keys
            .iter()
            .find(|(name, _)| *name == key)
            .map_or_else(|| self.duration.span(), |(_, span)| span.clone())
    }
}

impl HostSpans {
    fn of(host: &HostFile) -> HostSpans {
        HostSpans { name: host.name.span(), clock_offset: host.clock_offset.clone() }
    }
}

/// Every bound of this module, in the order a reader fixes them: each timer, the mail rate, retries,
/// the witness lease, identifier capacity, host clocks, and last the size of the whole run.
pub(super) fn check(ctx: &Ctx, spans: &Spans, scenario: &Scenario) -> Result<()> {
    check_timers(ctx, spans)?;
    check_rate(ctx, spans)?;
    check_retry_count(ctx, spans)?;
    check_witness_lease(ctx, spans, scenario)?;
    check_mail_bandwidth(ctx, spans, scenario)?;
    check_capacity(ctx, spans, scenario)?;
    check_clocks(ctx, spans, scenario)?;
    check_size(ctx, spans, scenario)
}

fn check_timers(ctx: &Ctx, spans: &Spans) -> Result<()> {
    for timer in &spans.timers {
        let Some(value) = &timer.value else { continue };
        if let Some((floor, real)) = timer.floor
            && duration_of(value) < floor
        {
            let why =
                if floor == MIN_TIMER { format!("{real}; {MIN_TIMER_REASON}") } else { real.to_string() };
            return Err(ctx.at(
                value,
                format!(
                    "`{}` of {} is too short: it must be at least {} ({why})",
                    timer.key,
                    human(duration_of(value)),
                    human(floor)
                ),
            ));
        }
        if let Some((ceiling, why)) = timer.ceiling {
            at_most(ctx, &timer.value, ceiling, timer.key, why)?;
        }
    }
    Ok(())
}

fn check_rate(ctx: &Ctx, spans: &Spans) -> Result<()> {
    match &spans.rate {
        Some(rate) if *rate.get_ref() > 0.0 && *rate.get_ref() < MIN_RATE => Err(ctx.at(
            rate,
            format!(
                "`rate_per_second` of {:?} is too low: write 0 for no mail, or at least {MIN_RATE} (one message \
                 every 16m40s on average)",
                rate.get_ref()
            ),
        )),
        _ => Ok(()),
    }
}

fn check_retry_count(ctx: &Ctx, spans: &Spans) -> Result<()> {
    match &spans.retry_count {
        Some(count) if *count.get_ref() > MAX_RETRY_COUNT => Err(ctx.at(
            count,
            format!(
                "`retry_count` of {} is absurd: it must be at most {MAX_RETRY_COUNT} (MSDSM's RetryCount is 3)",
                count.get_ref()
            ),
        )),
        _ => Ok(()),
    }
}

/// A node counts a granted witness lease for `witness_lease - takeover_margin`; with nothing left it
/// never holds the vote and asks the witness again at once, for the whole run.
fn check_witness_lease(ctx: &Ctx, spans: &Spans, scenario: &Scenario) -> Result<()> {
    let cluster = &scenario.cluster;
    if cluster.witness.is_none()
        || cluster.settings.witness_lease >= cluster.settings.takeover_margin + MIN_TIMER
    {
        return Ok(());
    }
    let Some(span) = spans.witness_lease.clone().or_else(|| spans.takeover_margin.clone()) else {
        return Ok(());
    };
    Err(ctx.at_span(
        span,
        format!(
            "`witness_lease` ({}) must exceed `takeover_margin` ({}) by at least {}: a node counts a granted \
             lease for `witness_lease - takeover_margin`, so with nothing left it would never hold the witness \
             vote and would ask for it again at once",
            human(cluster.settings.witness_lease),
            human(cluster.settings.takeover_margin),
            human(MIN_TIMER)
        ),
    ))
}

/// The most of a network's bandwidth the mail may need.
const MAX_MAIL_LOAD: f64 = 0.9;

/// Each hub delivers its share of the mail over its first network shared with a mailbox host, as the
/// world routes it. Mail that needs more than that network carries backs up for the rest of the run:
/// every message queues behind the others and is retried, a cost that grows faster than the run (a
/// sweep found 10,000 messages a second on a gigabit network taking 17 GB). Such a run tests a queue,
/// not failover, so it is refused.
fn check_mail_bandwidth(ctx: &Ctx, spans: &Spans, scenario: &Scenario) -> Result<()> {
    let workload = &scenario.workload;
    let hubs: Vec<&HostDef> = scenario.hosts.iter().filter(|host| host.role == HostRole::Hub).collect();
    if workload.rate_per_second <= 0.0 || hubs.is_empty() {
        return Ok(());
    }
    let storage_networks: &[String] = scenario.storage.as_ref().map_or(&[], |storage| &storage.networks);
    let mailboxes: Vec<&HostDef> =
        scenario.hosts.iter().filter(|host| host.role == HostRole::Mailbox).collect();
    // A delivery carries the message and a 256-byte envelope (`failover::Message::wire_bytes`).
    let bits_per_message = (workload.message_size_bytes.min(u64::from(u32::MAX)) as f64 + 256.0) * 8.0;
    let offered = workload.rate_per_second / hubs.len() as f64 * bits_per_message;
    for hub in hubs {
        let route = hub.networks.iter().find(|network| {
            !storage_networks.contains(network) && mailboxes.iter().any(|host| host.has_nic_on(network))
        });
        let Some((index, network)) = route
            .and_then(|name| scenario.networks.iter().enumerate().find(|(_, network)| &network.name == name))
        else {
            continue;
        };
        let bandwidth = network.spec.bandwidth_bits_per_second as f64;
        if offered <= MAX_MAIL_LOAD * bandwidth {
            continue;
        }
        let bandwidth_span = spans.bandwidths.get(index).cloned().flatten();
        let span = ["rate_per_second", "message_size"]
            .iter()
            .find_map(|key| spans.keys.iter().find(|(name, _)| name == key).map(|(_, span)| span.clone()))
            .or(bandwidth_span)
            .unwrap_or_else(|| spans.duration.span());
        return Err(ctx.at_span(
            span,
            format!(
                "the mail needs {} from hub `{}` over network `{}` ({} messages/s of {} bytes), more than {:.0}% \
                 of its {}: the backlog would grow for the whole run; lower `rate_per_second` or \
                 `message_size`, or raise the network's `bandwidth`",
                bit_rate(offered),
                hub.name,
                network.name,
                workload.rate_per_second,
                workload.message_size_bytes,
                MAX_MAIL_LOAD * 100.0,
                bit_rate(bandwidth)
            ),
        ));
    }
    Ok(())
}

/// `1.6 Gbit/s`, `45 Mbit/s`, `9.6 kbit/s`.
fn bit_rate(bits_per_second: f64) -> String {
    let (value, unit) = match bits_per_second {
        b if b >= 1e9 => (b / 1e9, "Gbit/s"),
        b if b >= 1e6 => (b / 1e6, "Mbit/s"),
        b if b >= 1e3 => (b / 1e3, "kbit/s"),
        b => (b, "bit/s"),
    };
    let text = format!("{value:.1}");
    format!("{} {unit}", text.strip_suffix(".0").unwrap_or(&text))
}

/// The model numbers mailbox nodes, hubs, networks, databases and LUNs with 16 bits and a node's
/// storage paths with 8.
fn check_capacity(ctx: &Ctx, spans: &Spans, scenario: &Scenario) -> Result<()> {
    const SIXTEEN_BITS: usize = u16::MAX as usize;
    let too_many = |span: Option<&Range<usize>>, what: &str, limit: usize| -> Result<()> {
        match span {
            Some(span) => Err(ctx.at_span(
                span.clone(),
                format!("too many {what}: drill's model numbers them up to {limit}, and this is one more"),
            )),
            None => Ok(()),
        }
    };
    for role in [HostRole::Mailbox, HostRole::Hub] {
        let beyond = scenario
            .hosts
            .iter()
            .zip(&spans.hosts)
            .filter(|(host, _)| host.role == role)
            .nth(SIXTEEN_BITS)
            .map(|(_, host)| &host.name);
        too_many(beyond, &format!("{} hosts", role.as_str()), SIXTEEN_BITS)?;
    }
    too_many(spans.networks.get(SIXTEEN_BITS), "networks", SIXTEEN_BITS)?;
    too_many(spans.databases.get(SIXTEEN_BITS), "databases", SIXTEEN_BITS)?;
    too_many(spans.luns.get(SIXTEEN_BITS), "LUNs", SIXTEEN_BITS)?;
    if let Some(storage) = &scenario.storage
        && storage.networks.len() > usize::from(u8::MAX)
    {
        let array = scenario.hosts.iter().zip(&spans.hosts).find(|(host, _)| host.name == storage.array);
        too_many(array.map(|(_, host)| &host.name), "iSCSI networks on the array", usize::from(u8::MAX))?;
    }
    Ok(())
}

/// How far the nemesis's clock steps may plausibly add up: each is uniform in ±30 s, so their sum is a
/// random walk. The bound is ten standard deviations of that walk over ten standard deviations more
/// steps than expected (a chance below 10^-20 per run of being exceeded), and never more than every
/// step in one direction.
fn nemesis_clock_allowance(scenario: &Scenario) -> Duration {
    let Some(nemesis) = &scenario.nemesis else { return Duration::ZERO };
    // A swarm seed may enable clock-step alone, so every draw of it may be a step.
    let share = match (
        nemesis.kinds.contains(&NemesisKind::ClockStep),
        nemesis.families.contains(&NemesisFamily::ClockStep),
    ) {
        (true, _) => nemesis.kinds.len() as f64,
        (_, true) => 1.0,
        (false, false) => return Duration::ZERO,
    };
    let window = nemesis.stop.saturating_sub(nemesis.start).as_secs_f64();
    let expected = window / nemesis.mean_interval.min.as_secs_f64().max(1e-9) / share;
    let steps = expected + 10.0 * expected.sqrt() + 10.0;
    let largest = 30.0;
    let walk = 10.0 * (largest / 3f64.sqrt()) * steps.sqrt();
    Duration::try_from_secs_f64(walk.min(largest * steps)).unwrap_or(Duration::MAX)
}

/// Every host clock stays within [`MAX_CLOCK_SKEW`] of true time: its offset, each clock step that
/// may hit it (a step with a role target may hit any mailbox host), and what the nemesis may add.
fn check_clocks(ctx: &Ctx, spans: &Spans, scenario: &Scenario) -> Result<()> {
    let limit = i128::try_from(MAX_CLOCK_SKEW.as_nanos()).unwrap_or(i128::MAX);
    let allowance = nemesis_clock_allowance(scenario);
    let allowance_nanos = i128::try_from(allowance.as_nanos()).unwrap_or(i128::MAX);
    // Validated faults are the file's in stable `at` order.
    let mut order: Vec<usize> = (0..spans.faults.len()).collect();
    order.sort_by_key(|&index| spans.faults.get(index).map(|(at, _)| *at));
    let nemesis_note = if allowance.is_zero() {
        String::new()
    } else {
        format!(", and up to {} from the nemesis's clock steps", human(allowance))
    };
    for (host, host_spans) in scenario.hosts.iter().zip(&spans.hosts) {
        if host.role != HostRole::Mailbox {
            continue;
        }
        let offset = i128::from(host.clock_offset_nanos);
        let (mut behind, mut ahead) = (offset, offset);
        let mut blame: Option<Range<usize>> = host_spans.clock_offset.as_ref().map(Spanned::span);
        let check = |behind: i128, ahead: i128, blame: &Option<Range<usize>>| -> Result<()> {
            let (worst, direction) = if -behind >= ahead { (-behind, "behind") } else { (ahead, "ahead of") };
            if worst.saturating_add(allowance_nanos) <= limit {
                return Ok(());
            }
            let span = blame
                .clone()
                .or_else(|| spans.nemesis_clock_step.clone())
                .unwrap_or_else(|| host_spans.name.clone());
            let amount = Duration::from_nanos(u64::try_from(worst).unwrap_or(u64::MAX));
            Err(ctx.at_span(
                span,
                format!(
                    "the clock of `{}` could be {} {direction} true time (its `clock_offset` and every clock \
                     step that may hit it{nemesis_note}); drill models a host clock at most {} from true time",
                    host.name,
                    human(amount),
                    human(MAX_CLOCK_SKEW)
                ),
            ))
        };
        check(behind, ahead, &blame)?;
        for (&index, fault) in order.iter().zip(&scenario.faults) {
            let Fault::Run(RunFault::ClockStep { target, step_nanos }) = &fault.fault else {
                continue;
            };
            let step = i128::from(*step_nanos);
            match target {
                Target::Host(name) if *name != host.name => continue,
                Target::Host(_) => {
                    behind += step;
                    ahead += step;
                }
                _ if step < 0 => behind += step,
                _ => ahead += step,
            }
            blame = spans.faults.get(index).and_then(|(_, value)| value.clone()).or(blame);
            check(behind, ahead, &blame)?;
        }
    }
    Ok(())
}

fn check_size(ctx: &Ctx, spans: &Spans, scenario: &Scenario) -> Result<()> {
    let size = RunSize::of(scenario);
    if size.events() <= MAX_RUN_EVENTS {
        return Ok(());
    }
    let Some(dominant) = size.dominant() else { return Ok(()) };
    Err(ctx.at_span(
        spans.key_or_duration(dominant.blamed_key()),
        format!(
            "this run would simulate about {} events (limit {}), more than a run can take in reasonable time; \
             about {} of them are {}; {}",
            about(size.events()),
            about(MAX_RUN_EVENTS),
            about(dominant.events()),
            dominant,
            dominant.remedy()
        ),
    ))
}

/// A duration for a message about sizes, where the exact nanosecond does not matter: `230s`, `4m`,
/// `30d`, or one decimal of the largest unit, `29.9d`.
fn roughly(duration: Duration) -> String {
    let exact = human(duration);
    if exact.len() <= 5 {
        return exact;
    }
    let seconds = duration.as_secs_f64();
    let (value, unit) = match seconds {
        s if s >= 86_400.0 => (s / 86_400.0, "d"),
        s if s >= 3_600.0 => (s / 3_600.0, "h"),
        s if s >= 60.0 => (s / 60.0, "m"),
        s => (s, "s"),
    };
    let text = format!("{value:.1}");
    format!("{}{unit}", text.strip_suffix(".0").unwrap_or(&text))
}

/// A round figure in words: `750,000`, `2.1 million`, `207 million`, `4.2 billion`.
fn about(count: u64) -> String {
    let count = count as f64;
    let (value, unit) = match count {
        c if c >= 1e15 => return format!("{c:.1e}"),
        c if c >= 1e12 => (c / 1e12, " trillion"),
        c if c >= 1e9 => (c / 1e9, " billion"),
        c if c >= 1e6 => (c / 1e6, " million"),
        c => {
            // Three significant figures, with thousands separators.
            let magnitude = if c >= 1000.0 { 10f64.powi(c.log10().floor() as i32 - 2) } else { 1.0 };
            let rounded = ((c / magnitude).round() * magnitude) as u64;
            let digits = rounded.to_string();
            let mut grouped = String::new();
            for (index, digit) in digits.chars().enumerate() {
                if index > 0 && (digits.len() - index).is_multiple_of(3) {
                    grouped.push(',');
                }
                grouped.push(digit);
            }
            return grouped;
        }
    };
    if value < 10.0 { format!("{value:.1}{unit}") } else { format!("{value:.0}{unit}") }
}

/// An estimate of how many kernel events a run of a scenario pops, by source, computed at load so a
/// scenario no machine could simulate is refused before it runs. Each source is its count of periodic
/// timers or messages over the run times the events each costs, measured on the catalogue (see
/// `docs/scenarios.md`, "Run size"); the estimate is within about 20 % of the events actually popped,
/// mostly above.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSize {
    parts: Vec<SizePart>,
}

/// One source of events and its estimate.
#[derive(Clone, Debug, PartialEq)]
pub struct SizePart {
    source: Source,
    events: f64,
}

#[derive(Clone, Debug, PartialEq)]
enum Source {
    Heartbeats { nodes: usize, paths: usize, every: Duration, run: Duration },
    HealthChecks { nodes: usize, every: Duration },
    WitnessRenewals { nodes: usize, every: Duration },
    Mail { rate: f64, window: Duration, per_message: f64 },
    NopOuts { sessions: usize, every: Duration },
    PathChecks { paths: usize, every: Duration },
    ReservationChecks { disks: usize, paths: usize, every: Duration },
    DataPathChecks { disks: usize, every: Duration },
    Faults { fixed: usize, drawn: f64 },
    Links { pairs: usize },
}

/// How many times a timer of period `every` fires in `run`, counting time zero; node timers fire at
/// most once a millisecond, however short.
fn firings(run: Duration, every: Duration) -> f64 {
    run.as_secs_f64() / every.as_secs_f64().max(1e-3) + 1.0
}

impl RunSize {
    pub fn of(scenario: &Scenario) -> RunSize {
        let cluster = &scenario.cluster;
        let run = scenario.duration;
        let nodes = scenario.hosts.iter().filter(|host| host.role == HostRole::Mailbox).count();
        let storage_networks: &[String] = scenario.storage.as_ref().map_or(&[], |storage| &storage.networks);
        let hosts_on = |network: &str, role: Option<HostRole>| {
            scenario
                .hosts
                .iter()
                .filter(|host| host.has_nic_on(network) && role.is_none_or(|role| host.role == role))
                .count()
        };
        // Heartbeats go on every non-iSCSI network that two mailbox hosts share, as the world sends them.
        let paths = scenario
            .networks
            .iter()
            .filter(|network| !storage_networks.contains(&network.name))
            .filter(|network| hosts_on(&network.name, Some(HostRole::Mailbox)) >= 2)
            .count();
        let mut parts = Vec::new();
        let mut add = |source: Source, events: f64| parts.push(SizePart { source, events });

        // Each node wakes once per heartbeat and each heartbeat it sends arrives as one event.
        let every = cluster.settings.heartbeat_interval;
        let per_round = nodes as f64 * (nodes.saturating_sub(1) as f64 * paths as f64 + 1.0);
        add(Source::Heartbeats { nodes, paths, every, run }, firings(run, every) * per_round);
        let every = cluster.settings.health_check_interval;
        add(Source::HealthChecks { nodes, every }, firings(run, every) * nodes as f64);
        if cluster.witness.is_some() {
            // A holder renews half a lease on, or when the lease, less the margin, runs out: a request,
            // its answer and a wake.
            let lease = cluster.settings.witness_lease;
            let every = (lease / 2).max(lease.saturating_sub(cluster.settings.takeover_margin));
            add(Source::WitnessRenewals { nodes, every }, firings(run, every) * nodes as f64 * 3.0);
        }

        let workload = &scenario.workload;
        if workload.rate_per_second > 0.0 {
            let window = workload.stop.saturating_sub(workload.start);
            let messages = workload.rate_per_second * window.as_secs_f64();
            // Submit, delivery to the owner and the acknowledgement, plus a wake of the hub; a shared
            // disk adds the write's trip to the array and back; a replicated copy ships each closed log
            // to every passive copy (two events per copy), a log closing when full or idle.
            let per_message = match cluster.kind {
                ClusterKind::Scc => 7.0,
                ClusterKind::Ccr => {
                    let passives = scenario
                        .databases
                        .iter()
                        .map(|database| database.copies.len().saturating_sub(1) as f64)
                        .fold(0.0, f64::max);
                    let full =
                        workload.message_size_bytes as f64 / cluster.settings.log_size_bytes.max(1) as f64;
                    let idle = 1.0
                        / (workload.rate_per_second * cluster.settings.log_roll_idle.as_secs_f64().max(1e-3))
                            .max(1e-9);
                    4.0 + 2.0 * passives * (full + idle).min(1.0)
                }
            };
            add(Source::Mail { rate: workload.rate_per_second, window, per_message }, messages * per_message);
        }

        if let Some(storage) = &scenario.storage {
            let paths = storage.networks.len();
            let sessions = nodes.saturating_mul(paths);
            // A NOP-Out and its NOP-In, and a path checker's TEST UNIT READY and its answer, cost about
            // two events each (measured 1.3 and 1.6).
            let every = storage.initiator.noop_out_interval;
            add(Source::NopOuts { sessions, every }, firings(run, every) * sessions as f64 * 2.0);
            let every = storage.initiator.polling_interval;
            add(Source::PathChecks { paths: sessions, every }, firings(run, every) * sessions as f64 * 2.0);
            let data_disks: usize = scenario.databases.iter().map(|database| database.disks().len()).sum();
            let claimed = data_disks + usize::from(cluster.disk_witness.is_some());
            if cluster.settings.disk_fencing != DiskFencing::Disabled {
                // The owner reads the reservation down every path: out, at the array, back, answered.
                let every = cluster.settings.defense_interval;
                add(
                    Source::ReservationChecks { disks: claimed, paths, every },
                    firings(run, every) * claimed as f64 * (4.0 * paths as f64 + 1.0),
                );
            }
            let every = cluster.settings.data_path_check_interval;
            add(
                Source::DataPathChecks { disks: data_disks, every },
                firings(run, every) * data_disks as f64 * 4.0,
            );
        }

        let drawn = scenario.nemesis.as_ref().map_or(0.0, |nemesis| {
            nemesis.stop.saturating_sub(nemesis.start).as_secs_f64()
                / nemesis.mean_interval.min.as_secs_f64().max(1e-9)
        });
        let fixed = scenario.faults.len();
        add(Source::Faults { fixed, drawn }, (fixed as f64 + drawn) * EVENTS_PER_FAULT);

        // The fabric builds a link for every pair of hosts on a network.
        let pairs: usize = scenario
            .networks
            .iter()
            .map(|network| hosts_on(&network.name, None).saturating_pow(2))
            .fold(0, usize::saturating_add);
        add(Source::Links { pairs }, pairs as f64);
        RunSize { parts }
    }

    /// The estimated number of kernel events, saturating.
    pub fn events(&self) -> u64 {
        let total: f64 = self.parts.iter().map(|part| part.events).sum();
        if total.is_finite() && total < u64::MAX as f64 { total.round() as u64 } else { u64::MAX }
    }

    /// The source with the most events.
    pub fn dominant(&self) -> Option<&SizePart> {
        self.parts.iter().max_by(|a, b| a.events.total_cmp(&b.events))
    }

    /// Every source and its estimate, in a fixed order.
    pub fn parts(&self) -> &[SizePart] {
        &self.parts
    }
}

impl SizePart {
    pub fn events(&self) -> u64 {
        if self.events.is_finite() && self.events < u64::MAX as f64 {
            self.events.round() as u64
        } else {
            u64::MAX
        }
    }

    /// The key that sets this source's rate, which a refusal points at (or `duration` when the file
    /// leaves that key at its default); links point at the first host.
    fn blamed_key(&self) -> &'static str {
        match self.source {
            Source::Heartbeats { .. } => "heartbeat_interval",
            Source::HealthChecks { .. } => "health_check_interval",
            Source::WitnessRenewals { .. } => "witness_lease",
            Source::Mail { .. } => "rate_per_second",
            Source::NopOuts { .. } => "noop_out_interval",
            Source::PathChecks { .. } => "polling_interval",
            Source::ReservationChecks { .. } => "defense_interval",
            Source::DataPathChecks { .. } => "data_path_check_interval",
            Source::Faults { .. } => "mean_interval",
            Source::Links { .. } => "[[host]]",
        }
    }

    fn remedy(&self) -> String {
        match self.source {
            Source::Mail { .. } => "lower `rate_per_second` or shorten `duration`".to_string(),
            Source::Faults { .. } => {
                "lengthen the nemesis's `mean_interval` or shorten `duration`".to_string()
            }
            Source::Links { .. } => "use fewer hosts or networks".to_string(),
            Source::Heartbeats { .. } => {
                "lengthen `heartbeat_interval`, use fewer nodes or networks, or shorten `duration`"
                    .to_string()
            }
            _ => format!("lengthen `{}` or shorten `duration`", self.blamed_key()),
        }
    }
}

impl fmt::Display for SizePart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Source::Heartbeats { nodes, paths, every, run } => write!(
                f,
                "heartbeats ({nodes} nodes to {} peers on {paths} paths every {} for {})",
                nodes.saturating_sub(1),
                roughly(*every),
                roughly(*run)
            ),
            Source::HealthChecks { nodes, every } => {
                write!(f, "health checks ({nodes} nodes every {})", roughly(*every))
            }
            Source::WitnessRenewals { nodes, every } => {
                write!(f, "witness renewals ({nodes} nodes every {})", roughly(*every))
            }
            Source::Mail { rate, window, per_message } => write!(
                f,
                "mail ({rate} messages/s for {}, about {per_message:.0} events each)",
                roughly(*window)
            ),
            Source::NopOuts { sessions, every } => {
                write!(f, "iSCSI NOP-Outs ({sessions} sessions every {})", roughly(*every))
            }
            Source::PathChecks { paths, every } => {
                write!(f, "multipath path checks ({paths} paths every {})", roughly(*every))
            }
            Source::ReservationChecks { disks, paths, every } => {
                write!(f, "reservation checks ({disks} disks on {paths} paths every {})", roughly(*every))
            }
            Source::DataPathChecks { disks, every } => {
                write!(f, "data-path checks ({disks} disks every {})", roughly(*every))
            }
            Source::Faults { fixed, drawn } => {
                write!(
                    f,
                    "faults ({fixed} fixed and about {drawn:.0} from the nemesis, hundreds of events each)"
                )
            }
            Source::Links { pairs } => write!(f, "network links ({pairs} host pairs)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_written_as_round_figures_in_words() {
        assert_eq!(about(0), "0");
        assert_eq!(about(999), "999");
        assert_eq!(about(751_234), "751,000");
        assert_eq!(about(2_149_000), "2.1 million");
        assert_eq!(about(20_000_000), "20 million");
        assert_eq!(about(207_400_000), "207 million");
        assert_eq!(about(4_200_000_000), "4.2 billion");
        assert_eq!(about(u64::MAX), "1.8e19");
    }

    #[test]
    fn bit_rates_are_written_in_their_largest_unit() {
        assert_eq!(bit_rate(1.64e9), "1.6 Gbit/s");
        assert_eq!(bit_rate(1e9), "1 Gbit/s");
        assert_eq!(bit_rate(45e6), "45 Mbit/s");
        assert_eq!(bit_rate(9_600.0), "9.6 kbit/s");
        assert_eq!(bit_rate(1.0), "1 bit/s");
    }

    #[test]
    fn sizes_speak_of_durations_roughly() {
        assert_eq!(roughly(Duration::from_secs(230)), "230s");
        assert_eq!(roughly(Duration::from_secs(30 * 86_400)), "30d");
        assert_eq!(roughly(Duration::from_secs(30 * 86_400 - 70)), "30d");
        assert_eq!(roughly(Duration::from_secs(29 * 86_400 + 86_400 / 2)), "708h");
        assert_eq!(roughly(Duration::from_secs(29 * 86_400 + 86_400 / 2 + 1)), "29.5d");
        assert_eq!(roughly(Duration::from_millis(2_512)), "2.5s");
    }

    #[test]
    fn a_timer_fires_at_time_zero_and_at_most_once_a_millisecond() {
        assert_eq!(firings(Duration::from_secs(10), SECOND), 11.0);
        assert_eq!(firings(SECOND, Duration::from_nanos(1)), 1001.0);
    }
}
