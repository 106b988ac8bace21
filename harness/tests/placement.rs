//! The placement files of distributed runs (docs/distributed.md): the Kubernetes Indexed Job
//! (`deploy/k8s/kbench-shards.yaml`) and the compose `distributed` profile must start N
//! copies of kbench, copy I running `--shard I/N` of the same scenario and run id. Pure:
//! parses the files, needs neither Kubernetes, Docker nor a network.

use kbench::distributed::ShardSpec;
use serde_yaml::Value;

const K8S: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../deploy/k8s/kbench-shards.yaml"
);
const COMPOSE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docker-compose.yml");

fn yaml(file: &str) -> Value {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("cannot read {file}: {e}"));
    let mut doc: Value =
        serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{file} is not valid YAML: {e}"));
    doc.apply_merge()
        .unwrap_or_else(|e| panic!("{file}: bad merge key: {e}"));
    doc
}

fn strings(v: &Value) -> Vec<String> {
    v.as_sequence()
        .map(|s| {
            s.iter()
                .map(|x| x.as_str().expect("a string").to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// The value after `flag` in an argument list.
fn arg<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

#[test]
fn the_indexed_job_turns_its_completion_index_into_the_shard() {
    let doc = yaml(K8S);
    assert_eq!(doc["kind"].as_str(), Some("Job"));
    let spec = &doc["spec"];
    assert_eq!(spec["completionMode"].as_str(), Some("Indexed"));
    let n = spec["completions"].as_u64().expect("completions");
    assert_eq!(
        spec["parallelism"].as_u64(),
        Some(n),
        "every shard runs at once"
    );
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["restartPolicy"].as_str(), Some("Never"));
    let c = &pod["containers"][0];
    let env: Vec<(String, String)> = c["env"]
        .as_sequence()
        .expect("env")
        .iter()
        .map(|e| {
            let k = e["name"].as_str().unwrap_or_default().to_string();
            (k, e["value"].as_str().unwrap_or_default().to_string())
        })
        .collect();
    let var = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(
        var("SHARDS"),
        Some(n.to_string()),
        "SHARDS must equal completions"
    );
    assert!(var("RUN_ID").is_some_and(|r| !r.is_empty()));
    let script = strings(&c["args"]).join(" ");
    let shard = script
        .split_whitespace()
        .skip_while(|w| *w != "--shard")
        .nth(1)
        .expect("--shard in the container's command");
    assert_eq!(shard, "\"${JOB_COMPLETION_INDEX}/${SHARDS}\"");
    // What the shell makes of it for every pod is a valid, distinct shard of N.
    for i in 0..n {
        let spec: ShardSpec = shard
            .trim_matches('"')
            .replace("${JOB_COMPLETION_INDEX}", &i.to_string())
            .replace("${SHARDS}", &n.to_string())
            .parse()
            .unwrap();
        assert_eq!((u64::from(spec.index), u64::from(spec.count)), (i, n));
    }
    assert!(script.contains("--run-id \"${RUN_ID}\""), "{script}");
    assert!(script.starts_with("exec kbench run "), "{script}");
}

#[test]
fn the_compose_profile_runs_every_shard_once_against_the_compose_cluster() {
    let doc = yaml(COMPOSE);
    let services = doc["services"].as_mapping().expect("services");
    let mut shards = Vec::new();
    for (name, spec) in services {
        let name = name.as_str().unwrap_or_default();
        let profiles = strings(&spec["profiles"]);
        if !profiles.contains(&"distributed".to_string()) {
            assert!(!name.starts_with("kbench"), "{name} must be in the profile");
            continue;
        }
        let args = strings(&spec["command"]);
        assert_eq!(args.first().map(String::as_str), Some("run"), "{name}");
        let shard: ShardSpec = arg(&args, "--shard")
            .unwrap_or_else(|| panic!("{name}: no --shard"))
            .parse()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            name.ends_with(&shard.index.to_string()),
            "{name} runs {shard}"
        );
        let bootstrap = spec["environment"]["KBENCH_BOOTSTRAP"]
            .as_str()
            .unwrap_or_default();
        for b in bootstrap.split(',') {
            let host = b.split(':').next().unwrap_or_default();
            assert!(
                services.contains_key(host),
                "{name}: {b} is not a compose service"
            );
        }
        shards.push((shard, args.clone()));
    }
    let n = shards.len();
    assert!(
        n >= 2,
        "the distributed profile needs several load containers"
    );
    let mut indexes: Vec<u16> = shards.iter().map(|(s, _)| s.index).collect();
    indexes.sort_unstable();
    assert_eq!(indexes, (0..n as u16).collect::<Vec<_>>());
    for (s, args) in &shards {
        assert_eq!(usize::from(s.count), n);
        // Same scenario and run id everywhere, distinct report directories.
        assert_eq!(args[1], shards[0].1[1]);
        assert_eq!(arg(args, "--run-id"), arg(&shards[0].1, "--run-id"));
    }
    let mut reports: Vec<_> = shards.iter().map(|(_, a)| arg(a, "--reports")).collect();
    reports.dedup();
    assert_eq!(reports.len(), n);
}
