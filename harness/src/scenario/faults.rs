//! `[[fault]]` entries and `[fault_commands]`: what to do to which broker when, and (for
//! clusters kbench did not start) the shell commands that do it.
//!
//! Everything that can be checked without a cluster is checked here, with the file, line and
//! key (`fault[0].at`, 0-based like the fault index in reports). What needs the cell (a
//! `leader-of:<p>` beyond the partition count) is checked per cell by `parse::check_cell`;
//! what needs the cluster (a node id it does not have) by
//! [`validate_faults_against_cluster`].

use std::ops::Range;
use std::time::Duration;

use toml_edit::{ImDocument, Item, TableLike, Value};

use super::consumer_faults::{self, ParsedConsumerFault};
use super::errors::{ScenarioError, Source};
use super::model::{BrokerRef, FaultAction, FaultCommands, FaultSpec, RunSpec, Scenario};
use super::settings::{describe, key_span, one_of, table_of, Ctx, Field};
use super::units::{format_duration, parse_duration};

const FAULT_KEYS: &str =
    "at, action, duration, broker (or, for action \"leave\" / \"join\", at, action, group, member)";

/// More faults than this in one cell is a generated file gone wrong: each fault is a broker
/// stop or freeze, seconds long at least.
pub const MAX_FAULTS: usize = 1000;
const COMMAND_KEYS: [&str; 5] = ["kill", "stop", "start", "pause", "resume"];

/// Where each part of one `[[fault]]` is written, for errors found after parsing.
#[derive(Debug, Clone, Default)]
pub(crate) struct FaultSpans {
    pub at: Option<Range<usize>>,
    pub action: Option<Range<usize>>,
    pub broker: Option<Range<usize>>,
}

/// A parsed fault with the spans of its keys.
pub(crate) struct ParsedFault {
    pub spec: FaultSpec,
    pub spans: FaultSpans,
}

/// The dotted key of fault `i`'s `name`: `fault[0].at`.
pub(crate) fn fault_key(i: usize, name: &str) -> String {
    format!("fault[{i}].{name}")
}

/// `fault`: the `[[fault]]` entries (or `fault = [{ ... }, ...]`), each checked on its own and
/// against `run` (a fault must fire while the producers run), then against each other (two
/// faults on one node at once). Entries with a consumer action (`leave`, `join`) come back
/// apart: they act on the cell's consumer groups, not on a broker.
pub(crate) fn parse_faults(
    f: &Field,
    cx: &Ctx,
    run: &RunSpec,
) -> Result<(Vec<ParsedFault>, Vec<ParsedConsumerFault>), ScenarioError> {
    let entries: Vec<(&dyn TableLike, Option<Range<usize>>)> = match f.item {
        Item::ArrayOfTables(a) => a
            .iter()
            .map(|t| (t as &dyn TableLike, t.span().or_else(|| f.span.clone())))
            .collect(),
        Item::Value(Value::Array(a)) => {
            let mut out = Vec::new();
            for v in a.iter() {
                let t = v.as_inline_table().ok_or_else(|| {
                    cx.src.err(
                        v.span().or_else(|| f.span.clone()),
                        "fault",
                        format!(
                            "expected [[fault]] entries (tables with {FAULT_KEYS}), got {}",
                            describe(&Item::Value(v.clone()))
                        ),
                    )
                })?;
                out.push((t as &dyn TableLike, v.span().or_else(|| f.span.clone())));
            }
            out
        }
        other => {
            return Err(f.err(
                cx,
                format!(
                    "expected [[fault]] entries (an array of tables with {FAULT_KEYS}), got {}",
                    describe(other)
                ),
            ))
        }
    };
    if entries.len() > MAX_FAULTS {
        return Err(f.err(
            cx,
            format!(
                "{} faults: a scenario has at most {MAX_FAULTS} [[fault]] entries",
                entries.len()
            ),
        ));
    }
    let mut faults = Vec::with_capacity(entries.len());
    let mut consumer = Vec::new();
    for (i, (table, span)) in entries.into_iter().enumerate() {
        if consumer_faults::is_consumer_action(table) {
            consumer.push(consumer_faults::parse_one(i, table, span, cx, run)?);
        } else {
            faults.push(parse_one(i, table, span, cx, run)?);
        }
    }
    check_overlaps(&faults, cx)?;
    Ok((faults, consumer))
}

fn parse_one(
    i: usize,
    table: &dyn TableLike,
    entry: Option<Range<usize>>,
    cx: &Ctx,
    run: &RunSpec,
) -> Result<ParsedFault, ScenarioError> {
    let mut spans = FaultSpans::default();
    let (mut at, mut action, mut duration, mut broker) = (None, None, None, None);
    let mut duration_span = None;
    for (k, item) in table.iter() {
        let field = Field::of(table, k, item, fault_key(i, k));
        match k {
            "at" => {
                at = Some(duration_of(&field, cx)?);
                spans.at = field.span.clone();
            }
            "action" => {
                let names = FaultAction::ALL.map(FaultAction::name);
                action = Some(FaultAction::ALL[one_of(&field, cx, &names)?]);
                spans.action = field.span.clone();
            }
            "duration" => {
                let d = duration_of(&field, cx)?;
                if d.is_zero() {
                    return Err(field.err(cx, "must be above 0"));
                }
                duration = Some(d);
                duration_span = field.span.clone();
            }
            "broker" => {
                broker = Some(broker_of(&field, cx)?);
                spans.broker = field.span.clone();
            }
            _ => {
                return Err(cx.src.err(
                    key_span(table, k).or_else(|| entry.clone()),
                    &field.key,
                    format!("unknown key; [[fault]] takes {FAULT_KEYS}"),
                ))
            }
        }
    }
    let missing = |name: &str, example: &str| {
        cx.src.err(
            entry.clone(),
            &fault_key(i, name),
            format!("missing: every [[fault]] needs {name} = {example}"),
        )
    };
    let at = at.ok_or_else(|| missing("at", "\"10s\" (since the producers start)"))?;
    let action =
        action.ok_or_else(|| missing("action", "\"kill\", \"stop\", \"pause\" or \"restart\""))?;
    let broker = broker.ok_or_else(|| {
        missing(
            "broker",
            "a node id, \"leader-of:<partition>\" or \"controller\"",
        )
    })?;
    match (action, duration) {
        (FaultAction::Pause, None) => {
            return Err(cx.src.err(
                spans.action.clone(),
                &fault_key(i, "duration"),
                "action \"pause\" needs duration = \"5s\" (how long the broker stays frozen)",
            ))
        }
        (FaultAction::Restart, Some(_)) => {
            return Err(cx.src.err(
                duration_span,
                &fault_key(i, "duration"),
                "action \"restart\" starts the broker again at once; for a longer outage use \
                 action = \"stop\" with a duration",
            ))
        }
        _ => {}
    }
    check_before_end(i, at, spans.at.clone(), cx, run)?;
    Ok(ParsedFault {
        spec: FaultSpec {
            at,
            action,
            duration,
            broker,
        },
        spans,
    })
}

/// A fault must fire while the producers run.
pub(crate) fn check_before_end(
    i: usize,
    at: Duration,
    span: Option<Range<usize>>,
    cx: &Ctx,
    run: &RunSpec,
) -> Result<(), ScenarioError> {
    if let Some(d) = run.duration {
        let end = run.warmup + d;
        if at >= end {
            return Err(cx.src.err(
                span,
                &fault_key(i, "at"),
                format!(
                    "at {} is not before the producers stop at {} (warmup {} + duration {}); \
                     at counts from the producers' start, warm-up included",
                    format_duration(at),
                    format_duration(end),
                    format_duration(run.warmup),
                    format_duration(d)
                ),
            ));
        }
    }
    Ok(())
}

pub(crate) fn duration_of(f: &Field, cx: &Ctx) -> Result<Duration, ScenarioError> {
    let s = f.item.as_str().ok_or_else(|| {
        f.err(
            cx,
            format!(
                "expected a duration string like \"500ms\", \"5s\" or \"1m\", got {}",
                describe(f.item)
            ),
        )
    })?;
    parse_duration(s).map_err(|m| f.err(cx, m))
}

/// `2`, `"leader-of:0"` or `"controller"`.
fn broker_of(f: &Field, cx: &Ctx) -> Result<BrokerRef, ScenarioError> {
    const FORMS: &str = "a node id (broker = 2), \"leader-of:<partition>\" or \"controller\"";
    match f.item.as_value() {
        Some(Value::Integer(i)) => {
            let n = *i.value();
            if !(0..=i32::MAX as i64).contains(&n) {
                return Err(f.err(
                    cx,
                    format!("a node id is between 0 and {}, got {n}", i32::MAX),
                ));
            }
            Ok(BrokerRef::Node(n as i32))
        }
        Some(Value::String(s)) => {
            let s = s.value().trim();
            if s == "controller" {
                return Ok(BrokerRef::Controller);
            }
            if let Some(p) = s.strip_prefix("leader-of:") {
                return match p.trim().parse::<i64>() {
                    Ok(p) if (0..=i32::MAX as i64).contains(&p) => {
                        Ok(BrokerRef::LeaderOf(p as i32))
                    }
                    _ => Err(f.err(
                        cx,
                        format!(
                            "leader-of takes a partition number (0 or more), as in \"leader-of:0\", got {s:?}"
                        ),
                    )),
                };
            }
            if s.parse::<i64>().is_ok() {
                return Err(f.err(
                    cx,
                    format!("a node id is an integer, not a string: write broker = {s}"),
                ));
            }
            Err(f.err(cx, format!("expected {FORMS}, got {s:?}")))
        }
        _ => Err(f.err(cx, format!("expected {FORMS}, got {}", describe(f.item)))),
    }
}

/// How long a broker takes, at least, from being started to serving clients again. The
/// executor holds the node until then, so another fault on it sooner fails when it fires.
pub const BROKER_START: Duration = Duration::from_secs(5);

/// When a fault holds its node: from `at` to `at + duration` (plus [`BROKER_START`] when the
/// broker is started again: kill, stop, restart), or to the end of the cell. A pause's
/// resume is immediate.
fn held_until(f: &FaultSpec) -> Option<Duration> {
    match (f.action, f.duration) {
        (FaultAction::Restart, _) => Some(f.at + BROKER_START),
        (FaultAction::Pause, Some(d)) => Some(f.at + d),
        (_, Some(d)) => Some(f.at + d + BROKER_START),
        (_, None) => None,
    }
}

/// Two faults naming the same node id at overlapping times: the second would find the broker
/// already down or frozen. (Faults on `leader-of` or `controller` can only collide at run
/// time; the executor reports that.)
///
/// Per node, the faults in order of `at` (file order on ties); each is checked against the
/// one among the earlier ones that holds the node longest, so the check is O(n log n).
fn check_overlaps(faults: &[ParsedFault], cx: &Ctx) -> Result<(), ScenarioError> {
    let mut order: Vec<(i32, Duration, usize)> = faults
        .iter()
        .enumerate()
        .filter_map(|(i, f)| match f.spec.broker {
            BrokerRef::Node(n) => Some((n, f.spec.at, i)),
            _ => None,
        })
        .collect();
    order.sort_unstable();
    // The earlier fault on the current node that holds it longest (None: until the end).
    let mut holder: Option<(i32, usize)> = None;
    for &(node, at, j) in &order {
        let b = &faults[j].spec;
        let Some(i) = holder.filter(|(n, _)| *n == node).map(|(_, i)| i) else {
            holder = Some((node, j));
            continue;
        };
        let a = &faults[i].spec;
        let until = held_until(a);
        if a.at == at || until.is_none_or(|u| at < u) {
            let until = match until {
                Some(u) if a.action == FaultAction::Pause => {
                    format!("until {}", format_duration(u))
                }
                Some(u) => format!(
                    "until {}, counting {} for the broker to start and serve again",
                    format_duration(u),
                    format_duration(BROKER_START)
                ),
                None => "until the end of the cell".to_string(),
            };
            return Err(cx.src.err(
                faults[j].spans.at.clone(),
                &fault_key(j, "at"),
                format!(
                    "node {node} is still held by fault[{i}] ({} at {}, {until}); \
                     faults on one node must not overlap",
                    a.action,
                    format_duration(a.at)
                ),
            ));
        }
        let longer = match (held_until(b), until) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(x), Some(y)) => x > y,
        };
        if longer {
            holder = Some((node, j));
        }
    }
    Ok(())
}

/// `[fault_commands]`: shell command templates, each a non-empty string.
pub(crate) fn parse_commands(f: &Field, cx: &Ctx) -> Result<FaultCommands, ScenarioError> {
    let table = table_of(f, cx)?;
    let mut c = FaultCommands::default();
    for (k, item) in table.iter() {
        let field = Field::of(table, k, item, format!("fault_commands.{k}"));
        let slot = match k {
            "kill" => &mut c.kill,
            "stop" => &mut c.stop,
            "start" => &mut c.start,
            "pause" => &mut c.pause,
            "resume" => &mut c.resume,
            _ => {
                return Err(cx.src.err(
                    key_span(table, k),
                    &field.key,
                    format!(
                        "unknown key; [fault_commands] takes {} (shell commands, {{node}} is \
                         replaced by the node id)",
                        COMMAND_KEYS.join(", ")
                    ),
                ))
            }
        };
        let text = field.item.as_str().ok_or_else(|| {
            field.err(
                cx,
                format!(
                    "expected a shell command string like \"docker compose kill kafka-{{node}}\", got {}",
                    describe(field.item)
                ),
            )
        })?;
        if text.trim().is_empty() {
            return Err(field.err(cx, "empty command"));
        }
        *slot = Some(text.to_string());
    }
    Ok(c)
}

/// Every fault's action has its commands, and a command run for a broker found at run time
/// (`leader-of`, `controller`) says which node with `{node}`.
pub(crate) fn check_commands(
    faults: &[ParsedFault],
    commands: &FaultCommands,
    commands_span: Option<Range<usize>>,
    commands_table: Option<&dyn TableLike>,
    cx: &Ctx,
) -> Result<(), ScenarioError> {
    for (i, f) in faults.iter().enumerate() {
        for name in FaultCommands::needed(f.spec.action) {
            let Some(template) = commands.get(name) else {
                let [first, second] = FaultCommands::needed(f.spec.action);
                return Err(cx.src.err(
                    commands_span.clone(),
                    &format!("fault_commands.{name}"),
                    format!(
                        "missing: fault[{i}] (action \"{}\") runs fault_commands.{first} and \
                         fault_commands.{second}",
                        f.spec.action
                    ),
                ));
            };
            let resolved = !matches!(f.spec.broker, BrokerRef::Node(_));
            if resolved && !template.contains("{node}") {
                let span = commands_table
                    .and_then(|t| t.get(name))
                    .and_then(Item::span)
                    .or_else(|| commands_span.clone());
                return Err(cx.src.err(
                    span,
                    &format!("fault_commands.{name}"),
                    format!(
                        "fault[{i}] targets {}, found when it fires: the command needs a {{node}} \
                         placeholder, e.g. \"docker compose kill kafka-{{node}}\"",
                        f.spec.broker
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Checks what needs the cluster: every fault that names a node id names one of `node_ids`
/// (the cluster's brokers, e.g. from its metadata). Like
/// [`validate_against_cluster`](super::parse::validate_against_cluster), the line is found
/// again in `s.path`; without the file, the error has no line.
pub fn validate_faults_against_cluster(
    s: &Scenario,
    node_ids: &[i32],
) -> Result<(), ScenarioError> {
    let Some(cell) = s.cells.first() else {
        return Ok(());
    };
    for (i, f) in cell.faults.iter().enumerate() {
        let BrokerRef::Node(node) = f.broker else {
            continue;
        };
        if node_ids.contains(&node) {
            continue;
        }
        let text = std::fs::read_to_string(&s.path).ok();
        let line = text.as_deref().and_then(|t| {
            let doc = ImDocument::parse(t).ok()?;
            let span = match doc.as_table().get("fault")? {
                Item::ArrayOfTables(a) => a.get(i)?.get("broker")?.span(),
                Item::Value(Value::Array(a)) => a.get(i)?.as_inline_table()?.get("broker")?.span(),
                _ => None,
            };
            Source::new(&s.path, t).line(span)
        });
        let mut ids = node_ids.to_vec();
        ids.sort_unstable();
        let ids: Vec<String> = ids.iter().map(i32::to_string).collect();
        return Err(ScenarioError::new(
            &s.path,
            line,
            Some(fault_key(i, "broker")),
            format!(
                "node {node} is not a broker of this cluster (its node ids: {})",
                ids.join(", ")
            ),
        ));
    }
    Ok(())
}
