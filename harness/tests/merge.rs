//! `kbench merge` on two real run directories of the real cluster: counts of the merge are the
//! sums, the merged end-to-end histogram holds every consumed message, delivery is recomputed,
//! `kbench report` reads the result. Here the two "shards" are two ordinary runs of a tiny
//! scenario whose manifests are rewritten as shards 0/2 and 1/2 (what merge refuses and how it
//! sums); tests/distributed.rs merges three real `kbench run --shard I/3` processes.

mod common;
use common::{kbench, text, workspace_root};

fn run_once(bootstrap: &str, reports: &std::path::Path) -> std::path::PathBuf {
    let scenario = workspace_root().join("scenarios/smoke.toml");
    let o = kbench(
        &[
            "run",
            scenario.to_str().unwrap(),
            "--bootstrap",
            bootstrap,
            "--reports",
            reports.to_str().unwrap(),
            "--quiet",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    std::fs::read_dir(reports)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
}

/// Mark a run directory as shard `index` of 2 of the distributed run "merge-test".
fn make_shard(dir: &std::path::Path, index: u16) {
    let p = dir.join("manifest.json");
    let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    m["shard"] = serde_json::json!({"index": index, "count": 2, "distributed_run_id": "merge-test",
        "host": {"hostname": format!("host-{index}")}});
    std::fs::write(&p, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    // Its delivery evidence as the shard runner will stamp it: producer ids carry the shard
    // (bits 31-16), so two shards' producer 0 are two producers.
    let p = dir.join("cells/base/delivery.json");
    let mut e: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    let shift = |v: &mut serde_json::Value| {
        let id = v["producer"].as_u64().unwrap();
        v["producer"] = (u64::from(index) << 16 | id).into();
    };
    e["shard"] = index.into();
    e["acked"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .for_each(shift);
    for m in e["members"].as_array_mut().unwrap() {
        m["seen"].as_array_mut().unwrap().iter_mut().for_each(shift);
    }
    std::fs::write(&p, serde_json::to_vec(&e).unwrap()).unwrap();
}

fn results(dir: &std::path::Path) -> Vec<std::collections::HashMap<String, String>> {
    let mut r = csv::Reader::from_path(dir.join("results.csv")).unwrap();
    r.deserialize().map(|x| x.unwrap()).collect()
}

#[test]
fn two_shards_merge_into_one_run_directory_that_reports() {
    let bootstrap = common::require_cluster!();
    let (a, b, out) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let (da, db) = (
        run_once(&bootstrap, a.path()),
        run_once(&bootstrap, b.path()),
    );
    assert!(
        da.join("cells/base/delivery.json").is_file(),
        "evidence written"
    );
    make_shard(&da, 0);
    make_shard(&db, 1);
    let merged = out.path().join("merged");
    let m = merged.to_str().unwrap();
    // A missing shard is refused with exit 2 and a reason.
    let o = kbench(&["merge", m, da.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("missing"), "{}", text(&o));

    let o = kbench(
        &["merge", m, da.to_str().unwrap(), db.to_str().unwrap()],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let (ra, rb, rm) = (&results(&da)[0], &results(&db)[0], &results(&merged)[0]);
    let n = |r: &std::collections::HashMap<String, String>, k: &str| -> u64 {
        r[k].parse::<f64>().unwrap() as u64
    };
    for k in ["offered", "sent", "acked", "consumed", "producers"] {
        assert_eq!(n(rm, k), n(ra, k) + n(rb, k), "{k}");
    }
    assert_eq!(n(rm, "lost"), 0);
    // The merged e2e histogram holds every consumed message of both shards.
    let h = kbench::rundir::read::read_hlog(&merged.join("cells/base/e2e.hlog")).unwrap();
    let all =
        kbench::rundir::hlog::parse(&std::fs::read(merged.join("cells/base/e2e.hlog")).unwrap())
            .unwrap()
            .1;
    let total: u64 = all.iter().map(|i| i.histogram.len()).sum();
    assert_eq!(total, n(rm, "consumed"));
    assert!(h.len() <= total);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(merged.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["shards"].as_array().unwrap().len(), 2);
    assert_eq!(manifest["shards"][1]["host"]["hostname"], "host-1");
    let o = kbench(&["report", m], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}
