//! The settings a scenario can set (and sweep), and how one TOML value becomes part of a
//! [`CellSpec`]. The same [`Setting::apply`] validates a value in its section and a value in a
//! `[sweep]` list, so both are checked exactly alike.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use toml_edit::{Item, TableLike, Value};

use super::errors::{ScenarioError, Source};
use super::model::{
    Acks, CellSpec, ClientProps, ConsumerSpec, FollowFrom, Isolation, KeySpec, MessageSize,
    Partitioner, ProducerSpec, RunSpec, StampPlace, StartFrom, TopicCreate, TopicSpec,
};
use super::model::{Assignor, GroupProtocol};
use super::units::{format_size, parse_duration, parse_size};

/// Largest message kbench will generate: 100 MiB (Kafka's own default limit is 1 MiB).
pub const MAX_MESSAGE_SIZE: u64 = 100 * 1024 * 1024;
/// Upper bound for producer count, consumer groups and members: one process holds them all.
pub const MAX_CLIENTS: i64 = 1000;

/// Where parsing happens: the file (for error lines) and its directory (for relative paths).
pub(crate) struct Ctx<'a> {
    pub src: &'a Source<'a>,
    pub base_dir: &'a Path,
}

/// One value to read, with the dotted key and the span errors should point at.
pub(crate) struct Field<'a> {
    pub item: &'a Item,
    pub key: String,
    pub span: Option<Range<usize>>,
}

impl<'a> Field<'a> {
    /// `item` found under `key` in `table`: errors point at the value, or at the key if the value
    /// has no span (implicit tables).
    pub fn of(table: &dyn TableLike, name: &str, item: &'a Item, dotted: String) -> Self {
        let span = item
            .span()
            .or_else(|| table.key(name).and_then(|k| k.span()));
        Field {
            item,
            key: dotted,
            span,
        }
    }

    pub fn err(&self, cx: &Ctx, message: impl Into<String>) -> ScenarioError {
        cx.src.err(self.span.clone(), &self.key, message)
    }
}

/// The span of `name`'s key in `table`, falling back to its value.
pub(crate) fn key_span(table: &dyn TableLike, name: &str) -> Option<Range<usize>> {
    table
        .key(name)
        .and_then(|k| k.span())
        .or_else(|| table.get(name).and_then(Item::span))
}

/// A value as it appears in an error message: `"2"`, `6`, `a table`.
pub(crate) fn describe(item: &Item) -> String {
    match item {
        Item::None => "nothing".into(),
        Item::Value(v) => match v {
            Value::String(s) => format!("{:?}", s.value()),
            Value::Integer(i) => i.value().to_string(),
            Value::Float(f) => f.value().to_string(),
            Value::Boolean(b) => b.value().to_string(),
            Value::Datetime(_) => "a date-time".into(),
            Value::Array(_) => "a list".into(),
            Value::InlineTable(_) => "a table".into(),
        },
        Item::Table(_) => "a table".into(),
        Item::ArrayOfTables(_) => "a list of tables".into(),
    }
}

/// A value as a short string, for sweep axes and cell ids: `all`, `6`, `1KiB`, `uniform=1000`.
pub(crate) fn render(item: &Item) -> String {
    match item {
        Item::Value(Value::String(s)) => s.value().clone(),
        Item::Value(Value::Array(a)) => a
            .iter()
            .map(|v| render(&Item::Value(v.clone())))
            .collect::<Vec<_>>()
            .join(","),
        _ => match item.as_table_like() {
            Some(t) => t
                .iter()
                .map(|(k, v)| format!("{k}={}", render(v)))
                .collect::<Vec<_>>()
                .join(","),
            None => describe(item),
        },
    }
}

fn int(f: &Field, cx: &Ctx) -> Result<i64, ScenarioError> {
    match f.item.as_integer() {
        Some(i) => Ok(i),
        None => Err(f.err(cx, format!("expected an integer, got {}", describe(f.item)))),
    }
}

pub(crate) fn int_in(f: &Field, cx: &Ctx, min: i64, max: i64) -> Result<i64, ScenarioError> {
    let v = int(f, cx)?;
    if v < min || v > max {
        return Err(f.err(cx, format!("must be between {min} and {max}, got {v}")));
    }
    Ok(v)
}

fn number(f: &Field, cx: &Ctx) -> Result<f64, ScenarioError> {
    let v = match f.item.as_value() {
        Some(Value::Integer(i)) => *i.value() as f64,
        Some(Value::Float(x)) => *x.value(),
        _ => return Err(f.err(cx, format!("expected a number, got {}", describe(f.item)))),
    };
    if !v.is_finite() {
        return Err(f.err(cx, format!("expected a finite number, got {v}")));
    }
    Ok(v)
}

fn boolean(f: &Field, cx: &Ctx) -> Result<bool, ScenarioError> {
    f.item.as_bool().ok_or_else(|| {
        f.err(
            cx,
            format!("expected true or false, got {}", describe(f.item)),
        )
    })
}

fn quoted_list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A string that must be one of `names`; returns its index.
pub(crate) fn one_of(f: &Field, cx: &Ctx, names: &[&str]) -> Result<usize, ScenarioError> {
    let bad = || {
        f.err(
            cx,
            format!(
                "expected one of {}, got {}",
                quoted_list(names),
                describe(f.item)
            ),
        )
    };
    let s = f.item.as_str().ok_or_else(bad)?;
    names.iter().position(|n| *n == s).ok_or_else(bad)
}

/// A byte size: an integer or a size string, within `min..=max`.
fn size(f: &Field, cx: &Ctx, min: u64, max: u64) -> Result<usize, ScenarioError> {
    let bytes = match f.item.as_value() {
        Some(Value::Integer(i)) => {
            let i = *i.value();
            if i < 0 {
                return Err(f.err(cx, format!("size must not be negative, got {i}")));
            }
            i as u64
        }
        Some(Value::String(s)) => parse_size(s.value()).map_err(|m| f.err(cx, m))?,
        _ => {
            return Err(f.err(
                cx,
                format!(
                    "expected a size (bytes, or a string like \"1KiB\"), got {}",
                    describe(f.item)
                ),
            ))
        }
    };
    if bytes < min || bytes > max {
        return Err(f.err(
            cx,
            format!(
                "size must be between {} and {}, got {}",
                format_size(min as usize),
                format_size(max as usize),
                format_size(bytes as usize),
            ),
        ));
    }
    usize::try_from(bytes).map_err(|_| f.err(cx, "size too large for this platform"))
}

/// A librdkafka or topic property value: strings, integers, floats and booleans, as strings.
fn prop_value(f: &Field, cx: &Ctx) -> Result<String, ScenarioError> {
    match f.item.as_value() {
        Some(Value::String(s)) => Ok(s.value().clone()),
        Some(Value::Integer(i)) => Ok(i.value().to_string()),
        Some(Value::Float(x)) => Ok(x.value().to_string()),
        Some(Value::Boolean(b)) => Ok(b.value().to_string()),
        _ => Err(f.err(
            cx,
            format!(
                "expected a string, number or boolean, got {}",
                describe(f.item)
            ),
        )),
    }
}

/// The entries of a table as fields, nested tables flattened into dotted names so that
/// `linger.ms = 5` (a dotted TOML key) means the same as `"linger.ms" = 5`.
pub(crate) fn flatten<'a>(
    table: &'a dyn TableLike,
    dotted_prefix: &str,
    name_prefix: &str,
    out: &mut Vec<(String, Field<'a>, Option<Range<usize>>)>,
) {
    for (k, item) in table.iter() {
        let name = format!("{name_prefix}{k}");
        let dotted = format!("{dotted_prefix}.{k}");
        match item.as_table_like() {
            Some(sub) => flatten(sub, &dotted, &format!("{name}."), out),
            None => {
                let kspan = key_span(table, k);
                out.push((name, Field::of(table, k, item, dotted), kspan));
            }
        }
    }
}

/// The table under a field, or an error saying a table was expected.
pub(crate) fn table_of<'a>(f: &Field<'a>, cx: &Ctx) -> Result<&'a dyn TableLike, ScenarioError> {
    f.item
        .as_table_like()
        .ok_or_else(|| f.err(cx, format!("expected a table, got {}", describe(f.item))))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum ClientKind {
    Producer,
    Consumer,
    Admin,
}

impl ClientKind {
    pub fn name(self) -> &'static str {
        match self {
            ClientKind::Producer => "producer",
            ClientKind::Consumer => "consumer",
            ClientKind::Admin => "admin",
        }
    }
}

/// Everything a scenario can set per cell: what `[sweep]` can vary.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Setting {
    Partitions,
    ReplicationFactor,
    ExistingTopic,
    TopicCreate,
    TopicConfig(String),
    Count,
    Rate,
    MessageSize,
    Keys,
    Partitioner,
    Acks,
    Compression,
    LingerMs,
    BatchSize,
    Idempotence,
    MaxInFlight,
    Sync,
    Stamp,
    PacingTick,
    Groups,
    Members,
    StartFrom,
    TransactionMessages,
    TransactionAbort,
    Isolation,
    Assignor,
    GroupProtocol,
    Client(ClientKind, String),
}

/// (section, key in the section, short name used in `[sweep]` and cell ids, setting).
const FIXED: [(&str, &str, &str, Setting); 26] = [
    ("topic", "partitions", "partitions", Setting::Partitions),
    (
        "topic",
        "replication_factor",
        "replication_factor",
        Setting::ReplicationFactor,
    ),
    ("topic", "existing", "topic", Setting::ExistingTopic),
    ("topic", "create", "create", Setting::TopicCreate),
    ("producers", "count", "producers", Setting::Count),
    ("producers", "rate", "rate", Setting::Rate),
    (
        "producers",
        "message_size",
        "message_size",
        Setting::MessageSize,
    ),
    ("producers", "keys", "keys", Setting::Keys),
    (
        "producers",
        "partitioner",
        "partitioner",
        Setting::Partitioner,
    ),
    ("producers", "acks", "acks", Setting::Acks),
    (
        "producers",
        "compression",
        "compression",
        Setting::Compression,
    ),
    ("producers", "linger_ms", "linger_ms", Setting::LingerMs),
    ("producers", "batch_size", "batch_size", Setting::BatchSize),
    (
        "producers",
        "idempotence",
        "idempotence",
        Setting::Idempotence,
    ),
    (
        "producers",
        "max_in_flight",
        "max_in_flight",
        Setting::MaxInFlight,
    ),
    ("producers", "sync", "sync", Setting::Sync),
    ("producers", "stamp", "stamp", Setting::Stamp),
    (
        "producers",
        "pacing_tick",
        "pacing_tick",
        Setting::PacingTick,
    ),
    ("consumers", "groups", "groups", Setting::Groups),
    ("consumers", "members", "members", Setting::Members),
    ("consumers", "start_from", "start_from", Setting::StartFrom),
    (
        "producers",
        "transaction_messages",
        "transaction_messages",
        Setting::TransactionMessages,
    ),
    (
        "producers",
        "transaction_abort",
        "transaction_abort",
        Setting::TransactionAbort,
    ),
    ("consumers", "isolation", "isolation", Setting::Isolation),
    ("consumers", "assignor", "assignor", Setting::Assignor),
    (
        "consumers",
        "group_protocol",
        "group_protocol",
        Setting::GroupProtocol,
    ),
];

/// `[producers] pacing_tick`: a paced producer wakes at most once per tick to send what is
/// due. The default is measured (docs/versus.md, "Pacing tick").
pub const DEFAULT_PACING_TICK: std::time::Duration = std::time::Duration::from_millis(1);
/// A tick near the late-send threshold (`metrics::client::LATE_SEND_MICROS`, 10 ms) would make
/// sends late by design.
const MAX_PACING_TICK: std::time::Duration = std::time::Duration::from_millis(5);

/// `[producers] transaction_messages` at most: a transaction's messages are held by the
/// broker's read_committed consumers until it ends, so it must end well within
/// `transaction.timeout.ms`.
const MAX_TRANSACTION_MESSAGES: i64 = 1_000_000;

const COMPRESSIONS: [&str; 5] = ["none", "gzip", "snappy", "lz4", "zstd"];

impl Setting {
    /// The setting for `key` in `[section]`, if it is one.
    pub fn in_section(section: &str, key: &str) -> Option<Setting> {
        FIXED
            .iter()
            .find(|(s, k, _, _)| *s == section && *k == key)
            .map(|(_, _, _, setting)| setting.clone())
    }

    /// The keys `[section]` accepts, for "unknown key" messages.
    pub fn keys_of(section: &str) -> Vec<&'static str> {
        FIXED
            .iter()
            .filter(|(s, _, _, _)| *s == section)
            .map(|(_, k, _, _)| *k)
            .collect()
    }

    /// The setting named by a `[sweep]` key: a short name (`acks`, `producers`), a dotted name
    /// (`producers.acks`), `topic.configs.<name>`, or `client.producer|consumer.<property>`.
    pub fn from_sweep_key(key: &str) -> Option<Setting> {
        if let Some(name) = key.strip_prefix("topic.configs.") {
            return (!name.is_empty()).then(|| Setting::TopicConfig(name.to_string()));
        }
        for (prefix, kind) in [
            ("client.producer.", ClientKind::Producer),
            ("client.consumer.", ClientKind::Consumer),
        ] {
            if let Some(name) = key.strip_prefix(prefix) {
                return (!name.is_empty()).then(|| Setting::Client(kind, name.to_string()));
            }
        }
        FIXED
            .iter()
            .find(|(section, k, short, _)| {
                key == *short
                    || key.strip_prefix(section).and_then(|r| r.strip_prefix('.')) == Some(k)
            })
            .map(|(_, _, _, setting)| setting.clone())
    }

    /// The `[sweep]` keys accepted, for "unknown sweep key" messages.
    pub fn sweep_keys_help() -> String {
        let shorts: Vec<&str> = FIXED.iter().map(|(_, _, short, _)| *short).collect();
        format!(
            "{}, their dotted forms (e.g. producers.acks), topic.configs.<name>, \
             client.producer.<property> or client.consumer.<property>",
            shorts.join(", ")
        )
    }

    /// The full dotted key where this setting lives in its section, e.g. `producers.acks`.
    pub fn section_key(&self) -> String {
        match self {
            Setting::TopicConfig(name) => format!("topic.configs.{name}"),
            Setting::Client(kind, name) => format!("client.{}.{name}", kind.name()),
            fixed => FIXED
                .iter()
                .find(|(_, _, _, s)| s == fixed)
                .map(|(section, key, _, _)| format!("{section}.{key}"))
                .unwrap_or_default(),
        }
    }

    /// The short name used in cell ids: `acks`, `producers`, `min.insync.replicas`, `linger.ms`.
    pub fn short_name(&self) -> String {
        match self {
            Setting::TopicConfig(name) | Setting::Client(_, name) => name.clone(),
            fixed => FIXED
                .iter()
                .find(|(_, _, _, s)| s == fixed)
                .map(|(_, _, short, _)| short.to_string())
                .unwrap_or_default(),
        }
    }

    /// Validates the value in `f` and writes it into `cell`.
    pub fn apply(&self, f: &Field, cx: &Ctx, cell: &mut CellSpec) -> Result<(), ScenarioError> {
        let p = &mut cell.producers;
        match self {
            Setting::Partitions => cell.topic.partitions = int_in(f, cx, 1, 1_000_000)? as i32,
            Setting::ReplicationFactor => {
                cell.topic.replication_factor = int_in(f, cx, 1, i16::MAX as i64)? as i32
            }
            Setting::ExistingTopic => match f.item.as_str() {
                Some(name) if !name.trim().is_empty() => {
                    cell.topic.existing = Some(name.trim().to_string())
                }
                _ => {
                    return Err(f.err(
                        cx,
                        format!("expected a topic name, got {}", describe(f.item)),
                    ))
                }
            },
            Setting::TopicCreate => {
                cell.topic.create =
                    [TopicCreate::Kbench, TopicCreate::Auto][one_of(f, cx, &["kbench", "auto"])?]
            }
            Setting::TopicConfig(name) => {
                let v = prop_value(f, cx)?;
                if name == "min.insync.replicas" && !matches!(v.parse::<i64>(), Ok(n) if n >= 1) {
                    return Err(f.err(
                        cx,
                        format!("min.insync.replicas must be an integer of at least 1, got {v:?}"),
                    ));
                }
                cell.topic.configs.insert(name.clone(), v);
            }
            Setting::Count => p.count = int_in(f, cx, 1, MAX_CLIENTS)? as usize,
            Setting::Rate => p.rate = rate(f, cx)?,
            Setting::MessageSize => p.message_size = message_size(f, cx)?,
            Setting::Keys => p.keys = keys(f, cx)?,
            Setting::Partitioner => p.partitioner = partitioner(f, cx)?,
            Setting::Acks => p.acks = acks(f, cx)?,
            Setting::Compression => {
                p.compression = COMPRESSIONS[one_of(f, cx, &COMPRESSIONS)?].to_string()
            }
            Setting::LingerMs => {
                // librdkafka's linger.ms range is 0..=900000.
                let v = number(f, cx)?;
                if !(0.0..=900_000.0).contains(&v) {
                    return Err(f.err(cx, format!("must be between 0 and 900000 ms, got {v}")));
                }
                p.linger_ms = v;
            }
            Setting::BatchSize => p.batch_size = size(f, cx, 1, i32::MAX as u64)?,
            Setting::Idempotence => p.idempotence = boolean(f, cx)?,
            Setting::MaxInFlight => p.max_in_flight = int_in(f, cx, 1, 1_000_000)? as usize,
            Setting::Sync => p.sync = boolean(f, cx)?,
            Setting::Stamp => {
                p.stamp =
                    [StampPlace::Value, StampPlace::Header][one_of(f, cx, &["value", "header"])?]
            }
            Setting::PacingTick => {
                let d = f
                    .item
                    .as_str()
                    .ok_or_else(|| {
                        f.err(
                            cx,
                            format!(
                                "expected a duration string like \"1ms\" or \"0s\", got {}",
                                describe(f.item)
                            ),
                        )
                    })
                    .and_then(|s| parse_duration(s).map_err(|m| f.err(cx, m)))?;
                if d > MAX_PACING_TICK {
                    return Err(f.err(
                        cx,
                        format!("must be at most {MAX_PACING_TICK:?}, got {d:?}"),
                    ));
                }
                p.pacing_tick = d;
            }
            Setting::Groups => cell.consumers.groups = int_in(f, cx, 0, MAX_CLIENTS)? as usize,
            Setting::Members => cell.consumers.members = int_in(f, cx, 1, MAX_CLIENTS)? as usize,
            Setting::StartFrom => {
                cell.consumers.start_from = [StartFrom::Earliest, StartFrom::Latest]
                    [one_of(f, cx, &["earliest", "latest"])?]
            }
            Setting::TransactionMessages => {
                p.transaction_messages = int_in(f, cx, 0, MAX_TRANSACTION_MESSAGES)? as u64
            }
            Setting::TransactionAbort => {
                let v = number(f, cx)?;
                if !(0.0..=1.0).contains(&v) {
                    return Err(f.err(
                        cx,
                        format!("must be a share between 0 and 1 (0.1 = one transaction in ten), got {v}"),
                    ));
                }
                p.transaction_abort = v;
            }
            Setting::Isolation => {
                cell.consumers.isolation = [Isolation::ReadCommitted, Isolation::ReadUncommitted]
                    [one_of(f, cx, &["read_committed", "read_uncommitted"])?]
            }
            Setting::Assignor => {
                let names = Assignor::ALL.map(Assignor::name);
                cell.consumers.assignor = Assignor::ALL[one_of(f, cx, &names)?]
            }
            Setting::GroupProtocol => {
                cell.consumers.group_protocol = [GroupProtocol::Classic, GroupProtocol::Consumer]
                    [one_of(f, cx, &["classic", "consumer"])?]
            }
            Setting::Client(kind, name) => {
                if name == "bootstrap.servers" || name == "metadata.broker.list" {
                    return Err(f.err(
                        cx,
                        format!(
                            "{name} cannot be set in a scenario: the cluster comes from the command line (--bootstrap)"
                        ),
                    ));
                }
                if let Some(own) = owned_by_kbench(*kind, name) {
                    return Err(f.err(
                        cx,
                        format!(
                            "{name} is set by kbench from {own}: set it there, so that what the \
                             report says is what the client ran"
                        ),
                    ));
                }
                let v = prop_value(f, cx)?;
                check_with_librdkafka(name, &v).map_err(|why| f.err(cx, why))?;
                // A reference must resolve now, so a bad one is refused before any load. The
                // value it stands for is not kept: clients resolve it when they are built.
                if let Err(why) = crate::cluster::secrets::resolve(&v) {
                    return Err(f.err(cx, why));
                }
                let map = match kind {
                    ClientKind::Producer => &mut cell.client.producer,
                    ClientKind::Consumer => &mut cell.client.consumer,
                    ClientKind::Admin => &mut cell.client.admin,
                };
                map.insert(name.clone(), v);
            }
        }
        Ok(())
    }
}

/// The scenario setting a librdkafka property is derived from, when kbench sets it itself: a
/// pass-through value would silently win over the setting every report shows.
fn owned_by_kbench(kind: ClientKind, name: &str) -> Option<&'static str> {
    match (kind, name) {
        (ClientKind::Producer, "acks" | "request.required.acks") => Some("producers.acks"),
        (ClientKind::Producer, "compression.type" | "compression.codec") => {
            Some("producers.compression")
        }
        (ClientKind::Producer, "linger.ms" | "queue.buffering.max.ms") => {
            Some("producers.linger_ms")
        }
        (ClientKind::Producer, "batch.size") => Some("producers.batch_size"),
        (ClientKind::Producer, "enable.idempotence") => Some("producers.idempotence"),
        (ClientKind::Producer, "max.in.flight.requests.per.connection" | "max.in.flight") => {
            Some("producers.max_in_flight")
        }
        (ClientKind::Producer, "partitioner") => Some("producers.partitioner"),
        (ClientKind::Producer, "transactional.id") => {
            Some("producers.transaction_messages (one transactional.id per producer)")
        }
        (ClientKind::Consumer, "isolation.level") => Some("consumers.isolation"),
        (ClientKind::Consumer, "group.id") => Some("consumers.groups (one group id per group)"),
        (ClientKind::Consumer, "auto.offset.reset") => Some("consumers.start_from"),
        (ClientKind::Consumer, "partition.assignment.strategy" | "group.remote.assignor") => {
            Some("consumers.assignor")
        }
        (ClientKind::Consumer, "group.protocol") => Some("consumers.group_protocol"),
        _ => None,
    }
}

/// librdkafka checks a property's name and value when a configuration is built, with no
/// network: do it now, so a typo is refused before any topic exists. A reference's value is
/// checked only for its name (the value is resolved when the client is built).
fn check_with_librdkafka(name: &str, value: &str) -> Result<(), String> {
    let value = if crate::cluster::secrets::is_reference(value) {
        None
    } else {
        Some(value)
    };
    let mut c = rdkafka::ClientConfig::new();
    match value {
        Some(v) => c.set(name, v),
        // Any value librdkafka accepts for a string property; names are what is checked.
        None => c.set(name, ""),
    };
    match c.create_native_config() {
        Ok(_) => Ok(()),
        Err(e) => {
            let e = e.to_string();
            if value.is_none() && !e.contains("No such configuration property") {
                return Ok(());
            }
            // librdkafka's message quotes the value: keep a secret's out of it.
            let e = if crate::cluster::secrets::is_secret(name) {
                format!("librdkafka refuses the value of {name}")
            } else {
                e
            };
            Err(format!("librdkafka: {e}"))
        }
    }
}

fn rate(f: &Field, cx: &Ctx) -> Result<Option<f64>, ScenarioError> {
    if f.item.as_str() == Some("max") {
        return Ok(None);
    }
    if f.item.is_str() {
        return Err(f.err(
            cx,
            format!(
                "expected a number of messages/s or \"max\", got {}",
                describe(f.item)
            ),
        ));
    }
    let v = number(f, cx)?;
    if v <= 0.0 {
        return Err(f.err(
            cx,
            format!(
                "rate must be above 0 messages/s (leave it out or write \"max\" for as fast as possible), got {v}"
            ),
        ));
    }
    Ok(Some(v))
}

fn acks(f: &Field, cx: &Ctx) -> Result<Acks, ScenarioError> {
    let acks = match f.item.as_value() {
        Some(Value::String(s)) => match s.value().as_str() {
            "0" => Some(Acks::Zero),
            "1" => Some(Acks::One),
            "all" | "-1" => Some(Acks::All),
            _ => None,
        },
        Some(Value::Integer(i)) => match i.value() {
            0 => Some(Acks::Zero),
            1 => Some(Acks::One),
            -1 => Some(Acks::All),
            _ => None,
        },
        _ => None,
    };
    acks.ok_or_else(|| {
        f.err(
            cx,
            format!(
                "expected one of \"0\", \"1\", \"all\", got {}",
                describe(f.item)
            ),
        )
    })
}

/// Reads a sub-table's entries, refusing keys outside `allowed`.
fn sub_fields<'a>(
    f: &Field<'a>,
    cx: &Ctx,
    allowed: &[&str],
) -> Result<Vec<(&'a str, Field<'a>)>, ScenarioError> {
    let t = table_of(f, cx)?;
    let mut out = Vec::new();
    for (k, item) in t.iter() {
        let dotted = format!("{}.{k}", f.key);
        if !allowed.contains(&k) {
            return Err(cx.src.err(
                key_span(t, k).or_else(|| f.span.clone()),
                &dotted,
                format!("unknown key; expected {}", allowed.join(" or ")),
            ));
        }
        let mut field = Field::of(t, k, item, dotted);
        field.span = field.span.or_else(|| f.span.clone());
        out.push((k, field));
    }
    Ok(out)
}

/// The most partitions `{ chosen = [...] }` may list (a topic has at most this many too).
const MAX_CHOSEN: usize = 1_000_000;

/// A partitioner name, or `{ chosen = P }` / `{ chosen = [P, ...] }`. Whether each chosen
/// partition exists is checked against the cell's topic later (`parse::check_cell`, and before
/// the first cell for topics whose shape only the cluster knows).
fn partitioner(f: &Field, cx: &Ctx) -> Result<Partitioner, ScenarioError> {
    if f.item.as_table_like().is_none() {
        let names = Partitioner::ALL.map(|p| p.name());
        return Ok(Partitioner::ALL[one_of(f, cx, &names)?].clone());
    }
    let fields = sub_fields(f, cx, &["chosen"])?;
    let Some((_, c)) = fields.first() else {
        return Err(f.err(cx, "expected { chosen = P } or { chosen = [P, ...] }"));
    };
    let one = |item: &Item| match item.as_integer() {
        Some(i) if (0..=i32::MAX as i64).contains(&i) => Ok(i as i32),
        _ => Err(c.err(
            cx,
            format!(
                "expected a partition number (0 or more), got {}",
                describe(item)
            ),
        )),
    };
    let list = match c.item.as_array() {
        Some(a) => a
            .iter()
            .map(|v| one(&Item::Value(v.clone())))
            .collect::<Result<Vec<_>, _>>()?,
        None => vec![one(c.item)?],
    };
    if list.is_empty() || list.len() > MAX_CHOSEN {
        return Err(c.err(
            cx,
            format!("expected 1 to {MAX_CHOSEN} partitions, got {}", list.len()),
        ));
    }
    // A partition listed twice would silently get twice the share: say so instead.
    if let Some(dup) = list
        .iter()
        .enumerate()
        .find_map(|(i, p)| list[..i].contains(p).then_some(*p))
    {
        return Err(c.err(cx, format!("partition {dup} is listed twice")));
    }
    Ok(Partitioner::Chosen(list))
}

fn message_size(f: &Field, cx: &Ctx) -> Result<MessageSize, ScenarioError> {
    if f.item.as_table_like().is_none() {
        return Ok(MessageSize::Fixed(size(f, cx, 1, MAX_MESSAGE_SIZE)?));
    }
    let fields = sub_fields(f, cx, &["min", "max", "file", "follow", "from"])?;
    let get = |name: &str| fields.iter().find(|(k, _)| *k == name).map(|(_, v)| v);
    if let Some(follow) = follow_lines(f, cx, get("file"), get("follow"), get("from"))? {
        if let Some((_, other)) = fields.iter().find(|(k, _)| *k == "min" || *k == "max") {
            return Err(other.err(
                cx,
                "a followed file's lines have their own sizes: remove it",
            ));
        }
        return Ok(follow);
    }
    match (get("min"), get("max"), get("file")) {
        (Some(min_f), Some(max_f), None) => {
            let min = size(min_f, cx, 1, MAX_MESSAGE_SIZE)?;
            let max = size(max_f, cx, 1, MAX_MESSAGE_SIZE)?;
            if min > max {
                return Err(min_f.err(
                    cx,
                    format!(
                        "min ({}) is above max ({})",
                        format_size(min),
                        format_size(max)
                    ),
                ));
            }
            Ok(MessageSize::Uniform { min, max })
        }
        (None, None, Some(file_f)) => {
            let rel = file_f.item.as_str().ok_or_else(|| {
                file_f.err(
                    cx,
                    format!("expected a file path, got {}", describe(file_f.item)),
                )
            })?;
            let path = cx.base_dir.join(rel);
            check_lines_file(&path).map_err(|m| file_f.err(cx, m))?;
            Ok(MessageSize::FileLines(path))
        }
        _ => Err(f.err(
            cx,
            "expected a size, { min = ..., max = ... }, { file = \"lines.txt\" } or \
             { file = \"app.log\", follow = true }",
        )),
    }
}

/// `{ file = "app.log", follow = true, from = "end" | "start" }`: `None` when `follow` is absent
/// or false (a lines file read once and cycled). A followed file must be a regular file now; it
/// may be empty (lines come later) and has no size cap (it is read as it grows, in bounded steps).
fn follow_lines(
    f: &Field,
    cx: &Ctx,
    file: Option<&Field>,
    follow: Option<&Field>,
    from: Option<&Field>,
) -> Result<Option<MessageSize>, ScenarioError> {
    let following = match follow {
        Some(x) => boolean(x, cx)?,
        None => false,
    };
    if !following {
        if let Some(from) = from {
            return Err(from.err(cx, "from only goes with follow = true"));
        }
        return Ok(None);
    }
    let Some(file_f) = file else {
        return Err(f.err(
            cx,
            "follow = true needs file = \"path\": the file to follow",
        ));
    };
    let rel = file_f.item.as_str().ok_or_else(|| {
        file_f.err(
            cx,
            format!("expected a file path, got {}", describe(file_f.item)),
        )
    })?;
    let path = cx.base_dir.join(rel);
    let shown = super::errors::quoted_path(&path);
    super::input::open_regular(&path)
        .map_err(|m| file_f.err(cx, format!("followed file {shown}: {m}")))?;
    let from = match from {
        Some(x) => [FollowFrom::End, FollowFrom::Start][one_of(x, cx, &["end", "start"])?],
        None => FollowFrom::End,
    };
    Ok(Some(MessageSize::FollowLines { path, from }))
}

/// A lines file must exist and hold at least one non-empty line (an empty one would mean
/// zero-byte messages forever). See [`super::input::check_lines_file`].
fn check_lines_file(path: &Path) -> Result<(), String> {
    super::input::check_lines_file(path)
}

fn keys(f: &Field, cx: &Ctx) -> Result<KeySpec, ScenarioError> {
    const FORMS: &str =
        "\"none\", { fixed = \"k\" }, { uniform = K } or { zipf = K, exponent = 1.1 }";
    if let Some(s) = f.item.as_str() {
        return match s {
            "none" => Ok(KeySpec::None),
            _ => Err(f.err(cx, format!("expected {FORMS}, got {s:?}"))),
        };
    }
    if f.item.as_table_like().is_none() {
        return Err(f.err(cx, format!("expected {FORMS}, got {}", describe(f.item))));
    }
    let fields = sub_fields(f, cx, &["fixed", "uniform", "zipf", "exponent"])?;
    let get = |name: &str| fields.iter().find(|(k, _)| *k == name).map(|(_, v)| v);
    let count = |c: &Field| int_in(c, cx, 1, i64::MAX).map(|n| n as u64);
    match (get("fixed"), get("uniform"), get("zipf"), get("exponent")) {
        (Some(k), None, None, None) => match k.item.as_str() {
            Some(s) => Ok(KeySpec::Fixed(s.to_string())),
            None => Err(k.err(cx, format!("expected a string, got {}", describe(k.item)))),
        },
        (None, Some(c), None, None) => Ok(KeySpec::Uniform { count: count(c)? }),
        (None, None, Some(c), e) => {
            let count = count(c)?;
            let exponent = match e {
                Some(e) => {
                    let x = number(e, cx)?;
                    if !(x > 0.0 && x <= 10.0) {
                        return Err(e.err(
                            cx,
                            format!("zipf exponent must be above 0 and at most 10, got {x}"),
                        ));
                    }
                    x
                }
                None => 1.0,
            };
            Ok(KeySpec::Zipf { count, exponent })
        }
        (None, None, None, Some(e)) => Err(e.err(cx, "exponent only goes with zipf = K")),
        _ => Err(f.err(cx, format!("expected exactly one of {FORMS}"))),
    }
}

/// The cell every scenario starts from, before its sections and sweep are applied.
pub(crate) fn default_cell() -> CellSpec {
    CellSpec {
        index: 0,
        id: "base".into(),
        params: Vec::new(),
        topic: TopicSpec {
            partitions: 6,
            // The runner checks it against the cluster (validate_against_cluster).
            replication_factor: 3,
            configs: Default::default(),
            existing: None,
            create: TopicCreate::Kbench,
        },
        producers: ProducerSpec {
            count: 1,
            rate: None,
            message_size: MessageSize::Fixed(1024),
            keys: KeySpec::None,
            partitioner: Partitioner::Sticky,
            acks: Acks::All,
            compression: "none".into(),
            linger_ms: 5.0,
            batch_size: 65536,
            idempotence: false,
            max_in_flight: 5,
            sync: false,
            stamp: StampPlace::Value,
            pacing_tick: DEFAULT_PACING_TICK,
            transaction_messages: 0,
            transaction_abort: 0.0,
        },
        consumers: ConsumerSpec {
            groups: 1,
            members: 1,
            start_from: StartFrom::Earliest,
            isolation: Isolation::ReadCommitted,
            assignor: Assignor::Range,
            group_protocol: GroupProtocol::Classic,
        },
        run: RunSpec {
            warmup: std::time::Duration::from_secs(2),
            duration: Some(std::time::Duration::from_secs(10)),
            messages: None,
            drain_timeout: std::time::Duration::from_secs(30),
        },
        client: ClientProps::default(),
        faults: Arc::new([]),
        consumer_faults: Arc::new([]),
    }
}
