//! TOML -> [`Scenario`]: read the sections onto a default cell, read `[sweep]`, expand the cells
//! and check every cell for impossible combinations.
//!
//! The file is walked with `toml_edit` rather than deserialized with serde: it keeps the byte
//! span of every key and value (so each error names its line) and the order of the `[sweep]`
//! keys (which fixes the order of the cells).

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;

use toml_edit::ImDocument;

pub use super::errors::ScenarioError;
use super::errors::Source;
use super::faults::{self, fault_key, ParsedFault};
use super::model::{
    Acks, BrokerRef, CellSpec, KeySpec, MessageSize, Partitioner, RunSpec, Scenario, StampPlace,
    SweepAxis,
};
pub use super::render::render_cells;
use super::settings::{
    default_cell, describe, flatten, int_in, key_span, table_of, ClientKind, Ctx, Field, Setting,
};
use super::sweep::{self, Axis};
use super::units::parse_duration;

/// Reads and parses a scenario file. Relative paths in it (message files) are resolved against
/// the file's directory.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ScenarioError::new(path, None, None, format!("cannot read: {e}")))?;
    parse_str(&text, path)
}

/// Parses scenario text; `path` is used in errors and to resolve relative paths.
pub fn parse_str(text: &str, path: &Path) -> Result<Scenario, ScenarioError> {
    let src = Source::new(path, text);
    let doc = ImDocument::parse(text)
        .map_err(|e| src.file_err(e.span(), format!("invalid TOML: {}", e.message())))?;
    let base_dir = path.parent().unwrap_or_else(|| Path::new(""));
    let cx = Ctx {
        src: &src,
        base_dir,
    };
    let root = doc.as_table();

    let mut base = default_cell();
    let mut origins = Origins::new();
    let mut name = None;
    let mut sweep_field = None;
    let mut fault_field = None;
    let mut commands_field = None;
    for (k, item) in root.iter() {
        let f = Field::of(root, k, item, k.to_string());
        match k {
            "name" => name = Some(scenario_name(&f, &cx)?),
            "topic" | "producers" | "consumers" => section(k, &f, &cx, &mut base, &mut origins)?,
            "client" => client(&f, &cx, &mut base, &mut origins)?,
            "run" => base.run = run(&f, &cx)?,
            "sweep" => sweep_field = Some(f),
            "fault" => fault_field = Some(f),
            "fault_commands" => commands_field = Some(f),
            _ => {
                return Err(src.err(
                    key_span(root, k),
                    k,
                    "unknown key; expected name, [topic], [producers], [consumers], [run], \
                     [client.producer|consumer|admin], [sweep], [[fault]] or [fault_commands]",
                ))
            }
        }
    }
    // After the loop: a fault is checked against [run], wherever the two are in the file.
    let parsed_faults = match &fault_field {
        Some(f) => faults::parse_faults(f, &cx, &base.run)?,
        None => Vec::new(),
    };
    let fault_commands = match &commands_field {
        Some(f) => {
            let commands = faults::parse_commands(f, &cx)?;
            let span = key_span(root, "fault_commands");
            let table = f.item.as_table_like();
            faults::check_commands(&parsed_faults, &commands, span, table, &cx)?;
            Some(commands)
        }
        None => None,
    };
    base.faults = parsed_faults.iter().map(|f| f.spec.clone()).collect();
    let name = name.ok_or_else(|| {
        ScenarioError::new(
            path,
            None,
            Some("name".into()),
            "missing: every scenario needs name = \"...\" (letters, digits, '.', '_', '-')",
        )
    })?;

    let axes = match &sweep_field {
        Some(f) => sweep::collect_axes(f, &cx, &base)?,
        None => Vec::new(),
    };
    let sweep_span = sweep_field.as_ref().and_then(|f| f.span.clone());
    let mut cells = Vec::new();
    for (cell, choice) in sweep::expand(&axes, &base, &cx, sweep_span)? {
        check_cell(&cell, &choice, &axes, &origins, &parsed_faults, &cx)?;
        cells.push(cell);
    }
    Ok(Scenario {
        name,
        path: path.to_path_buf(),
        axes: axes
            .iter()
            .map(|a| SweepAxis {
                name: a.name.clone(),
                values: a.values.iter().map(|v| v.text.clone()).collect(),
            })
            .collect(),
        cells,
        fault_commands,
    })
}

/// Checks what needs the cluster's shape: a replication factor above the broker count.
///
/// A [`Scenario`] does not keep spans, so the line is found again in `s.path`; if that file is
/// gone or unreadable the error has no line.
pub fn validate_against_cluster(s: &Scenario, brokers: usize) -> Result<(), ScenarioError> {
    let Some(cell) = s
        .cells
        .iter()
        .find(|c| c.topic.existing.is_none() && c.topic.replication_factor as usize > brokers)
    else {
        return Ok(());
    };
    let rf = cell.topic.replication_factor;
    let problem = format!(
        "replication factor {rf} is above the cluster's {brokers} broker{}",
        if brokers == 1 { "" } else { "s" }
    );
    let swept = s
        .axes
        .iter()
        .position(|a| Setting::from_sweep_key(&a.name) == Some(Setting::ReplicationFactor));
    let text = std::fs::read_to_string(&s.path).ok();
    let doc = text.as_deref().and_then(|t| ImDocument::parse(t).ok());
    let line_of = |span: Option<Range<usize>>| {
        let text = text.as_deref()?;
        Source::new(&s.path, text).line(span)
    };
    match swept {
        Some(ai) => {
            let axis = &s.axes[ai];
            let value = cell.params.get(ai).map(|(_, v)| v.as_str());
            let vi = axis.values.iter().position(|v| Some(v.as_str()) == value);
            let span = doc.as_ref().and_then(|d| {
                let table = d.as_table().get("sweep")?.as_table_like()?;
                let mut raw = Vec::new();
                sweep::entries(table, "", &mut raw);
                let (_, kspan, item) = raw.into_iter().find(|(n, _, _)| *n == axis.name)?;
                vi.and_then(|vi| item.as_array()?.get(vi)?.span()).or(kspan)
            });
            Err(ScenarioError::new(
                &s.path,
                line_of(span),
                Some(format!("sweep.{}", axis.name)),
                format!("in cell {} ({}): {problem}", cell.index, cell.id),
            ))
        }
        None => {
            let span = doc.as_ref().and_then(|d| {
                let topic = d.as_table().get("topic")?.as_table_like()?;
                key_span(topic, "replication_factor")
            });
            Err(ScenarioError::new(
                &s.path,
                line_of(span),
                Some("topic.replication_factor".into()),
                format!("{problem}; lower topic.replication_factor (default 3)"),
            ))
        }
    }
}

/// Where each explicitly set setting was written, to point errors about combinations at it.
type Origins = HashMap<Setting, (String, Option<Range<usize>>)>;

fn scenario_name(f: &Field, cx: &Ctx) -> Result<String, ScenarioError> {
    let name = f
        .item
        .as_str()
        .ok_or_else(|| f.err(cx, format!("expected a string, got {}", describe(f.item))))?;
    let safe = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if name.is_empty() || name.len() > 100 || !name.chars().all(safe) {
        return Err(f.err(
            cx,
            format!(
                "must be 1 to 100 letters, digits, '.', '_' or '-' (it names report folders), got {name:?}"
            ),
        ));
    }
    Ok(name.to_string())
}

/// `[topic]`, `[producers]`, `[consumers]`.
fn section(
    section: &str,
    f: &Field,
    cx: &Ctx,
    base: &mut CellSpec,
    origins: &mut Origins,
) -> Result<(), ScenarioError> {
    let table = table_of(f, cx)?;
    for (k, item) in table.iter() {
        let field = Field::of(table, k, item, format!("{section}.{k}"));
        if section == "topic" && k == "configs" {
            let mut props = Vec::new();
            flatten(table_of(&field, cx)?, &field.key, "", &mut props);
            for (name, pf, _) in props {
                set(Setting::TopicConfig(name), &pf, cx, base, origins)?;
            }
            continue;
        }
        match Setting::in_section(section, k) {
            Some(setting) => set(setting, &field, cx, base, origins)?,
            None => {
                let mut known = Setting::keys_of(section);
                if section == "topic" {
                    known.push("configs");
                }
                return Err(cx.src.err(
                    key_span(table, k),
                    &field.key,
                    format!("unknown key; [{section}] takes {}", known.join(", ")),
                ));
            }
        }
    }
    Ok(())
}

fn set(
    setting: Setting,
    f: &Field,
    cx: &Ctx,
    base: &mut CellSpec,
    origins: &mut Origins,
) -> Result<(), ScenarioError> {
    setting.apply(f, cx, base)?;
    origins.insert(setting, (f.key.clone(), f.span.clone()));
    Ok(())
}

/// `[client.producer]`, `[client.consumer]`, `[client.admin]`: librdkafka properties.
fn client(
    f: &Field,
    cx: &Ctx,
    base: &mut CellSpec,
    origins: &mut Origins,
) -> Result<(), ScenarioError> {
    let table = table_of(f, cx)?;
    for (k, item) in table.iter() {
        let field = Field::of(table, k, item, format!("client.{k}"));
        let kind = match k {
            "producer" => ClientKind::Producer,
            "consumer" => ClientKind::Consumer,
            "admin" => ClientKind::Admin,
            _ => {
                return Err(cx.src.err(
                    key_span(table, k),
                    &field.key,
                    "unknown key; librdkafka properties go in [client.producer], \
                     [client.consumer] or [client.admin]",
                ))
            }
        };
        let mut props = Vec::new();
        flatten(table_of(&field, cx)?, &field.key, "", &mut props);
        for (name, pf, _) in props {
            set(Setting::Client(kind, name), &pf, cx, base, origins)?;
        }
    }
    Ok(())
}

/// `[run]`: phases. Not sweepable: every cell of a scenario runs for the same time.
fn run(f: &Field, cx: &Ctx) -> Result<RunSpec, ScenarioError> {
    let table = table_of(f, cx)?;
    let mut run = default_cell().run;
    let mut duration_set = false;
    let mut messages_set = false;
    let duration = |f: &Field| -> Result<std::time::Duration, ScenarioError> {
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
    };
    for (k, item) in table.iter() {
        let field = Field::of(table, k, item, format!("run.{k}"));
        match k {
            "warmup" => run.warmup = duration(&field)?,
            "drain_timeout" => run.drain_timeout = duration(&field)?,
            "duration" | "messages" => {
                if duration_set || messages_set {
                    return Err(field.err(cx, "set either run.duration or run.messages, not both"));
                }
                if k == "duration" {
                    let d = duration(&field)?;
                    if d.is_zero() {
                        return Err(field.err(cx, "must be above 0"));
                    }
                    run.duration = Some(d);
                    duration_set = true;
                } else {
                    run.messages = Some(int_in(&field, cx, 1, i64::MAX)? as u64);
                    run.duration = None;
                    messages_set = true;
                }
            }
            _ => {
                return Err(cx.src.err(
                    key_span(table, k),
                    &field.key,
                    "unknown key; [run] takes warmup, duration, messages, drain_timeout",
                ))
            }
        }
    }
    Ok(run)
}

/// Why `size` cannot carry the stamp in the value, if it cannot: some value would be shorter
/// than the stamp.
fn too_small_for_the_stamp(size: &MessageSize) -> Option<String> {
    let min = StampPlace::MIN_VALUE_SIZE;
    let fix = format!(
        "stamp = \"value\" puts kbench's {min}-byte stamp (producer, sequence number, intended \
         time) in the first bytes of every value: use values of at least {min} bytes, or \
         producers.stamp = \"header\" to carry it in a record header instead"
    );
    match size {
        MessageSize::Fixed(n) if *n < min => {
            Some(format!("message_size {n} B is too small: {fix}"))
        }
        MessageSize::Uniform { min: lo, .. } if *lo < min => {
            Some(format!("message_size min {lo} B is too small: {fix}"))
        }
        MessageSize::FileLines(path) => {
            let data = std::fs::read(path).ok()?;
            let (line, len) = data
                .split(|&b| b == b'\n')
                .map(|l| l.strip_suffix(b"\r").unwrap_or(l).len())
                .enumerate()
                .filter(|&(_, len)| len > 0)
                .min_by_key(|&(_, len)| len)?;
            (len < min).then(|| {
                format!(
                    "line {} of message file {} is {len} B, too small (the stamp overwrites \
                     the first bytes of each line; the rest is sent as it is): {fix}",
                    line + 1,
                    path.display()
                )
            })
        }
        _ => None,
    }
}

/// Impossible combinations within one cell. Each error points at the setting to change: a
/// swept one (with the cell) if the sweep made the combination, else the one set in its section.
fn check_cell(
    cell: &CellSpec,
    choice: &[usize],
    axes: &[Axis],
    origins: &Origins,
    faults: &[ParsedFault],
    cx: &Ctx,
) -> Result<(), ScenarioError> {
    let blame = |involved: &[Setting], problem: String| -> ScenarioError {
        for s in involved {
            if let Some(ai) = axes.iter().position(|a| a.setting == *s) {
                let value = &axes[ai].values[choice[ai]];
                return cx.src.err(
                    value.span.clone(),
                    &format!("sweep.{}", axes[ai].name),
                    format!("in cell {} ({}): {problem}", cell.index, cell.id),
                );
            }
        }
        for s in involved {
            if let Some((key, span)) = origins.get(s) {
                return cx.src.err(span.clone(), key, problem);
            }
        }
        let key = involved
            .first()
            .map(Setting::section_key)
            .unwrap_or_default();
        cx.src.err(None, &key, problem)
    };
    let p = &cell.producers;
    if p.idempotence && p.acks != Acks::All {
        return Err(blame(
            &[Setting::Idempotence, Setting::Acks],
            format!(
                "idempotence = true needs producers.acks = \"all\", got \"{}\"",
                p.acks.as_config()
            ),
        ));
    }
    if p.idempotence && p.max_in_flight > 5 {
        return Err(blame(
            &[Setting::Idempotence, Setting::MaxInFlight],
            format!(
                "idempotence = true needs producers.max_in_flight of at most 5, got {}",
                p.max_in_flight
            ),
        ));
    }
    let keyed = matches!(
        p.partitioner,
        Partitioner::Murmur2 | Partitioner::Consistent | Partitioner::Fnv1a
    );
    if keyed && p.keys == KeySpec::None {
        let name = p.partitioner.name();
        return Err(blame(
            &[Setting::Partitioner, Setting::Keys],
            format!(
                "partitioner \"{name}\" hashes the message key, but keys = \"none\" gives every \
                 message a null key: set producers.keys, or use partitioner \"sticky\" or \"{name}_random\""
            ),
        ));
    }
    if p.stamp == StampPlace::Value {
        if let Some(problem) = too_small_for_the_stamp(&p.message_size) {
            return Err(blame(&[Setting::MessageSize, Setting::Stamp], problem));
        }
    }
    let min_isr = Setting::TopicConfig("min.insync.replicas".into());
    if let Some(Ok(min)) = cell
        .topic
        .configs
        .get("min.insync.replicas")
        .map(|v| v.parse::<i64>())
    {
        if p.acks == Acks::All && min > cell.topic.replication_factor as i64 {
            return Err(blame(
                &[min_isr, Setting::ReplicationFactor, Setting::Acks],
                format!(
                    "min.insync.replicas = {min} is above the replication factor {}: every \
                     acks = \"all\" write would fail",
                    cell.topic.replication_factor
                ),
            ));
        }
    }
    for (i, f) in faults.iter().enumerate() {
        let BrokerRef::LeaderOf(p) = f.spec.broker else {
            continue;
        };
        let partitions = cell.topic.partitions;
        if p >= partitions {
            let problem = format!(
                "fault[{i}] targets leader-of:{p}, but the topic has {partitions} partition{} \
                 (0..={})",
                if partitions == 1 { "" } else { "s" },
                partitions - 1
            );
            // A swept partition count made it: blame that value; else the fault.
            if axes.iter().any(|a| a.setting == Setting::Partitions) {
                return Err(blame(&[Setting::Partitions], problem));
            }
            return Err(cx
                .src
                .err(f.spans.broker.clone(), &fault_key(i, "broker"), problem));
        }
    }
    Ok(())
}
