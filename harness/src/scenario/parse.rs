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
    Acks, BrokerRef, CellSpec, KeySpec, MessageSize, Partitioner, ProducerSpec, RunSpec, Scenario,
    StampPlace, SweepAxis, TopicCreate,
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
    // Bounded before anything is parsed: a regular file (a named pipe would block forever),
    // of a size a scenario can have, in UTF-8 (else the line and byte offset where it is not).
    let bytes = super::input::read_bounded(path, super::input::MAX_SCENARIO_BYTES)
        .map_err(|m| ScenarioError::new(path, None, None, m))?;
    let text = super::input::utf8(bytes)
        .map_err(|(line, m)| ScenarioError::new(path, Some(line), None, m))?;
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
    let (parsed_faults, consumer_faults) = match &fault_field {
        Some(f) => faults::parse_faults(f, &cx, &base.run)?,
        None => (Vec::new(), Vec::new()),
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
    base.consumer_faults = consumer_faults.iter().map(|f| f.spec.clone()).collect();
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
    let max_id = max_cell_id_len(&name);
    for (cell, choice) in sweep::expand(&axes, &base, &cx, sweep_span)? {
        check_cell_id(&cell, &choice, &axes, max_id, &cx)?;
        check_cell(&cell, &choice, &axes, &origins, &parsed_faults, &cx)?;
        super::consumer_faults::check_cell(&cell, &consumer_faults, &cx)?;
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
    let Some(cell) = s.cells.iter().find(|c| {
        // An existing or auto-created topic has the cluster's replication factor.
        let shaped_here = c.topic.existing.is_none() && c.topic.create == TopicCreate::Kbench;
        shaped_here && c.topic.replication_factor as usize > brokers
    }) else {
        return Ok(());
    };
    let rf = cell.topic.replication_factor;
    let problem = format!(
        "replication factor {rf} is above the cluster's {brokers} broker{}",
        if brokers == 1 { "" } else { "s" }
    );
    Err(setting_error(
        s,
        cell,
        &Setting::ReplicationFactor,
        problem,
        "; lower topic.replication_factor (default 3)",
    ))
}

/// Checks `{ chosen = [...] }` against topics whose partition count only the cluster knows
/// (`topic.existing`): `partitions_of` answers for such a cell, `None` when it cannot tell
/// (the cell then fails on its own, naming the topic). Called before the first cell.
pub fn validate_chosen_against_cluster(
    s: &Scenario,
    partitions_of: impl Fn(&CellSpec) -> Option<i32>,
) -> Result<(), ScenarioError> {
    for cell in &s.cells {
        let Partitioner::Chosen(list) = &cell.producers.partitioner else {
            continue;
        };
        let Some(partitions) = partitions_of(cell) else {
            continue;
        };
        if let Some(problem) = chosen_problem(list, partitions) {
            let whose = match (&cell.topic.existing, cell.topic.create) {
                (Some(t), _) => format!("topic {t}: "),
                (None, TopicCreate::Auto) => {
                    "the broker's auto-created topic (num.partitions): ".to_string()
                }
                (None, TopicCreate::Kbench) => String::new(),
            };
            return Err(setting_error(
                s,
                cell,
                &Setting::Partitioner,
                format!("{whose}{problem}"),
                "",
            ));
        }
    }
    Ok(())
}

/// `topic.create = "auto"` needs brokers that create topics on the first write: refused before
/// the first cell when the cluster says `auto.create.topics.enable` is false (`enabled`: what
/// its brokers say; `None` when they did not all answer, and then the cell finds out).
pub fn validate_auto_create_against_cluster(
    s: &Scenario,
    enabled: Option<bool>,
) -> Result<(), ScenarioError> {
    if enabled != Some(false) {
        return Ok(());
    }
    let Some(cell) = s.cells.iter().find(|c| c.topic.create == TopicCreate::Auto) else {
        return Ok(());
    };
    Err(setting_error(
        s,
        cell,
        &Setting::TopicCreate,
        "the cluster's auto.create.topics.enable is false, so a topic written to before it \
         exists is never made: use a cluster with auto-creation on (kbench cluster up \
         --broker-prop auto.create.topics.enable=true, or docker-compose.auto-create.yml)"
            .into(),
        "",
    ))
}

/// An error about `setting` in `cell`, found after parsing: it points at the swept value that
/// made the cell, or else at the key in its section (`hint` is added only there). A
/// [`Scenario`] does not keep spans, so the line is found again in `s.path`; if that file is
/// gone or unreadable the error has no line.
fn setting_error(
    s: &Scenario,
    cell: &CellSpec,
    setting: &Setting,
    problem: String,
    hint: &str,
) -> ScenarioError {
    let swept = s
        .axes
        .iter()
        .position(|a| Setting::from_sweep_key(&a.name).as_ref() == Some(setting));
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
            ScenarioError::new(
                &s.path,
                line_of(span),
                Some(format!("sweep.{}", axis.name)),
                format!("in cell {} ({}): {problem}", cell.index, cell.id),
            )
        }
        None => {
            let key = setting.section_key();
            let span = doc
                .as_ref()
                .and_then(|d| nested_key_span(d.as_table(), &key));
            ScenarioError::new(
                &s.path,
                line_of(span),
                Some(key),
                format!("{problem}{hint}"),
            )
        }
    }
}

/// The span of a dotted key such as `topic.configs.min.insync.replicas`, whose last part may
/// hold dots of its own: the longest remainder that is a key of the table wins, else the first
/// part names a sub-table to look in.
fn nested_key_span(table: &dyn toml_edit::TableLike, key: &str) -> Option<Range<usize>> {
    if let Some(span) = key_span(table, key) {
        return Some(span);
    }
    let (head, rest) = key.split_once('.')?;
    nested_key_span(table.get(head)?.as_table_like()?, rest)
}

/// Checks every topic config kbench would create a topic with against the cluster, before
/// the first cell: `refused` asks the cluster about (name, value) pairs without creating
/// anything and answers the refused ones with its reason. Kafka alone knows which configs its
/// version accepts (librdkafka does not check topic configs), so this cannot happen at load.
pub fn validate_topic_configs_against_cluster(
    s: &Scenario,
    refused: impl FnOnce(&[(String, String)]) -> anyhow::Result<Vec<(String, String, String)>>,
) -> anyhow::Result<()> {
    let mut pairs: Vec<(String, String)> = s
        .cells
        .iter()
        .filter(|c| c.topic.existing.is_none() && c.topic.create == TopicCreate::Kbench)
        .flat_map(|c| c.topic.configs.iter().map(|(k, v)| (k.clone(), v.clone())))
        .collect();
    pairs.sort();
    pairs.dedup();
    let Some((name, value, why)) = refused(&pairs)?.into_iter().next() else {
        return Ok(());
    };
    let cell = s
        .cells
        .iter()
        .find(|c| c.topic.configs.get(&name) == Some(&value))
        .unwrap_or(&s.cells[0]);
    Err(setting_error(
        s,
        cell,
        &Setting::TopicConfig(name.clone()),
        format!(
            "the cluster refuses topic config {name} = {value:?} ({why}), checked without \
             creating a topic"
        ),
        "",
    )
    .into())
}

/// Kafka's longest topic name.
const MAX_TOPIC_NAME: usize = 249;

/// Kafka's topic name rule: 1 to 249 of `[a-zA-Z0-9._-]`, and not `.` or `..`.
fn kafka_topic_name_problem(name: &str) -> Option<String> {
    if name.len() > MAX_TOPIC_NAME {
        return Some(format!(
            "a Kafka topic name has at most {MAX_TOPIC_NAME} characters, this one {}",
            name.len()
        ));
    }
    if name == "." || name == ".." {
        return Some(format!("{name:?} is not a valid Kafka topic name"));
    }
    let bad = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')));
    bad.map(|c| {
        format!(
            "{} is not a valid Kafka topic name: {c:?} is not allowed (only letters, digits, \
             '.', '_' and '-')",
            super::errors::shown(&format!("{name:?}"), 120)
        )
    })
}

/// The longest cell id a scenario called `name` can have: a cell's topic is
/// `kbench-<name>-<YYYYmmdd-HHMMSS>[-N]-<tag>-<cell id>[-r<repeat>]` (`Session::topic_name`,
/// find-max adds `-<probe>` instead), and must stay within Kafka's 249 characters; the id
/// also names the cell's report folder.
fn max_cell_id_len(name: &str) -> usize {
    // "kbench-" 7, "-YYYYmmdd-HHMMSS" 16, "-N" for a second run in the same second 3, the
    // 6-hex tag and its two dashes 8, the repeat or probe suffix ("-r100") 8.
    const OVERHEAD: usize = 7 + 16 + 3 + 8 + 8;
    MAX_TOPIC_NAME.saturating_sub(OVERHEAD + name.len())
}

/// A cell id too long for a topic name: blames the swept value that adds most to it.
fn check_cell_id(
    cell: &CellSpec,
    choice: &[usize],
    axes: &[Axis],
    max: usize,
    cx: &Ctx,
) -> Result<(), ScenarioError> {
    if cell.id.len() <= max {
        return Ok(());
    }
    let Some((ai, axis)) = axes
        .iter()
        .enumerate()
        .max_by_key(|(ai, a)| a.values[choice[*ai]].text.len())
    else {
        return Ok(());
    };
    let value = &axis.values[choice[ai]];
    Err(cx.src.err(
        value.span.clone(),
        &format!("sweep.{}", axis.name),
        format!(
            "in cell {}: its id is {} bytes, at most {max} with this scenario's name (it is part \
             of the cell's topic name, at most {MAX_TOPIC_NAME} characters in Kafka, and names \
             its folder): shorten this value",
            cell.index,
            cell.id.len()
        ),
    ))
}

/// The largest message value a cell can produce, when known without reading a file.
fn max_value_size(size: &MessageSize) -> Option<usize> {
    match size {
        MessageSize::Fixed(n) => Some(*n),
        MessageSize::Uniform { max, .. } => Some(*max),
        MessageSize::FileLines(_) | MessageSize::FollowLines { .. } => None,
    }
}

/// The longest key a cell's producers send: the fixed key, or `key-<index>`.
fn max_key_len(keys: &KeySpec) -> usize {
    match keys {
        KeySpec::None => 0,
        KeySpec::Fixed(k) => k.len(),
        KeySpec::Uniform { count } | KeySpec::Zipf { count, .. } => {
            4 + count.saturating_sub(1).max(1).ilog10() as usize + 1
        }
    }
}

/// librdkafka's default `message.max.bytes`.
const DEFAULT_MESSAGE_MAX_BYTES: i64 = 1_000_000;

/// What librdkafka counts against `message.max.bytes` beside the value and the key: its
/// record framing (`RD_KAFKAP_MESSAGE_V2_MAX_OVERHEAD`, 36 bytes) and, with `stamp =
/// "header"`, kbench's stamp header (key `kbench`, the stamp and their two length bytes). In
/// the value the stamp adds nothing.
fn message_overhead(stamp: StampPlace) -> usize {
    36 + match stamp {
        StampPlace::Value => 0,
        StampPlace::Header => "kbench".len() + StampPlace::MIN_VALUE_SIZE + 2,
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
    // `linger.ms = 5` (a dotted key) and `"linger.ms" = 500` are two keys to TOML and one
    // property to librdkafka: the last one would silently win.
    if let Some((first, span)) = origins.get(&setting) {
        let at = cx
            .src
            .line(span.clone())
            .map(|l| format!(" at line {l}"))
            .unwrap_or_default();
        return Err(f.err(
            cx,
            format!("set twice: also written as {first}{at}; keep one"),
        ));
    }
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
            // Bounded like every read of a message file (a device or a pipe is refused there).
            let data =
                super::input::read_bounded(path, super::input::MAX_MESSAGE_FILE_BYTES).ok()?;
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

/// Why a followed file (`{ file = ..., follow = true }`) cannot run with these producers, and
/// the settings to blame.
fn follow_problem(p: &ProducerSpec) -> Option<(Vec<Setting>, String)> {
    if !p.message_size.is_followed() {
        return None;
    }
    if p.stamp == StampPlace::Value {
        return Some((
            vec![Setting::Stamp, Setting::MessageSize],
            format!(
                "a followed file's lines are sent intact, but stamp = \"value\" would overwrite \
                 the first {} bytes of each: set producers.stamp = \"header\"",
                StampPlace::MIN_VALUE_SIZE
            ),
        ));
    }
    // One producer sends each line once, in the file's order. Several would either each send
    // every line (duplicates that are no part of the log) or split the lines between clients
    // whose sends interleave (the file's order lost across producers): neither is log shipping.
    if p.count > 1 {
        return Some((
            vec![Setting::Count, Setting::MessageSize],
            format!(
                "a followed file is shipped by one producer (each line once, in the file's \
                 order), got producers.count = {}: set it to 1",
                p.count
            ),
        ));
    }
    // The follow loop sends each line as it appears and has no transaction boundaries; a
    // transactional producer outside a transaction fails every send.
    if p.transaction_messages > 0 {
        return Some((
            vec![Setting::TransactionMessages, Setting::MessageSize],
            "a followed file is not sent in transactions: leave producers.transaction_messages \
             out (or 0)"
                .into(),
        ));
    }
    None
}

/// Why `{ chosen = [...] }` cannot run on a topic of `partitions` partitions, if it cannot.
pub(crate) fn chosen_problem(list: &[i32], partitions: i32) -> Option<String> {
    let p = list.iter().find(|&&p| p >= partitions)?;
    Some(format!(
        "chosen partition {p} does not exist: the topic has {partitions} partition{} (0..={})",
        if partitions == 1 { "" } else { "s" },
        partitions - 1
    ))
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
    let c = &cell.consumers;
    if !c.assignor.fits(c.group_protocol) {
        let fits: Vec<&str> = crate::scenario::Assignor::ALL
            .into_iter()
            .filter(|a| a.fits(c.group_protocol))
            .map(|a| a.name())
            .collect();
        return Err(blame(
            &[Setting::Assignor, Setting::GroupProtocol],
            format!(
                "assignor \"{}\" is not an assignor of group_protocol \"{}\" (it takes {}): {}",
                c.assignor.name(),
                c.group_protocol.name(),
                fits.join(", "),
                match c.group_protocol {
                    crate::scenario::GroupProtocol::Consumer => {
                        "with the KIP-848 protocol the broker assigns, always incrementally"
                    }
                    crate::scenario::GroupProtocol::Classic => {
                        "uniform is the broker's assignor of group_protocol = \"consumer\""
                    }
                }
            ),
        ));
    }
    if let Some(existing) = &cell.topic.existing {
        if let Some(problem) = kafka_topic_name_problem(existing) {
            return Err(blame(&[Setting::ExistingTopic], problem));
        }
        // An existing topic keeps its own shape and configs: a value here would be reported
        // as the cell's setting while the topic has another.
        let mut ignored = vec![Setting::Partitions, Setting::ReplicationFactor];
        ignored.extend(cell.topic.configs.keys().cloned().map(Setting::TopicConfig));
        for s in ignored {
            if origins.contains_key(&s) || axes.iter().any(|a| a.setting == s) {
                return Err(blame(
                    std::slice::from_ref(&s),
                    format!(
                        "{} is not used with topic.existing: an existing topic keeps its own \
                         partitions, replication factor and configs; remove it",
                        s.section_key()
                    ),
                ));
            }
        }
    }
    if cell.topic.create == TopicCreate::Auto {
        if cell.topic.existing.is_some() {
            return Err(blame(
                &[Setting::TopicCreate, Setting::ExistingTopic],
                "topic.create = \"auto\" writes to a topic that does not exist yet; \
                 topic.existing names one that does: keep one of them"
                    .into(),
            ));
        }
        // The broker decides an auto-created topic's shape: a value here would be reported as
        // the cell's setting while the topic has the broker's defaults.
        let mut ignored = vec![Setting::Partitions, Setting::ReplicationFactor];
        ignored.extend(cell.topic.configs.keys().cloned().map(Setting::TopicConfig));
        for s in ignored {
            if origins.contains_key(&s) || axes.iter().any(|a| a.setting == s) {
                return Err(blame(
                    std::slice::from_ref(&s),
                    format!(
                        "{} is not used with topic.create = \"auto\": the broker makes the \
                         topic with its num.partitions and default.replication.factor; remove it",
                        s.section_key()
                    ),
                ));
            }
        }
    }
    let p = &cell.producers;
    let max_bytes_setting = Setting::Client(ClientKind::Producer, "message.max.bytes".into());
    let max_bytes = match cell.client.producer.get("message.max.bytes") {
        Some(v) => v.trim().parse::<i64>().ok(),
        None => Some(DEFAULT_MESSAGE_MAX_BYTES),
    };
    if let (Some(limit), Some(value)) = (max_bytes, max_value_size(&p.message_size)) {
        let whole = value + max_key_len(&p.keys) + message_overhead(p.stamp);
        if whole as i64 > limit {
            let whose = if origins.contains_key(&max_bytes_setting)
                || axes.iter().any(|a| a.setting == max_bytes_setting)
            {
                format!("[client.producer] message.max.bytes = {limit}")
            } else {
                format!("librdkafka's message.max.bytes ({limit} unless set in [client.producer])")
            };
            return Err(blame(
                &[Setting::MessageSize, max_bytes_setting, Setting::Keys],
                format!(
                    "messages of up to {value} bytes are {whole} bytes with key{} and record \
                     framing, above {whose}: every send would fail",
                    if p.stamp == StampPlace::Header {
                        ", kbench's stamp header"
                    } else {
                        ""
                    }
                ),
            ));
        }
    }
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
    if p.transaction_messages > 0 && !p.idempotence {
        // librdkafka refuses transactional.id with enable.idempotence=false set explicitly,
        // and kbench sets it from producers.idempotence.
        return Err(blame(
            &[Setting::TransactionMessages, Setting::Idempotence],
            "transactions (producers.transaction_messages > 0) need producers.idempotence = true"
                .into(),
        ));
    }
    if p.transaction_messages == 0 && p.transaction_abort > 0.0 {
        return Err(blame(
            &[Setting::TransactionAbort, Setting::TransactionMessages],
            format!(
                "transaction_abort = {} needs transactions: set producers.transaction_messages",
                p.transaction_abort
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
    // An existing or auto-created topic's partition count is the cluster's: checked before the
    // first cell (validate_chosen_against_cluster).
    let shape_known = cell.topic.existing.is_none() && cell.topic.create == TopicCreate::Kbench;
    if let (Partitioner::Chosen(list), true) = (&p.partitioner, shape_known) {
        if let Some(problem) = chosen_problem(list, cell.topic.partitions) {
            return Err(blame(&[Setting::Partitioner, Setting::Partitions], problem));
        }
    }
    if let Some((involved, problem)) = follow_problem(p) {
        return Err(blame(&involved, problem));
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
