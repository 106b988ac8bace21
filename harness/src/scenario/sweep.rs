//! `[sweep]`: each key is a setting, each value a list; the cells are the cartesian product of
//! the lists, first axis (in file order) varying slowest, so the order is stable across runs.

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use toml_edit::{Item, TableLike};

use super::errors::ScenarioError;
use super::model::CellSpec;
use super::settings::{describe, key_span, render, table_of, ClientKind, Ctx, Field, Setting};

/// More cells than this is almost certainly a typo, and would run for days.
pub const MAX_CELLS: usize = 10_000;

/// One swept setting with its values, each already validated.
pub(crate) struct Axis {
    /// The key as written in `[sweep]` (dotted keys joined): `acks`, `client.producer.linger.ms`.
    pub name: String,
    pub setting: Setting,
    pub values: Vec<AxisValue>,
}

pub(crate) struct AxisValue {
    pub item: Item,
    /// Where the value is written, for errors about cells that use it.
    pub span: Option<Range<usize>>,
    /// The value as a short string (`all`, `6`, `1KiB`).
    pub text: String,
}

/// `[sweep]` entries in file order, dotted TOML keys joined: (name, key span, value). Tables
/// under a setting's own name are not descended into, so that a table given where a list
/// belongs (`keys = { uniform = 10 }`) is reported as such.
pub(crate) fn entries<'a>(
    table: &'a dyn TableLike,
    prefix: &str,
    out: &mut Vec<(String, Option<Range<usize>>, &'a Item)>,
) {
    for (k, item) in table.iter() {
        let name = format!("{prefix}{k}");
        match item.as_table_like() {
            Some(sub) if is_namespace(&name) || Setting::from_sweep_key(&name).is_none() => {
                entries(sub, &format!("{name}."), out)
            }
            _ => out.push((name, key_span(table, k), item)),
        }
    }
}

fn is_namespace(name: &str) -> bool {
    matches!(
        name,
        "topic" | "producers" | "consumers" | "client" | "client.producer" | "client.consumer"
    ) || name.starts_with("topic.configs")
        || name.starts_with("client.producer.")
        || name.starts_with("client.consumer.")
}

/// Reads `[sweep]` into axes, validating every value as if it were set in its section.
pub(crate) fn collect_axes(
    sweep: &Field,
    cx: &Ctx,
    base: &CellSpec,
) -> Result<Vec<Axis>, ScenarioError> {
    let table = table_of(sweep, cx)?;
    let mut raw = Vec::new();
    entries(table, "", &mut raw);
    let mut axes: Vec<Axis> = Vec::new();
    for (name, kspan, item) in raw {
        let key = format!("sweep.{name}");
        let setting = Setting::from_sweep_key(&name).ok_or_else(|| {
            cx.src.err(
                kspan.clone(),
                &key,
                format!("unknown sweep key; expected {}", Setting::sweep_keys_help()),
            )
        })?;
        if let Setting::Client(_, prop) = &setting {
            if crate::cluster::secrets::is_secret(prop) {
                return Err(cx.src.err(
                    kspan,
                    &key,
                    "a secret cannot be swept: swept values become cell ids, topic and folder \
                     names and CSV columns; set it once in [client.*] or --client-config, \
                     preferably as \"${env:NAME}\" or \"${file:PATH}\"",
                ));
            }
        }
        if let Some(prev) = axes.iter().find(|a| a.setting == setting) {
            return Err(cx.src.err(
                kspan,
                &key,
                format!("this setting is already swept as '{}'", prev.name),
            ));
        }
        let span = item.span().or_else(|| kspan.clone());
        let list = item.as_array().ok_or_else(|| {
            cx.src.err(
                span.clone(),
                &key,
                format!(
                    "expected a list of values, e.g. [1, 6, 24], got {}",
                    describe(item)
                ),
            )
        })?;
        // Before any value is looked at: an axis longer than the cell cap can never run, and
        // checking 300,000 values one by one would take minutes.
        if list.len() > MAX_CELLS {
            return Err(cx.src.err(
                span,
                &key,
                format!(
                    "{} values: a sweep has at most {MAX_CELLS} cells, so an axis at most \
                     {MAX_CELLS} values",
                    list.len()
                ),
            ));
        }
        if list.is_empty() {
            return Err(cx.src.err(
                span,
                &key,
                "empty list: a sweep axis needs at least one value",
            ));
        }
        let mut values: Vec<AxisValue> = Vec::new();
        // Each value as it lands in a cell, for the duplicate check (one lookup per value, not
        // a scan): 1024 and "1KiB" are one message size, so one cell.
        let mut seen: HashMap<String, String> = HashMap::with_capacity(list.len());
        for v in list.iter() {
            let item = Item::Value(v.clone());
            let field = Field {
                item: &item,
                key: key.clone(),
                span: v.span().or_else(|| span.clone()),
            };
            if v.as_str()
                .is_some_and(crate::cluster::secrets::is_reference)
            {
                return Err(field.err(
                    cx,
                    "a ${env:..} or ${file:..} reference cannot be swept: the value it stands \
                     for would become a cell id, topic and folder names and CSV columns",
                ));
            }
            // Same validation as in the section; the scratch cell is thrown away.
            let mut scratch = base.clone();
            setting.apply(&field, cx, &mut scratch)?;
            let text = render(&item);
            if let Some(prev) = seen.insert(applied(&setting, &scratch), text.clone()) {
                let problem = if prev == text {
                    format!("value {text:?} is listed twice")
                } else {
                    format!(
                        "value {text:?} is the same as {prev:?}, listed before: both would \
                         make the same cell"
                    )
                };
                return Err(field.err(cx, problem));
            }
            let span = field.span.clone();
            values.push(AxisValue { item, span, text });
        }
        axes.push(Axis {
            name,
            setting,
            values,
        });
    }
    Ok(axes)
}

/// What `setting` holds in `cell`, as a comparable string: equal for two values that make the
/// same cell (`1024` and `"1KiB"`, `-1` and `"all"`, `5` and `5.0`).
fn applied(setting: &Setting, cell: &CellSpec) -> String {
    let (t, p, c) = (&cell.topic, &cell.producers, &cell.consumers);
    match setting {
        Setting::Partitions => format!("{}", t.partitions),
        Setting::ReplicationFactor => format!("{}", t.replication_factor),
        Setting::ExistingTopic => format!("{:?}", t.existing),
        Setting::TopicCreate => format!("{:?}", t.create),
        Setting::TopicConfig(name) => format!("{:?}", t.configs.get(name)),
        Setting::Count => format!("{}", p.count),
        Setting::Rate => format!("{:?}", p.rate),
        Setting::MessageSize => format!("{:?}", p.message_size),
        Setting::Keys => format!("{:?}", p.keys),
        Setting::Partitioner => format!("{:?}", p.partitioner),
        Setting::Acks => format!("{:?}", p.acks),
        Setting::Compression => format!("{:?}", p.compression),
        Setting::LingerMs => format!("{:?}", p.linger_ms),
        Setting::BatchSize => format!("{}", p.batch_size),
        Setting::Idempotence => format!("{}", p.idempotence),
        Setting::MaxInFlight => format!("{}", p.max_in_flight),
        Setting::Sync => format!("{}", p.sync),
        Setting::Stamp => format!("{:?}", p.stamp),
        Setting::PacingTick => format!("{:?}", p.pacing_tick),
        Setting::Groups => format!("{}", c.groups),
        Setting::Members => format!("{}", c.members),
        Setting::StartFrom => format!("{:?}", c.start_from),
        Setting::TransactionMessages => format!("{}", p.transaction_messages),
        Setting::TransactionAbort => format!("{:?}", p.transaction_abort),
        Setting::Isolation => format!("{:?}", c.isolation),
        Setting::Assignor => c.assignor.name().to_string(),
        Setting::GroupProtocol => c.group_protocol.name().to_string(),
        Setting::Client(kind, name) => {
            let map = match kind {
                ClientKind::Producer => &cell.client.producer,
                ClientKind::Consumer => &cell.client.consumer,
                ClientKind::Admin => &cell.client.admin,
            };
            format!("{:?}", map.get(name))
        }
    }
}

/// The cartesian product of `axes` applied to `base`, with each cell's choice of value per axis.
pub(crate) fn expand(
    axes: &[Axis],
    base: &CellSpec,
    cx: &Ctx,
    sweep_span: Option<Range<usize>>,
) -> Result<Vec<(CellSpec, Vec<usize>)>, ScenarioError> {
    let total = axes
        .iter()
        .try_fold(1usize, |n, a| n.checked_mul(a.values.len()))
        .filter(|n| *n <= MAX_CELLS)
        .ok_or_else(|| {
            cx.src.err(
                sweep_span,
                "sweep",
                format!(
                    "the sweep has more than {MAX_CELLS} cells; split it into several scenarios"
                ),
            )
        })?;
    let mut ids = HashSet::new();
    let mut cells = Vec::with_capacity(total);
    for index in 0..total {
        // Mixed-radix digits of `index`, last axis fastest.
        let mut choice = vec![0; axes.len()];
        let mut rest = index;
        for (ai, axis) in axes.iter().enumerate().rev() {
            choice[ai] = rest % axis.values.len();
            rest /= axis.values.len();
        }
        let mut cell = base.clone();
        cell.index = index;
        let mut id_parts = Vec::with_capacity(axes.len());
        for (axis, &vi) in axes.iter().zip(&choice) {
            let value = &axis.values[vi];
            let field = Field {
                item: &value.item,
                key: format!("sweep.{}", axis.name),
                span: value.span.clone(),
            };
            axis.setting.apply(&field, cx, &mut cell)?;
            cell.params.push((axis.name.clone(), value.text.clone()));
            id_parts.push(format!(
                "{}-{}",
                name_safe(&axis.setting.short_name()),
                file_safe(&value.text)
            ));
        }
        let id = if axes.is_empty() {
            "base".to_string()
        } else {
            id_parts.join("_")
        };
        cell.id = unique(id, index, &ids);
        ids.insert(cell.id.clone());
        cells.push((cell, choice));
    }
    Ok(cells)
}

/// `id`, or with the cell index appended if another cell already has it (values that differ
/// only in characters that are not file-safe, e.g. `a b` and `a/b`).
fn unique(id: String, index: usize, taken: &HashSet<String>) -> String {
    if !taken.contains(&id) {
        return id;
    }
    let mut candidate = format!("{id}_{index}");
    let mut n = 1;
    while taken.contains(&candidate) {
        candidate = format!("{id}_{index}-{n}");
        n += 1;
    }
    candidate
}

/// Characters outside `[A-Za-z0-9.-]` become `-`, so ids can name files and folders (`_` is
/// kept out of values: it separates the axes of an id).
pub fn file_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// Axis names keep their `_` (`replication_factor`, `message_size`): readable, still file-safe.
fn name_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '-'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_safe_replaces_everything_but_alnum_dot_dash() {
        assert_eq!(file_safe("all"), "all");
        assert_eq!(file_safe("linger.ms"), "linger.ms");
        assert_eq!(file_safe("uniform=1000"), "uniform-1000");
        assert_eq!(file_safe("a b/c_d"), "a-b-c-d");
        assert_eq!(file_safe("é"), "-");
    }

    #[test]
    fn unique_appends_the_index_on_collision() {
        let mut taken = HashSet::new();
        assert_eq!(unique("a".into(), 0, &taken), "a");
        taken.insert("a".to_string());
        assert_eq!(unique("a".into(), 3, &taken), "a_3");
        taken.insert("a_3".to_string());
        assert_eq!(unique("a".into(), 3, &taken), "a_3-1");
    }
}
