//! `kbench validate`: the scenario's cells as text. Writes to any `Write`, touches no cluster.

use std::io::{self, Write};

use super::errors::{quoted_path, shown};
use super::model::{Assignor, GroupProtocol};
use super::model::{
    CellSpec, FaultAction, FaultSpec, KeySpec, MessageSize, Scenario, StampPlace, TopicCreate,
};
use super::units::{format_duration, format_size};

/// Prints the scenario name, its axes, then one line per cell with the settings that shape the
/// load: index, id, partitions, rf, producers, rate, size, keys, acks, partitioner, consumers.
pub fn render_cells(s: &Scenario, out: &mut impl Write) -> io::Result<()> {
    writeln!(out, "scenario {} ({})", s.name, quoted_path(&s.path))?;
    if s.axes.is_empty() {
        writeln!(out, "axes: none")?;
    } else {
        writeln!(out, "axes:")?;
        // The user's text: escaped (no newline or ANSI sequence reaches the terminal) and
        // each value shortened.
        for axis in &s.axes {
            let values: Vec<String> = axis.values.iter().map(|v| shown(v, 80)).collect();
            writeln!(
                out,
                "  {} = [{}]",
                shown(&axis.name, 120),
                values.join(", ")
            )?;
        }
    }
    if let Some(first) = s.cells.first() {
        let run = &first.run;
        let length = match (run.duration, run.messages) {
            (Some(d), _) => format!("duration {}", format_duration(d)),
            (None, Some(n)) => format!("{n} messages"),
            (None, None) => "no limit".to_string(),
        };
        writeln!(
            out,
            "run: warmup {}, {length}, drain timeout {}",
            format_duration(run.warmup),
            format_duration(run.drain_timeout)
        )?;
        if !first.faults.is_empty() {
            let via = if s.fault_commands.is_some() {
                "[fault_commands]"
            } else {
                "the local cluster"
            };
            writeln!(
                out,
                "faults (in every cell; at = since the producers start, warm-up included; via {via}):"
            )?;
            for (i, f) in first.faults.iter().enumerate() {
                writeln!(out, "  [{i}] {}", fault_line(f))?;
            }
        }
        for f in first.consumer_faults.iter() {
            let who = match f.member {
                Some(m) => format!("member {m} of group {}", f.group),
                None => format!("a new member into group {}", f.group),
            };
            writeln!(
                out,
                "consumer fault [{}] at {}: {} {who}",
                f.index,
                format_duration(f.at),
                f.action.name()
            )?;
        }
    }
    let n = s.cells.len();
    writeln!(out, "{n} cell{}:", if n == 1 { "" } else { "s" })?;
    let index_width = n.saturating_sub(1).to_string().len();
    let id_width = s.cells.iter().map(|c| c.id.len()).max().unwrap_or(0);
    for cell in &s.cells {
        writeln!(
            out,
            "  {:>index_width$}  {:<id_width$}  {}",
            cell.index,
            cell.id,
            settings_line(cell)
        )?;
    }
    Ok(())
}

fn settings_line(c: &CellSpec) -> String {
    let p = &c.producers;
    let rate = match p.rate {
        Some(r) => format!("{r}/s"),
        None => "max".to_string(),
    };
    let size = match &p.message_size {
        MessageSize::Fixed(n) => format_size(*n),
        MessageSize::Uniform { min, max } => {
            format!("{}..{}", format_size(*min), format_size(*max))
        }
        MessageSize::FileLines(path) => format!(
            "lines:{}",
            path.file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default()
        ),
        MessageSize::FollowLines { path, from } => format!(
            "follow:{} (from {})",
            path.file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default(),
            from.name()
        ),
    };
    let keys = match &p.keys {
        KeySpec::None => "none".to_string(),
        KeySpec::Fixed(k) => format!("fixed:{k:?}"),
        KeySpec::Uniform { count } => format!("uniform:{count}"),
        KeySpec::Zipf { count, exponent } => format!("zipf:{count}^{exponent}"),
    };
    // An existing or auto-created topic's shape is the cluster's, not the scenario's default.
    let shape = match (&c.topic.existing, c.topic.create) {
        (Some(t), _) => format!("topic={t}"),
        (None, TopicCreate::Auto) => "topic=auto-created (broker's defaults)".to_string(),
        (None, TopicCreate::Kbench) => format!(
            "partitions={} rf={}",
            c.topic.partitions, c.topic.replication_factor
        ),
    };
    let mut line = format!(
        "{shape} producers={} rate={rate} size={size} keys={keys} acks={} \
         partitioner={} consumers={}x{}",
        p.count,
        p.acks.as_config(),
        p.partitioner,
        c.consumers.groups,
        c.consumers.members,
    );
    if p.stamp == StampPlace::Header {
        line.push_str(" stamp=header");
    }
    let cs = &c.consumers;
    if cs.assignor != Assignor::Range || cs.group_protocol != GroupProtocol::Classic {
        line.push_str(&format!(
            " assignor={} group_protocol={}",
            cs.assignor.name(),
            cs.group_protocol.name()
        ));
    }
    if p.sync {
        line.push_str(" sync");
    }
    line
}

fn fault_line(f: &FaultSpec) -> String {
    let at = format_duration(f.at);
    let what = match (f.action, f.duration) {
        (FaultAction::Pause, Some(d)) => format!("for {}", format_duration(d)),
        (FaultAction::Restart, _) => "then start it again".to_string(),
        (_, Some(d)) => format!("down for {}", format_duration(d)),
        (_, None) => "down until the end of the cell".to_string(),
    };
    format!("at {at} {} broker {}, {what}", f.action, f.broker)
}
