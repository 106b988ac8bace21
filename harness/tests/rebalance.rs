//! Consumer group rebalances under load, against the real cluster: a member leaves mid-run
//! and another joins, with an eager assignor (range) and a cooperative one
//! (cooperative-sticky). What could go wrong is asserted: the leaver's partitions move to the
//! member that stays, each move's pause is recorded (and only moved partitions pause when the
//! assignor is cooperative), nothing is lost, and the lag is a series with a value per interval.

mod common;
use std::collections::BTreeSet;
use std::path::Path;

use common::{kbench, text};
use kbench::rundir::rows::{read_csv, ResultRow, TimeseriesRow};
use serde_json::Value;

const SCENARIO: &str = r#"
[topic]
partitions = 6
replication_factor = 3
[producers]
rate = 400
message_size = 200
acks = "all"
[consumers]
groups = 1
members = 2
[run]
warmup = "1s"
duration = "9s"
[sweep]
assignor = ["range", "cooperative-sticky"]

[[fault]]
at = "2s"
action = "leave"
group = 0
member = 1

[[fault]]
at = "4s"
action = "join"
group = 0
"#;

fn json(path: &Path) -> Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap()
}

fn partitions(v: &Value) -> Vec<i64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_i64().unwrap())
        .collect()
}

#[test]
fn a_leaving_member_s_partitions_move_and_each_pause_is_recorded() {
    let bootstrap = common::require_cluster!();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rebalance.toml");
    std::fs::write(&file, format!("name = \"rebalance\"\n{SCENARIO}")).unwrap();
    let reports = dir.path().join("reports");
    let o = kbench(
        &[
            "run",
            file.to_str().unwrap(),
            "--bootstrap",
            &bootstrap,
            "--reports",
            reports.to_str().unwrap(),
            "--quiet",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let run_dir = std::fs::read_dir(&reports)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let rows: Vec<ResultRow> = read_csv(&run_dir.join("results.csv")).unwrap();
    let series: Vec<TimeseriesRow> = read_csv(&run_dir.join("timeseries.csv")).unwrap();
    let header = std::fs::read_to_string(run_dir.join("timeseries.csv")).unwrap();
    assert!(
        header.lines().next().unwrap().ends_with(",consumer_lag"),
        "lag is the last column of timeseries.csv"
    );
    assert_eq!(rows.len(), 2);
    for r in &rows {
        let eager = r.assignor == "range";
        let cell = &r.cell;
        // Nothing lost: every acked message was read by the group, redeliveries apart.
        assert_eq!((r.lost, r.duplicated), (0, 0), "{cell}: {r:?}");
        assert!(r.acked > 0 && r.consumed == r.acked, "{cell}: {r:?}");
        assert!(r.rebalances >= 1, "{cell}: {r:?}");
        assert!(
            r.rebalance_pause_max_ms.is_some_and(|m| m > 0.0),
            "{cell}: a pause was recorded: {r:?}"
        );
        assert!(r.first_assignment_max_ms.is_some_and(|m| m > 0.0), "{r:?}");

        let cell_dir = run_dir.join("cells").join(cell);
        let members = json(&cell_dir.join("members.json"));
        let members = members.as_array().unwrap();
        assert_eq!(
            members.len(),
            3,
            "{cell}: two members and the one that joined"
        );
        let left = &members[1];
        assert!(
            left["left_at_s"].as_f64().is_some_and(|t| t >= 2.0),
            "{cell}: {left}"
        );
        assert_eq!(partitions(&left["partitions"]), Vec::<i64>::new(), "{left}");
        let joined = &members[2];
        assert!(
            joined["joined_at_s"].as_f64().is_some_and(|t| t >= 4.0),
            "{joined}"
        );
        // The member that stayed and the one that joined hold every partition between them.
        let mut held: Vec<i64> = partitions(&members[0]["partitions"]);
        held.extend(partitions(&joined["partitions"]));
        held.sort_unstable();
        assert_eq!(held, (0..6).collect::<Vec<_>>(), "{cell}: {members:?}");
        // A cooperative join takes two rebalances (revoke, then assign), each found at a
        // heartbeat (every 3 s): 6 s is enough for both.
        assert!(
            !partitions(&joined["partitions"]).is_empty(),
            "{cell}: the new member took partitions: {members:?}"
        );

        let pauses = json(&cell_dir.join("rebalances.json"));
        let pauses = pauses[0]["pauses"].as_array().unwrap().clone();
        assert_eq!(pauses.len(), r.rebalance_pauses, "{cell}");
        let from_leaver: Vec<&Value> = pauses.iter().filter(|p| p["from_member"] == 1).collect();
        let moved: BTreeSet<i64> = from_leaver
            .iter()
            .map(|p| p["partition"].as_i64().unwrap())
            .collect();
        // The leaver held half of the six partitions; each went to another member: the one
        // that stayed, or (when the group's next heartbeat came after the join, so one
        // rebalance did both: the classic protocol's heartbeat is every 3 s) the new one.
        assert_eq!(moved.len(), 3, "{cell}: {pauses:?}");
        assert_eq!(from_leaver.len(), 3, "{cell}: {pauses:?}");
        assert!(
            from_leaver.iter().all(|p| p["to_member"] != 1),
            "{cell}: {pauses:?}"
        );
        for p in &pauses {
            let (revoked, assigned) = (
                p["revoked_ns"].as_u64().unwrap(),
                p["assigned_ns"].as_u64().unwrap(),
            );
            assert!(assigned > revoked, "{cell}: {p}");
        }
        // An eager assignor revokes every partition, so partitions that stay pause too; a
        // cooperative one revokes only what moves.
        let stayed = pauses
            .iter()
            .filter(|p| p["from_member"] == p["to_member"])
            .count();
        if eager {
            assert!(
                stayed >= 3,
                "{cell}: eager pauses every partition: {pauses:?}"
            );
        } else {
            assert_eq!(stayed, 0, "{cell}: cooperative moves only: {pauses:?}");
        }

        // The lag series: one value per interval, drained to 0 by the end.
        let of_cell: Vec<&TimeseriesRow> = series.iter().filter(|t| &t.cell == cell).collect();
        assert!(of_cell.len() >= 10, "{cell}: {} intervals", of_cell.len());
        assert!(of_cell.windows(2).all(|w| w[0].t_s < w[1].t_s));
        assert_eq!(of_cell.last().unwrap().consumer_lag, 0, "{cell}");
    }
    let summary = std::fs::read_to_string(run_dir.join("summary.md")).unwrap();
    assert!(
        summary.contains("## Consumer group rebalances"),
        "{summary}"
    );
}

#[test]
fn a_member_that_does_not_exist_is_refused_with_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    let text_ = format!(
        "name = \"bad\"\n{}",
        SCENARIO.replace("member = 1", "member = 2")
    );
    std::fs::write(&file, text_).unwrap();
    let o = kbench(&["validate", file.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("bad.toml:") && err.contains("fault[0].member") && err.contains("member 2"),
        "{err}"
    );
}
