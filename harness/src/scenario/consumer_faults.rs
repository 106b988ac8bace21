//! `[[fault]]` entries with a consumer action: `action = "leave"` (member `member` of group
//! `group` leaves cleanly) and `action = "join"` (a new member joins group `group`), at `at`
//! since the producers start. They share `[[fault]]` with the broker faults (one timeline per
//! cell) but act on the cell's fleet, so they need no `[fault_commands]` and no cluster.
//!
//! Checked here: the keys, their types, `at` before the producers stop. Checked per cell
//! ([`check_cell`]): the group and the member exist in that cell (groups and members can be
//! swept), counting the members that joined before.

use std::ops::Range;

use toml_edit::{TableLike, Value};

use super::errors::ScenarioError;
use super::faults::{check_before_end, duration_of, fault_key};
use super::model::{CellSpec, ConsumerAction, ConsumerFault, RunSpec};
use super::settings::{describe, int_in, key_span, one_of, Ctx, Field};
use super::units::format_duration;

const KEYS: &str = "at, action, group, member";

/// A parsed consumer fault with the spans of its keys.
pub(crate) struct ParsedConsumerFault {
    pub spec: ConsumerFault,
    pub group: Option<Range<usize>>,
    pub member: Option<Range<usize>>,
}

/// Is this `[[fault]]` a consumer action? Decided by its `action` alone, so an entry with a
/// broker action gets the broker faults' messages.
pub(crate) fn is_consumer_action(table: &dyn TableLike) -> bool {
    matches!(
        table.get("action").and_then(|a| a.as_str()),
        Some("leave" | "join")
    )
}

pub(crate) fn parse_one(
    i: usize,
    table: &dyn TableLike,
    entry: Option<Range<usize>>,
    cx: &Ctx,
    run: &RunSpec,
) -> Result<ParsedConsumerFault, ScenarioError> {
    let (mut at, mut action, mut group, mut member) = (None, None, None, None);
    let (mut at_span, mut group_span, mut member_span) = (None, None, None);
    for (k, item) in table.iter() {
        let field = Field::of(table, k, item, fault_key(i, k));
        match k {
            "at" => {
                at = Some(duration_of(&field, cx)?);
                at_span = field.span.clone();
            }
            "action" => {
                let names = ["leave", "join"];
                action = Some(
                    [ConsumerAction::Leave, ConsumerAction::Join][one_of(&field, cx, &names)?],
                );
            }
            "group" => {
                group = Some(index_of(&field, cx)?);
                group_span = field.span.clone();
            }
            "member" => {
                member = Some(index_of(&field, cx)?);
                member_span = field.span.clone();
            }
            _ => {
                return Err(cx.src.err(
                    key_span(table, k).or_else(|| entry.clone()),
                    &field.key,
                    format!(
                        "unknown key; a [[fault]] with action \"leave\" or \"join\" takes {KEYS}"
                    ),
                ))
            }
        }
    }
    let missing = |name: &str, example: &str| {
        cx.src.err(
            entry.clone(),
            &fault_key(i, name),
            format!("missing: this [[fault]] needs {name} = {example}"),
        )
    };
    let at = at.ok_or_else(|| missing("at", "\"10s\" (since the producers start)"))?;
    let action = action.ok_or_else(|| missing("action", "\"leave\" or \"join\""))?;
    let group = group.ok_or_else(|| missing("group", "0 (the group's index, from 0)"))?;
    match (action, member) {
        (ConsumerAction::Leave, None) => {
            return Err(missing(
                "member",
                "1 (which member leaves: its index in the group, from 0)",
            ))
        }
        (ConsumerAction::Join, Some(_)) => {
            return Err(cx.src.err(
                member_span,
                &fault_key(i, "member"),
                "action \"join\" adds a new member (numbered after the group's members): it takes no member",
            ))
        }
        _ => {}
    }
    check_before_end(i, at, at_span, cx, run)?;
    Ok(ParsedConsumerFault {
        spec: ConsumerFault {
            index: i,
            at,
            action,
            group,
            member,
        },
        group: group_span,
        member: member_span,
    })
}

/// A group or member index: an integer from 0.
fn index_of(f: &Field, cx: &Ctx) -> Result<usize, ScenarioError> {
    if !matches!(f.item.as_value(), Some(Value::Integer(_))) {
        return Err(f.err(
            cx,
            format!(
                "expected an index (an integer from 0), got {}",
                describe(f.item)
            ),
        ));
    }
    Ok(int_in(f, cx, 0, i32::MAX as i64)? as usize)
}

/// The cell's consumer faults name groups and members it has: a group below
/// `consumers.groups`; a leaving member below `consumers.members` plus the joins of its group
/// before it, and not one that has already left.
pub(crate) fn check_cell(
    cell: &CellSpec,
    faults: &[ParsedConsumerFault],
    cx: &Ctx,
) -> Result<(), ScenarioError> {
    let groups = cell.consumers.groups;
    // In the order they fire (file order on ties), as the cell carries them out.
    let mut order: Vec<&ParsedConsumerFault> = faults.iter().collect();
    order.sort_by_key(|f| (f.spec.at, f.spec.index));
    let mut joined = vec![0usize; groups];
    let mut left: Vec<(usize, usize)> = Vec::new();
    for f in order {
        let s = &f.spec;
        let i = s.index;
        if s.group >= groups {
            return Err(cx.src.err(
                f.group.clone(),
                &fault_key(i, "group"),
                format!(
                    "in cell {} ({}): group {} does not exist: the cell has {groups} consumer group{} \
                     (consumers.groups)",
                    cell.index,
                    cell.id,
                    s.group,
                    if groups == 1 { "" } else { "s" }
                ),
            ));
        }
        match (s.action, s.member) {
            (ConsumerAction::Join, _) => joined[s.group] += 1,
            (ConsumerAction::Leave, Some(m)) => {
                let present = cell.consumers.members + joined[s.group];
                let problem = if m >= present {
                    Some(format!(
                        "member {m} of group {} does not exist at {}: the group has {} member{} \
                         (consumers.members) and {} joined before (members are numbered from 0, \
                         joined ones after the others)",
                        s.group,
                        format_duration(s.at),
                        cell.consumers.members,
                        if cell.consumers.members == 1 { "" } else { "s" },
                        joined[s.group]
                    ))
                } else if left.contains(&(s.group, m)) {
                    Some(format!("member {m} of group {} has already left", s.group))
                } else {
                    None
                };
                if let Some(problem) = problem {
                    return Err(cx.src.err(
                        f.member.clone(),
                        &fault_key(i, "member"),
                        format!("in cell {} ({}): {problem}", cell.index, cell.id),
                    ));
                }
                left.push((s.group, m));
            }
            (ConsumerAction::Leave, None) => {}
        }
    }
    Ok(())
}
