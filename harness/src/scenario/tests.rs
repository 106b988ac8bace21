//! Scenario parsing end to end: defaults, sweeps, every kind of error (each must name the file,
//! the line and the key), and the example scenarios in `scenarios/`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;

const FILE: &str = "scenarios/t.toml";

fn parse(text: &str) -> Result<Scenario, ScenarioError> {
    parse_str(text, Path::new(FILE))
}

fn ok(text: &str) -> Scenario {
    match parse(text) {
        Ok(s) => s,
        Err(e) => panic!("expected {text:?} to parse, got: {e}"),
    }
}

/// Asserts that `text` fails at `line` on `key`, and that the message mentions `needle`.
#[track_caller]
fn fails(text: &str, line: usize, key: &str, needle: &str) -> ScenarioError {
    let e = match parse(text) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e,
    };
    let shown = e.to_string();
    let prefix = format!("{FILE}:{line}: key '{key}': ");
    assert!(
        shown.starts_with(&prefix),
        "expected prefix {prefix:?}, got {shown:?}"
    );
    assert!(shown.contains(needle), "expected {needle:?} in {shown:?}");
    assert!(!shown.contains('\n'), "not one line: {shown:?}");
    assert_eq!(e.line, Some(line));
    assert_eq!(e.key.as_deref(), Some(key));
    assert_eq!(e.exit_code(), 2);
    e
}

// ---------------------------------------------------------------- defaults and good input

#[test]
fn minimal_file_gets_every_default() {
    let s = ok("name = \"minimal\"\n");
    assert_eq!(s.name, "minimal");
    assert_eq!(s.path, PathBuf::from(FILE));
    assert!(s.axes.is_empty());
    assert_eq!(s.cells.len(), 1);
    let c = &s.cells[0];
    assert_eq!((c.index, c.id.as_str()), (0, "base"));
    assert!(c.params.is_empty());
    assert_eq!(c.topic.partitions, 6);
    assert_eq!(c.topic.replication_factor, 3);
    assert!(c.topic.configs.is_empty());
    let p = &c.producers;
    assert_eq!(p.count, 1);
    assert_eq!(p.rate, None);
    assert_eq!(p.message_size, MessageSize::Fixed(1024));
    assert_eq!(p.keys, KeySpec::None);
    assert_eq!(p.partitioner, Partitioner::Sticky);
    assert_eq!(p.acks, Acks::All);
    assert_eq!(p.compression, "none");
    assert_eq!(p.linger_ms, 5.0);
    assert_eq!(p.batch_size, 65536);
    assert!(!p.idempotence);
    assert_eq!(p.max_in_flight, 5);
    assert!(!p.sync);
    assert_eq!(c.consumers.groups, 1);
    assert_eq!(c.consumers.members, 1);
    assert_eq!(c.consumers.start_from, StartFrom::Earliest);
    assert_eq!(c.run.warmup, Duration::from_secs(2));
    assert_eq!(c.run.duration, Some(Duration::from_secs(10)));
    assert_eq!(c.run.messages, None);
    assert_eq!(c.run.drain_timeout, Duration::from_secs(30));
    assert!(c.client.producer.is_empty() && c.client.consumer.is_empty());
}

#[test]
fn every_section_is_read() {
    let s = ok(r#"
name = "full"
[topic]
partitions = 12
replication_factor = 2
configs = { "min.insync.replicas" = 2, "retention.ms" = "60000" }
[producers]
count = 4
rate = 2500.5
message_size = "1KiB"
keys = { zipf = 100, exponent = 1.2 }
partitioner = "murmur2"
acks = -1
compression = "zstd"
linger_ms = 0.5
batch_size = "128KiB"
idempotence = true
max_in_flight = 5
sync = true
[consumers]
groups = 0
members = 3
start_from = "latest"
[run]
warmup = "500ms"
messages = 100000
drain_timeout = "1m"
[client.producer]
"socket.send.buffer.bytes" = 1048576
queue.buffering.max.kbytes = 65536
[client.consumer]
"fetch.wait.max.ms" = 10
"check.crcs" = true
[client.admin]
"request.timeout.ms" = "5000"
"#);
    let c = &s.cells[0];
    assert_eq!(c.topic.partitions, 12);
    assert_eq!(c.topic.replication_factor, 2);
    assert_eq!(c.topic.configs["min.insync.replicas"], "2");
    assert_eq!(c.topic.configs["retention.ms"], "60000");
    let p = &c.producers;
    assert_eq!(p.count, 4);
    assert_eq!(p.rate, Some(2500.5));
    assert_eq!(p.message_size, MessageSize::Fixed(1024));
    assert_eq!(
        p.keys,
        KeySpec::Zipf {
            count: 100,
            exponent: 1.2
        }
    );
    assert_eq!(p.partitioner, Partitioner::Murmur2);
    assert_eq!(p.acks, Acks::All);
    assert_eq!(p.compression, "zstd");
    assert_eq!(p.linger_ms, 0.5);
    assert_eq!(p.batch_size, 128 * 1024);
    assert!(p.idempotence && p.sync);
    assert_eq!(c.consumers.groups, 0);
    assert_eq!(c.consumers.members, 3);
    assert_eq!(c.consumers.start_from, StartFrom::Latest);
    assert_eq!(c.run.warmup, Duration::from_millis(500));
    assert_eq!(c.run.duration, None);
    assert_eq!(c.run.messages, Some(100000));
    assert_eq!(c.run.drain_timeout, Duration::from_secs(60));
    assert_eq!(c.client.producer["socket.send.buffer.bytes"], "1048576");
    // An unquoted dotted key means the same property.
    assert_eq!(c.client.producer["queue.buffering.max.kbytes"], "65536");
    assert_eq!(c.client.consumer["fetch.wait.max.ms"], "10");
    assert_eq!(c.client.consumer["check.crcs"], "true");
    assert_eq!(c.client.admin["request.timeout.ms"], "5000");
}

#[test]
fn value_forms() {
    let cell =
        |producers: &str| ok(&format!("name = \"v\"\n[producers]\n{producers}\n")).cells[0].clone();
    assert_eq!(cell("acks = 0").producers.acks, Acks::Zero);
    assert_eq!(cell("acks = 1").producers.acks, Acks::One);
    assert_eq!(cell("acks = \"1\"").producers.acks, Acks::One);
    assert_eq!(cell("rate = \"max\"").producers.rate, None);
    assert_eq!(cell("rate = 10").producers.rate, Some(10.0));
    assert_eq!(
        cell("message_size = 200").producers.message_size,
        MessageSize::Fixed(200)
    );
    assert_eq!(
        cell("message_size = \"4KB\"").producers.message_size,
        MessageSize::Fixed(4000)
    );
    assert_eq!(
        cell("message_size = { min = 100, max = \"1KiB\" }")
            .producers
            .message_size,
        MessageSize::Uniform {
            min: 100,
            max: 1024
        }
    );
    assert_eq!(
        cell("[producers.message_size]\nmin = 30\nmax = 30")
            .producers
            .message_size,
        MessageSize::Uniform { min: 30, max: 30 }
    );
    assert_eq!(cell("keys = \"none\"").producers.keys, KeySpec::None);
    assert_eq!(
        cell("keys = { fixed = \"k\" }").producers.keys,
        KeySpec::Fixed("k".into())
    );
    assert_eq!(
        cell("keys = { uniform = 7 }").producers.keys,
        KeySpec::Uniform { count: 7 }
    );
    assert_eq!(
        cell("keys = { zipf = 7 }").producers.keys,
        KeySpec::Zipf {
            count: 7,
            exponent: 1.0
        }
    );
    for p in Partitioner::ALL {
        let keys = if matches!(
            p,
            Partitioner::Murmur2 | Partitioner::Consistent | Partitioner::Fnv1a
        ) {
            "keys = { uniform = 10 }"
        } else {
            ""
        };
        let c = cell(&format!("partitioner = \"{}\"\n{keys}", p.name()));
        assert_eq!(c.producers.partitioner, p);
    }
    // sync with a rate is allowed (sync wins over max_in_flight at run time).
    let c = cell("sync = true\nrate = 100\nmax_in_flight = 100");
    assert!(c.producers.sync);
}

#[test]
fn message_file_is_relative_to_the_scenario() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("lines.log"),
        "\nfirst line, longer than the stamp\nsecond line, as long as the first\n",
    )
    .expect("write");
    let path = dir.path().join("s.toml");
    std::fs::write(
        &path,
        "name = \"f\"\n[producers]\nmessage_size = { file = \"lines.log\" }\n",
    )
    .expect("write");
    let s = load(&path).expect("parses");
    assert_eq!(
        s.cells[0].producers.message_size,
        MessageSize::FileLines(dir.path().join("lines.log"))
    );
}

#[test]
fn sweep_expands_first_axis_slowest_with_stable_ids() {
    let s = ok(r#"
name = "acks-vs-partitions"
[producers]
acks = "1"           # the sweep wins
[sweep]
acks = ["0", "1", "all"]
partitions = [1, 6]
"#);
    let names: Vec<_> = s.axes.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["acks", "partitions"]);
    assert_eq!(s.axes[0].values, ["0", "1", "all"]);
    assert_eq!(s.axes[1].values, ["1", "6"]);
    let ids: Vec<_> = s.cells.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "acks-0_partitions-1",
            "acks-0_partitions-6",
            "acks-1_partitions-1",
            "acks-1_partitions-6",
            "acks-all_partitions-1",
            "acks-all_partitions-6",
        ]
    );
    for (i, c) in s.cells.iter().enumerate() {
        assert_eq!(c.index, i);
    }
    let c = &s.cells[4];
    assert_eq!(c.producers.acks, Acks::All);
    assert_eq!(c.topic.partitions, 1);
    assert_eq!(
        c.params,
        [
            ("acks".to_string(), "all".to_string()),
            ("partitions".to_string(), "1".to_string())
        ]
    );
    // Order follows the file, not the alphabet.
    let s = ok("name = \"o\"\n[sweep]\npartitions = [1, 2]\nacks = [\"all\"]\n");
    assert_eq!(s.cells[0].id, "partitions-1_acks-all");
}

#[test]
fn sweep_key_forms() {
    let s = ok(r#"
name = "forms"
[producers]
keys = { uniform = 10 }
stamp = "header"
[sweep]
producers.acks = ["all"]
"topic.partitions" = [3]
"producers.count" = [2]
topic.configs."min.insync.replicas" = [1]
"client.producer.batch.num.messages" = [1, 5]
client.consumer."fetch.min.bytes" = [1]
keys = [{ uniform = 1000 }, { zipf = 10, exponent = 1.5 }]
message_size = [100, "1KiB", { min = 1, max = 2 }]
"#);
    let names: Vec<_> = s.axes.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "producers.acks",
            "topic.partitions",
            "producers.count",
            "topic.configs.min.insync.replicas",
            "client.producer.batch.num.messages",
            "client.consumer.fetch.min.bytes",
            "keys",
            "message_size",
        ]
    );
    assert_eq!(s.cells.len(), 12);
    assert_eq!(
        s.cells[0].id,
        "acks-all_partitions-3_producers-2_min.insync.replicas-1_batch.num.messages-1_fetch.min.bytes-1_keys-uniform-1000_message_size-100"
    );
    assert_eq!(s.axes[6].values, ["uniform=1000", "zipf=10,exponent=1.5"]);
    assert_eq!(s.axes[7].values, ["100", "1KiB", "min=1,max=2"]);
    let last = s.cells.last().expect("cells");
    assert_eq!(last.producers.count, 2);
    assert_eq!(last.topic.configs["min.insync.replicas"], "1");
    assert_eq!(last.client.producer["batch.num.messages"], "5");
    assert_eq!(last.client.consumer["fetch.min.bytes"], "1");
    assert_eq!(
        last.producers.keys,
        KeySpec::Zipf {
            count: 10,
            exponent: 1.5
        }
    );
    assert_eq!(
        last.producers.message_size,
        MessageSize::Uniform { min: 1, max: 2 }
    );
    // Sub-table form of the sweep.
    let s = ok("name = \"t\"\n[sweep.producers]\nacks = [\"1\", \"all\"]\n");
    assert_eq!(s.axes[0].name, "producers.acks");
    assert_eq!(s.cells[1].id, "acks-all");
}

#[test]
fn colliding_ids_get_the_index() {
    let s = ok("name = \"c\"\n[sweep]\n\"client.producer.client.id\" = [\"a b\", \"a/b\"]\n");
    let ids: Vec<_> = s.cells.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["client.id-a-b", "client.id-a-b_1"]);
}

#[test]
fn render_cells_lists_axes_and_cells() {
    let s = ok(r#"
name = "r"
[producers]
rate = 5000
message_size = "1KiB"
[sweep]
acks = ["0", "all"]
partitions = [1, 24]
"#);
    let mut out = Vec::new();
    render_cells(&s, &mut out).expect("write");
    let text = String::from_utf8(out).expect("utf8");
    assert!(
        text.starts_with("scenario r (scenarios/t.toml)\n"),
        "{text}"
    );
    assert!(text.contains("  acks = [0, all]\n"), "{text}");
    assert!(text.contains("4 cells:"), "{text}");
    assert!(
        text.contains("run: warmup 2s, duration 10s, drain timeout 30s"),
        "{text}"
    );
    let line = text
        .lines()
        .find(|l| l.contains("acks-all_partitions-24"))
        .expect("cell line");
    assert!(
        line.trim_start().starts_with("3  acks-all_partitions-24"),
        "{line}"
    );
    for part in [
        "partitions=24",
        "rf=3",
        "producers=1",
        "rate=5000/s",
        "size=1KiB",
        "acks=all",
        "partitioner=sticky",
        "consumers=1x1",
    ] {
        assert!(line.contains(part), "{part} missing from {line}");
    }
    let mut out = Vec::new();
    render_cells(&ok("name = \"b\"\n"), &mut out).expect("write");
    let text = String::from_utf8(out).expect("utf8");
    assert!(
        text.contains("axes: none") && text.contains("1 cell:") && text.contains("0  base"),
        "{text}"
    );
}

// ---------------------------------------------------------------- errors

#[test]
fn toml_syntax_error_has_a_line() {
    let e = parse("name = \"x\"\n[topic]\npartitions = = 3\n").expect_err("bad toml");
    assert_eq!(e.line, Some(3));
    assert!(
        e.to_string()
            .starts_with("scenarios/t.toml:3: invalid TOML"),
        "{e}"
    );
    assert!(!e.to_string().contains('\n'));
}

#[test]
fn missing_and_bad_names() {
    let e = parse("[topic]\npartitions = 3\n").expect_err("no name");
    assert_eq!(e.line, None);
    assert_eq!(e.key.as_deref(), Some("name"));
    assert!(
        e.to_string()
            .starts_with("scenarios/t.toml: key 'name': missing"),
        "{e}"
    );
    fails("name = \"a b\"\n", 1, "name", "letters, digits");
    fails("\nname = \"x/../y\"\n", 2, "name", "letters, digits");
    fails("name = \"\"\n", 1, "name", "got \"\"");
    fails("name = 5\n", 1, "name", "expected a string, got 5");
}

#[test]
fn unknown_keys_everywhere() {
    fails("name = \"x\"\nfoo = 1\n", 2, "foo", "unknown key");
    fails(
        "name = \"x\"\n[topic]\npartitons = 3\n",
        3,
        "topic.partitons",
        "partitions, replication_factor",
    );
    fails(
        "name = \"x\"\n[producers]\nack = \"all\"\n",
        3,
        "producers.ack",
        "unknown key",
    );
    fails(
        "name = \"x\"\n[consumers]\ngroup = 2\n",
        3,
        "consumers.group",
        "groups, members, start_from",
    );
    fails(
        "name = \"x\"\n[run]\nwarm_up = \"1s\"\n",
        3,
        "run.warm_up",
        "warmup, duration",
    );
    fails(
        "name = \"x\"\n[client]\n\"socket.send.buffer.bytes\" = \"1\"\n",
        3,
        "client.socket.send.buffer.bytes",
        "[client.producer]",
    );
    fails(
        "name = \"x\"\n[producers]\nmessage_size = { min = 1, max = 2, avg = 1 }\n",
        3,
        "producers.message_size.avg",
        "expected min or max or file",
    );
    fails(
        "name = \"x\"\n[producers.keys]\nuniform = 3\nskew = 2\n",
        4,
        "producers.keys.skew",
        "unknown key",
    );
}

#[test]
fn wrong_types() {
    fails(
        "name = \"x\"\n[topic]\npartitions = \"six\"\n",
        3,
        "topic.partitions",
        "expected an integer, got \"six\"",
    );
    fails(
        "name = \"x\"\n[producers]\nidempotence = \"yes\"\n",
        3,
        "producers.idempotence",
        "expected true or false",
    );
    fails(
        "name = \"x\"\n[producers]\nlinger_ms = \"5\"\n",
        3,
        "producers.linger_ms",
        "expected a number",
    );
    fails(
        "name = \"x\"\ntopic = 5\n",
        2,
        "topic",
        "expected a table, got 5",
    );
    fails(
        "name = \"x\"\n[run]\nwarmup = 5\n",
        3,
        "run.warmup",
        "duration string",
    );
    fails(
        "name = \"x\"\n[topic.configs]\n\"cleanup.policy\" = [1]\n",
        3,
        "topic.configs.cleanup.policy",
        "expected a string, number or boolean",
    );
    fails(
        "name = \"x\"\n[producers]\nmessage_size = true\n",
        3,
        "producers.message_size",
        "expected a size",
    );
}

#[test]
fn bad_enum_values() {
    let e = fails(
        "name = \"x\"\n[producers]\nacks = \"2\"\n",
        3,
        "producers.acks",
        "",
    );
    assert_eq!(
        e.to_string(),
        "scenarios/t.toml:3: key 'producers.acks': expected one of \"0\", \"1\", \"all\", got \"2\""
    );
    fails(
        "name = \"x\"\n[producers]\nacks = 2\n",
        3,
        "producers.acks",
        "got 2",
    );
    fails(
        "name = \"x\"\n[producers]\npartitioner = \"hash\"\n",
        3,
        "producers.partitioner",
        "\"murmur2_random\"",
    );
    fails(
        "name = \"x\"\n[producers]\ncompression = \"brotli\"\n",
        3,
        "producers.compression",
        "\"zstd\"",
    );
    fails(
        "name = \"x\"\n[consumers]\nstart_from = \"middle\"\n",
        3,
        "consumers.start_from",
        "\"earliest\", \"latest\"",
    );
    fails(
        "name = \"x\"\n[producers]\nkeys = \"random\"\n",
        3,
        "producers.keys",
        "{ uniform = K }",
    );
    fails(
        "name = \"x\"\n[producers]\nrate = \"fast\"\n",
        3,
        "producers.rate",
        "\"max\"",
    );
}

#[test]
fn out_of_range_values() {
    fails(
        "name = \"x\"\n[topic]\npartitions = 0\n",
        3,
        "topic.partitions",
        "got 0",
    );
    fails(
        "name = \"x\"\n[topic]\nreplication_factor = 0\n",
        3,
        "topic.replication_factor",
        "got 0",
    );
    fails(
        "name = \"x\"\n[producers]\nrate = -5\n",
        3,
        "producers.rate",
        "above 0",
    );
    fails(
        "name = \"x\"\n[producers]\nrate = 0.0\n",
        3,
        "producers.rate",
        "above 0",
    );
    fails(
        "name = \"x\"\n[producers]\nrate = nan\n",
        3,
        "producers.rate",
        "finite",
    );
    fails(
        "name = \"x\"\n[producers]\nkeys = { zipf = 10, exponent = 0 }\n",
        3,
        "producers.keys.exponent",
        "got 0",
    );
    fails(
        "name = \"x\"\n[producers]\nkeys = { zipf = 10, exponent = 11 }\n",
        3,
        "producers.keys.exponent",
        "at most 10, got 11",
    );
    fails(
        "name = \"x\"\n[producers]\nkeys = { zipf = 0 }\n",
        3,
        "producers.keys.zipf",
        "got 0",
    );
    fails(
        "name = \"x\"\n[producers]\nkeys = { uniform = 1, fixed = \"k\" }\n",
        3,
        "producers.keys",
        "exactly one",
    );
    fails(
        "name = \"x\"\n[producers]\ncount = 1001\n",
        3,
        "producers.count",
        "between 1 and 1000",
    );
    fails(
        "name = \"x\"\n[consumers]\nmembers = 0\n",
        3,
        "consumers.members",
        "got 0",
    );
    fails(
        "name = \"x\"\n[consumers]\ngroups = 1001\n",
        3,
        "consumers.groups",
        "between 0 and 1000",
    );
    fails(
        "name = \"x\"\n[producers]\nmessage_size = 0\n",
        3,
        "producers.message_size",
        "got 0B",
    );
    fails(
        "name = \"x\"\n[producers]\nmessage_size = \"101MiB\"\n",
        3,
        "producers.message_size",
        "100MiB",
    );
    fails(
        "name = \"x\"\n[producers]\nmessage_size = \"1XB\"\n",
        3,
        "producers.message_size",
        "expected a size like",
    );
    fails(
        "name = \"x\"\n[producers]\nmessage_size = { min = 500, max = 100 }\n",
        3,
        "producers.message_size.min",
        "above max",
    );
    fails(
        "name = \"x\"\n[producers]\nmessage_size = { min = 5 }\n",
        3,
        "producers.message_size",
        "{ min = ..., max = ... }",
    );
    fails(
        "name = \"x\"\n[producers]\nlinger_ms = -1\n",
        3,
        "producers.linger_ms",
        "got -1",
    );
    fails(
        "name = \"x\"\n[producers]\nbatch_size = 0\n",
        3,
        "producers.batch_size",
        "got 0B",
    );
    fails(
        "name = \"x\"\n[producers]\nmax_in_flight = 0\n",
        3,
        "producers.max_in_flight",
        "got 0",
    );
    fails(
        "name = \"x\"\n[topic]\nconfigs = { \"min.insync.replicas\" = 0 }\n",
        3,
        "topic.configs.min.insync.replicas",
        "at least 1",
    );
}

#[test]
fn run_section_errors() {
    fails(
        "name = \"x\"\n[run]\nduration = \"10s\"\nmessages = 1000\n",
        4,
        "run.messages",
        "not both",
    );
    fails(
        "name = \"x\"\n[run]\nduration = \"5 seconds\"\n",
        3,
        "run.duration",
        "expected a duration like",
    );
    fails(
        "name = \"x\"\n[run]\nwarmup = \"5\"\n",
        3,
        "run.warmup",
        "expected a duration like",
    );
    fails(
        "name = \"x\"\n[run]\nduration = \"0s\"\n",
        3,
        "run.duration",
        "above 0",
    );
    fails(
        "name = \"x\"\n[run]\nmessages = 0\n",
        3,
        "run.messages",
        "got 0",
    );
}

#[test]
fn impossible_combinations_in_the_base() {
    fails(
        "name = \"x\"\n[producers]\nacks = \"0\"\nidempotence = true\n",
        4,
        "producers.idempotence",
        "needs producers.acks = \"all\", got \"0\"",
    );
    fails(
        "name = \"x\"\n[producers]\nidempotence = true\nacks = 1\n",
        3,
        "producers.idempotence",
        "got \"1\"",
    );
    fails(
        "name = \"x\"\n[producers]\nidempotence = true\nmax_in_flight = 6\n",
        3,
        "producers.idempotence",
        "at most 5, got 6",
    );
    fails(
        "name = \"x\"\n[producers]\npartitioner = \"murmur2\"\n",
        3,
        "producers.partitioner",
        "use partitioner \"sticky\" or \"murmur2_random\"",
    );
    fails(
        "name = \"x\"\n[producers]\nkeys = \"none\"\npartitioner = \"fnv1a\"\n",
        4,
        "producers.partitioner",
        "fnv1a_random",
    );
    fails(
        "name = \"x\"\n[topic]\nreplication_factor = 1\nconfigs = { \"min.insync.replicas\" = 2 }\n",
        4,
        "topic.configs.min.insync.replicas",
        "above the replication factor 1",
    );
}

#[test]
fn client_properties_refuse_bootstrap_servers() {
    fails(
        "name = \"x\"\n[client.producer]\n\"bootstrap.servers\" = \"localhost:9092\"\n",
        3,
        "client.producer.bootstrap.servers",
        "command line",
    );
    fails(
        "name = \"x\"\n[client.admin]\nbootstrap.servers = \"localhost:9092\"\n",
        3,
        "client.admin.bootstrap.servers",
        "command line",
    );
    fails(
        "name = \"x\"\n[sweep]\n\"client.consumer.bootstrap.servers\" = [\"a:1\"]\n",
        3,
        "sweep.client.consumer.bootstrap.servers",
        "command line",
    );
}

#[test]
fn message_file_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.toml");
    let text = "name = \"f\"\n[producers]\nmessage_size = { file = \"nope.log\" }\n";
    std::fs::write(&path, text).expect("write");
    let e = load(&path).expect_err("missing file");
    assert_eq!(e.line, Some(3));
    assert_eq!(e.key.as_deref(), Some("producers.message_size.file"));
    assert!(e.to_string().contains("nope.log"), "{e}");
    assert!(
        e.to_string().starts_with(&format!("{}:3:", path.display())),
        "{e}"
    );

    std::fs::write(dir.path().join("blank.log"), "\n  \n\n").expect("write");
    let text = "name = \"f\"\n[producers]\nmessage_size = { file = \"blank.log\" }\n";
    std::fs::write(&path, text).expect("write");
    let e = load(&path).expect_err("blank file");
    assert_eq!(e.line, Some(3));
    assert!(e.to_string().contains("no non-empty line"), "{e}");
}

/// `{ file = ..., follow = true }`: the file must be a regular file (it may be empty), the
/// stamp must go in a header, one producer; every refusal names the line and the key.
#[test]
fn a_followed_file_and_what_it_refuses() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("app.log"), "").expect("write");
    let path = dir.path().join("s.toml");
    let load_text = |text: &str| {
        std::fs::write(&path, text).expect("write");
        load(&path)
    };
    let head = "name = \"f\"\n[producers]\n";
    let s = load_text(&format!(
        "{head}stamp = \"header\"\nmessage_size = {{ file = \"app.log\", follow = true }}\n"
    ))
    .expect("an empty followed file is fine: lines come later");
    assert_eq!(
        s.cells[0].producers.message_size,
        MessageSize::FollowLines {
            path: dir.path().join("app.log"),
            from: FollowFrom::End
        }
    );
    let s = load_text(&format!(
        "{head}stamp = \"header\"\nrate = 50\nmessage_size = {{ file = \"app.log\", follow = true, from = \"start\" }}\n"
    ))
    .expect("from the start, capped");
    assert!(matches!(
        s.cells[0].producers.message_size,
        MessageSize::FollowLines {
            from: FollowFrom::Start,
            ..
        }
    ));
    // follow = false is a lines file read once: an empty one is refused as ever.
    let e = load_text(&format!(
        "{head}message_size = {{ file = \"app.log\", follow = false }}\n"
    ))
    .expect_err("empty lines file");
    assert!(e.message.contains("no non-empty line"), "{e}");

    let refused = |text: String, line: usize, key: &str, needle: &str| {
        let e = load_text(&text).expect_err(needle);
        assert_eq!((e.line, e.key.as_deref()), (Some(line), Some(key)), "{e}");
        assert!(e.message.contains(needle), "{e}");
        assert_eq!(e.exit_code(), 2);
    };
    let follow = "message_size = { file = \"app.log\", follow = true }\n";
    refused(
        format!("{head}{follow}"),
        3,
        "producers.message_size",
        "stamp = \"value\" would overwrite the first 28 bytes of each: set producers.stamp = \"header\"",
    );
    refused(
        format!("{head}{follow}stamp = \"value\"\n"),
        4,
        "producers.stamp",
        "sent intact",
    );
    refused(
        format!("{head}stamp = \"header\"\ncount = 2\n{follow}"),
        4,
        "producers.count",
        "one producer (each line once, in the file's order), got producers.count = 2",
    );
    refused(
        format!(
            "{head}stamp = \"header\"\nidempotence = true\ntransaction_messages = 10\n{follow}"
        ),
        5,
        "producers.transaction_messages",
        "not sent in transactions",
    );
    refused(
        format!("{head}stamp = \"header\"\n[sweep]\nproducers = [1, 3]\n[producers.message_size]\nfile = \"app.log\"\nfollow = true\n"),
        5,
        "sweep.producers",
        "in cell 1",
    );
    refused(
        format!("{head}message_size = {{ file = \"app.log\", from = \"end\" }}\n"),
        3,
        "producers.message_size.from",
        "from only goes with follow = true",
    );
    refused(
        format!(
            "{head}message_size = {{ file = \"app.log\", follow = true, from = \"middle\" }}\n"
        ),
        3,
        "producers.message_size.from",
        "expected one of \"end\", \"start\"",
    );
    refused(
        format!("{head}message_size = {{ file = \"app.log\", follow = true, max = 10 }}\n"),
        3,
        "producers.message_size.max",
        "own sizes",
    );
    refused(
        format!("{head}message_size = {{ file = \"gone.log\", follow = true }}\n"),
        3,
        "producers.message_size.file",
        "followed file",
    );
    refused(
        format!("{head}message_size = {{ follow = true }}\n"),
        3,
        "producers.message_size",
        "needs file",
    );
}

#[test]
fn load_of_a_missing_file() {
    let e = load(Path::new("/nonexistent/kbench/x.toml")).expect_err("missing");
    assert!(
        e.to_string()
            .starts_with("/nonexistent/kbench/x.toml: cannot read"),
        "{e}"
    );
    assert_eq!(e.exit_code(), 2);
}

#[test]
fn sweep_errors() {
    fails(
        "name = \"x\"\n[sweep]\nacks = []\n",
        3,
        "sweep.acks",
        "empty list",
    );
    fails(
        "name = \"x\"\n[sweep]\nack = [\"0\"]\n",
        3,
        "sweep.ack",
        "unknown sweep key",
    );
    fails(
        "name = \"x\"\n[sweep]\nrun.duration = [\"1s\"]\n",
        3,
        "sweep.run.duration",
        "unknown sweep key",
    );
    fails(
        "name = \"x\"\n[sweep]\nacks = \"all\"\n",
        3,
        "sweep.acks",
        "expected a list",
    );
    fails(
        "name = \"x\"\n[sweep]\nkeys = { uniform = 3 }\n",
        3,
        "sweep.keys",
        "expected a list",
    );
    fails(
        "name = \"x\"\n[sweep]\nacks = [\"0\"]\nproducers.acks = [\"1\"]\n",
        4,
        "sweep.producers.acks",
        "already swept as 'acks'",
    );
    fails(
        "name = \"x\"\n[sweep]\npartitions = [1, 1]\n",
        3,
        "sweep.partitions",
        "listed twice",
    );
    // A bad value in a multi-line list points at its own line.
    fails(
        "name = \"x\"\n[sweep]\nacks = [\n  \"0\",\n  \"2\",\n]\n",
        5,
        "sweep.acks",
        "expected one of \"0\", \"1\", \"all\", got \"2\"",
    );
    fails(
        "name = \"x\"\n[sweep]\npartitions = [6, 0]\n",
        3,
        "sweep.partitions",
        "got 0",
    );
    fails(
        "name = \"x\"\n[sweep]\nrate = [100, -1]\n",
        3,
        "sweep.rate",
        "above 0",
    );
    fails(
        "name = \"x\"\n[sweep]\nkeys = [{ zipf = 5, exponent = 11 }]\n",
        3,
        "sweep.keys.exponent",
        "at most 10",
    );
    fails(
        "name = \"x\"\n[sweep]\nmembers = [1, 0]\n",
        3,
        "sweep.members",
        "got 0",
    );
    fails(
        "name = \"x\"\n[sweep]\nmessage_size = [\"1 parsec\"]\n",
        3,
        "sweep.message_size",
        "expected a size like",
    );
    fails(
        "name = \"x\"\n[sweep]\npartitions = [1,2,3,4,5,6,7,8,9,10]\nmembers = [1,2,3,4,5,6,7,8,9,10]\ngroups = [1,2,3,4,5,6,7,8,9,10]\nproducers = [1,2,3,4,5,6,7,8,9,10,11]\n",
        2,
        "sweep",
        "more than 10000 cells",
    );
}

#[test]
fn impossible_combinations_made_by_the_sweep() {
    // The combination is blamed on the swept value that makes it, with the cell.
    let e = fails(
        "name = \"x\"\n[producers]\nidempotence = true\n[sweep]\nacks = [\n  \"all\",\n  \"0\",\n]\n",
        7,
        "sweep.acks",
        "in cell 1 (acks-0): idempotence = true needs producers.acks = \"all\", got \"0\"",
    );
    assert!(e.message.contains("acks-0"));
    fails(
        "name = \"x\"\n[producers]\nacks = \"1\"\n[sweep]\nidempotence = [false, true]\n",
        5,
        "sweep.idempotence",
        "in cell 1 (idempotence-true)",
    );
    fails(
        "name = \"x\"\n[sweep]\npartitioner = [\"sticky\", \"consistent\"]\n",
        3,
        "sweep.partitioner",
        "in cell 1 (partitioner-consistent): partitioner \"consistent\" hashes",
    );
    fails(
        "name = \"x\"\n[producers]\npartitioner = \"murmur2\"\n[sweep]\nkeys = [{ uniform = 3 }, \"none\"]\n",
        5,
        "sweep.keys",
        "in cell 1 (keys-none)",
    );
}

#[test]
fn the_stamp_goes_in_the_value_unless_told_and_values_must_hold_it() {
    let base = ok("name = \"s\"\n");
    assert_eq!(base.cells[0].producers.stamp, StampPlace::Value);
    let header = ok("name = \"s\"\n[producers]\nstamp = \"header\"\nmessage_size = 1\n");
    assert_eq!(header.cells[0].producers.stamp, StampPlace::Header);
    assert_eq!(
        header.cells[0].producers.message_size,
        MessageSize::Fixed(1)
    );
    fails(
        "name = \"s\"\n[producers]\nstamp = \"key\"\n",
        3,
        "producers.stamp",
        "expected one of \"value\", \"header\", got \"key\"",
    );
    // The smallest value that carries the stamp, and one byte less.
    let min = ok("name = \"s\"\n[producers]\nmessage_size = 28\n");
    assert_eq!(min.cells[0].producers.message_size, MessageSize::Fixed(28));
    ok("name = \"s\"\n[producers]\nmessage_size = { min = 28, max = 29 }\n");
    let e = fails(
        "name = \"s\"\n[producers]\nmessage_size = 27\n",
        3,
        "producers.message_size",
        "message_size 27 B is too small: stamp = \"value\" puts kbench's 28-byte stamp",
    );
    assert!(e.message.contains("producers.stamp = \"header\""), "{e}");
    fails(
        "name = \"s\"\n[producers]\nrate = 10\nmessage_size = { min = 10, max = 1000 }\n",
        4,
        "producers.message_size",
        "message_size min 10 B is too small",
    );
    // A sweep that makes the combination is blamed, with the cell.
    fails(
        "name = \"s\"\n[sweep]\nmessage_size = [100,\n  20]\n",
        4,
        "sweep.message_size",
        "in cell 1 (message_size-20): message_size 20 B is too small",
    );
    fails(
        "name = \"s\"\n[producers]\nmessage_size = 20\n[sweep]\nstamp = [\"header\", \"value\"]\n",
        5,
        "sweep.stamp",
        "in cell 1 (stamp-value): message_size 20 B is too small",
    );
    // A file's lines: the shortest non-empty one, by its line number in the file.
    let dir = tempfile::tempdir().expect("tempdir");
    let long = "x".repeat(40);
    std::fs::write(
        dir.path().join("v.log"),
        format!("{long}\n\n{long}\r\nshort\n"),
    )
    .expect("write");
    let path = dir.path().join("s.toml");
    std::fs::write(
        &path,
        "name = \"f\"\n[producers]\nmessage_size = { file = \"v.log\" }\n",
    )
    .expect("write");
    let e = load(&path).expect_err("a 5-byte line");
    assert_eq!(
        (e.line, e.key.as_deref()),
        (Some(3), Some("producers.message_size"))
    );
    assert!(e.message.contains("line 4 of message file"), "{e}");
    assert!(e.message.contains("is 5 B, too small"), "{e}");
    std::fs::write(
        &path,
        "name = \"f\"\n[producers]\nstamp = \"header\"\nmessage_size = { file = \"v.log\" }\n",
    )
    .expect("write");
    load(&path).expect("the header form leaves lines as they are, any length");
    std::fs::write(
        dir.path().join("v.log"),
        format!("{long}\n{}\n", "y".repeat(28)),
    )
    .expect("write");
    std::fs::write(
        &path,
        "name = \"f\"\n[producers]\nmessage_size = { file = \"v.log\" }\n",
    )
    .expect("write");
    load(&path).expect("lines of 28 bytes and more");
}

#[test]
fn validate_against_cluster_checks_the_replication_factor() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("rf.toml");
    std::fs::write(&path, "name = \"rf\"\n\n[topic]\nreplication_factor = 3\n").expect("write");
    let s = load(&path).expect("parses");
    assert!(validate_against_cluster(&s, 3).is_ok());
    let e = validate_against_cluster(&s, 1).expect_err("rf 3 on 1 broker");
    assert_eq!(e.line, Some(4));
    assert_eq!(e.key.as_deref(), Some("topic.replication_factor"));
    assert!(
        e.to_string()
            .contains("replication factor 3 is above the cluster's 1 broker"),
        "{e}"
    );
    assert_eq!(e.exit_code(), 2);

    // The default, not written anywhere: no line, the key to set.
    std::fs::write(&path, "name = \"rf\"\n").expect("write");
    let s = load(&path).expect("parses");
    let e = validate_against_cluster(&s, 2).expect_err("default rf 3 on 2 brokers");
    assert_eq!(e.line, None);
    assert_eq!(e.key.as_deref(), Some("topic.replication_factor"));

    // Swept: the first value too high, on its own line.
    std::fs::write(
        &path,
        "name = \"rf\"\n[sweep]\nreplication_factor = [\n  1,\n  2,\n  3,\n]\n",
    )
    .expect("write");
    let s = load(&path).expect("parses");
    assert!(validate_against_cluster(&s, 3).is_ok());
    let e = validate_against_cluster(&s, 1).expect_err("rf 2 on 1 broker");
    assert_eq!(e.line, Some(5));
    assert_eq!(e.key.as_deref(), Some("sweep.replication_factor"));
    assert!(
        e.message.contains("in cell 1 (replication_factor-2)"),
        "{e}"
    );
    assert!(
        e.message
            .contains("replication factor 2 is above the cluster's 1 broker"),
        "{e}"
    );
}

/// Every prefix of a rich scenario is parsed without a panic (truncated files, half tokens).
#[test]
fn never_panics_on_truncated_input() {
    let full = r#"name = "p"
[topic]
partitions = 3
configs = { "min.insync.replicas" = "1" }
[producers]
rate = 1e3
message_size = { min = "1KiB", max = 2048 }
keys = { zipf = 5, exponent = 1.1 }
partitioner = "murmur2"
[run]
warmup = "1m30s"
[client.producer]
message.timeout.ms = 30000
[sweep]
acks = ["0", 1, -1]
"client.producer.batch.num.messages" = [1, 10]
"#;
    for (i, _) in full.char_indices() {
        let _ = parse(&full[..i]);
    }
    assert!(parse(full).is_ok());
}

/// The scenarios shipped in `scenarios/` all parse and fit a three-broker cluster.
#[test]
fn shipped_scenarios_parse() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).expect("scenarios/ exists") {
        let path = entry.expect("dir entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let s = load(&path).unwrap_or_else(|e| panic!("{e}"));
        validate_against_cluster(&s, 3).unwrap_or_else(|e| panic!("{e}"));
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        assert_eq!(s.name, stem, "name should match the file name");
        count += 1;
    }
    assert!(count >= 6, "expected the example scenarios, found {count}");
}

// ---------------------------------------------------------------- faults

const FAULTS: &str = r#"name = "f"
[run]
warmup = "5s"
duration = "30s"
[[fault]]
at = "10s"
action = "kill"
broker = "leader-of:0"
[[fault]]
at = "15s"
action = "pause"
duration = "3s"
broker = 2
[[fault]]
at = "20s"
action = "stop"
duration = "5s"
broker = "controller"
[[fault]]
at = "34.5s"
action = "restart"
broker = 3
[sweep]
acks = ["0", "1", "all"]
"#;

#[test]
fn faults_are_read_into_every_cell() {
    let s = ok(FAULTS);
    assert_eq!(s.fault_commands, None);
    assert_eq!(s.cells.len(), 3);
    let want = vec![
        FaultSpec {
            at: Duration::from_secs(10),
            action: FaultAction::Kill,
            duration: None,
            broker: BrokerRef::LeaderOf(0),
        },
        FaultSpec {
            at: Duration::from_secs(15),
            action: FaultAction::Pause,
            duration: Some(Duration::from_secs(3)),
            broker: BrokerRef::Node(2),
        },
        FaultSpec {
            at: Duration::from_secs(20),
            action: FaultAction::Stop,
            duration: Some(Duration::from_secs(5)),
            broker: BrokerRef::Controller,
        },
        FaultSpec {
            at: Duration::from_millis(34_500),
            action: FaultAction::Restart,
            duration: None,
            broker: BrokerRef::Node(3),
        },
    ];
    for c in &s.cells {
        assert_eq!(*c.faults, *want, "cell {}", c.id);
    }
    // No faults: an empty list.
    assert!(ok("name = \"x\"\n").cells[0].faults.is_empty());
    // In the manifest as written in a scenario.
    let json = serde_json::to_value(&s.cells[0].faults[0]).expect("json");
    assert_eq!(json["action"], "kill");
    assert_eq!(json["broker"], serde_json::json!({"leader-of": 0}));
    assert_eq!(BrokerRef::LeaderOf(0).to_string(), "leader-of:0");
    assert_eq!(BrokerRef::Controller.to_string(), "controller");
    assert_eq!(BrokerRef::Node(2).to_string(), "2");
}

#[test]
fn fault_forms_and_commands() {
    // An inline list works as well as [[fault]]; [run] may come after the faults.
    let s = ok(r#"name = "x"
fault = [{ at = "1s", action = "kill", broker = 1, duration = "2s" }]
[fault_commands]
kill = "docker compose kill kafka-{node}"
start = "docker compose start kafka-{node}"
stop = "docker compose stop kafka-{node}"
[run]
warmup = "0s"
duration = "2s"
"#);
    let f = &s.cells[0].faults[0];
    assert_eq!(f.at, Duration::from_secs(1));
    assert_eq!(f.duration, Some(Duration::from_secs(2)));
    let c = s.fault_commands.expect("commands");
    assert_eq!(c.kill.as_deref(), Some("docker compose kill kafka-{node}"));
    assert_eq!(c.get("start"), Some("docker compose start kafka-{node}"));
    assert_eq!(c.pause, None);
    // A template without {node} is fine for a fault naming its node.
    ok("name = \"x\"\n[[fault]]\nat = \"1s\"\naction = \"pause\"\nduration = \"1s\"\nbroker = 2\n\
        [fault_commands]\npause = \"docker compose pause kafka-2\"\nresume = \"docker compose unpause kafka-2\"\n");
    // A run of N messages has no known end: any at is accepted.
    ok("name = \"x\"\n[run]\nmessages = 10\n[[fault]]\nat = \"1h\"\naction = \"kill\"\nbroker = 1\n");
    // The same node again once the first fault is over, the broker started again included.
    ok("name = \"x\"\n[run]\nduration = \"30s\"\n\
        [[fault]]\nat = \"3s\"\naction = \"kill\"\nbroker = 2\nduration = \"2s\"\n\
        [[fault]]\nat = \"10s\"\naction = \"pause\"\nbroker = 2\nduration = \"1s\"\n\
        [[fault]]\nat = \"11s\"\naction = \"restart\"\nbroker = 2\n\
        [[fault]]\nat = \"16s\"\naction = \"stop\"\nbroker = 2\n");
}

#[test]
fn render_cells_lists_the_faults() {
    let mut out = Vec::new();
    render_cells(&ok(FAULTS), &mut out).expect("write");
    let text = String::from_utf8(out).expect("utf8");
    for part in [
        "faults (in every cell; at = since the producers start, warm-up included; via the local cluster):",
        "  [0] at 10s kill broker leader-of:0, down until the end of the cell\n",
        "  [1] at 15s pause broker 2, for 3s\n",
        "  [2] at 20s stop broker controller, down for 5s\n",
        "  [3] at 34500ms restart broker 3, then start it again\n",
    ] {
        assert!(text.contains(part), "{part:?} missing from {text}");
    }
}

#[test]
fn fault_entry_errors() {
    let head = "name = \"x\"\n[[fault]]\n";
    let with = |body: &str| format!("{head}{body}");
    fails(
        &with("at = \"1s\"\naction = \"crash\"\nbroker = 1\n"),
        4,
        "fault[0].action",
        "expected one of \"kill\", \"stop\", \"pause\", \"restart\", got \"crash\"",
    );
    fails(
        &with("at = \"1s\"\naction = \"pause\"\nbroker = 1\n"),
        4,
        "fault[0].duration",
        "action \"pause\" needs duration",
    );
    fails(
        &with("at = \"1s\"\naction = \"restart\"\nduration = \"2s\"\nbroker = 1\n"),
        5,
        "fault[0].duration",
        "use action = \"stop\" with a duration",
    );
    fails(
        &with("at = \"1s\"\naction = \"kill\"\nduration = \"0s\"\nbroker = 1\n"),
        5,
        "fault[0].duration",
        "above 0",
    );
    fails(
        &with("at = \"1 second\"\naction = \"kill\"\nbroker = 1\n"),
        3,
        "fault[0].at",
        "expected a duration like",
    );
    fails(
        &with("at = 10\naction = \"kill\"\nbroker = 1\n"),
        3,
        "fault[0].at",
        "expected a duration string",
    );
    fails(
        &with("at = \"1s\"\naction = \"kill\"\nbroker = 1\nnode = 2\n"),
        6,
        "fault[0].node",
        "unknown key; [[fault]] takes at, action, duration, broker",
    );
    // Missing keys: the line of the entry's [[fault]] header.
    fails(
        &with("action = \"kill\"\nbroker = 1\n"),
        2,
        "fault[0].at",
        "missing: every [[fault]] needs at",
    );
    fails(
        &with("at = \"1s\"\nbroker = 1\n"),
        2,
        "fault[0].action",
        "missing",
    );
    fails(
        "name = \"x\"\n[[fault]]\nat = \"1s\"\naction = \"kill\"\nbroker = 1\n\n[[fault]]\nat = \"2s\"\naction = \"kill\"\n",
        7,
        "fault[1].broker",
        "missing: every [[fault]] needs broker",
    );
    fails(
        "name = \"x\"\n[fault]\nat = \"1s\"\n",
        2,
        "fault",
        "expected [[fault]] entries",
    );
    fails(
        "name = \"x\"\nfault = [1]\n",
        2,
        "fault",
        "expected [[fault]] entries",
    );
}

#[test]
fn fault_at_must_be_before_the_producers_stop() {
    // Default run: warmup 2s + duration 10s.
    fails(
        "name = \"x\"\n[[fault]]\nat = \"12s\"\naction = \"kill\"\nbroker = 1\n",
        3,
        "fault[0].at",
        "at 12s is not before the producers stop at 12s (warmup 2s + duration 10s); at counts from the producers' start, warm-up included",
    );
    ok("name = \"x\"\n[[fault]]\nat = \"11.9s\"\naction = \"kill\"\nbroker = 1\n");
    // [run] after the faults still counts.
    fails(
        "name = \"x\"\n[[fault]]\nat = \"8s\"\naction = \"kill\"\nbroker = 1\n[run]\nwarmup = \"1s\"\nduration = \"5s\"\n",
        3,
        "fault[0].at",
        "stop at 6s",
    );
}

#[test]
fn fault_broker_errors() {
    let broker = |b: &str| {
        format!("name = \"x\"\n[[fault]]\nat = \"1s\"\naction = \"kill\"\nbroker = {b}\n")
    };
    fails(
        &broker("\"2\""),
        5,
        "fault[0].broker",
        "a node id is an integer, not a string: write broker = 2",
    );
    fails(&broker("2.5"), 5, "fault[0].broker", "expected a node id");
    fails(&broker("-1"), 5, "fault[0].broker", "between 0 and");
    fails(
        &broker("\"leader\""),
        5,
        "fault[0].broker",
        "\"leader-of:<partition>\" or \"controller\", got \"leader\"",
    );
    fails(
        &broker("\"leader-of:x\""),
        5,
        "fault[0].broker",
        "leader-of takes a partition number",
    );
    fails(
        &broker("\"leader-of:-1\""),
        5,
        "fault[0].broker",
        "leader-of takes a partition number",
    );
    // leader-of a partition the topic does not have (default 6 partitions).
    fails(
        &broker("\"leader-of:6\""),
        5,
        "fault[0].broker",
        "fault[0] targets leader-of:6, but the topic has 6 partitions (0..=5)",
    );
    fails(
        "name = \"x\"\n[topic]\npartitions = 1\n[[fault]]\nat = \"1s\"\naction = \"kill\"\nbroker = \"leader-of:1\"\n",
        7,
        "fault[0].broker",
        "has 1 partition (0..=0)",
    );
    ok(&broker("\"leader-of:5\""));
    // A swept partition count that makes it: the value, with the cell.
    fails(
        "name = \"x\"\n[[fault]]\nat = \"1s\"\naction = \"kill\"\nbroker = \"leader-of:3\"\n[sweep]\npartitions = [\n  6,\n  2,\n]\n",
        9,
        "sweep.partitions",
        "in cell 1 (partitions-2): fault[0] targets leader-of:3, but the topic has 2 partitions",
    );
}

#[test]
fn overlapping_faults_on_one_node() {
    fails(
        "name = \"x\"\n[[fault]]\nat = \"5s\"\naction = \"kill\"\nbroker = 2\n[[fault]]\nat = \"8s\"\naction = \"pause\"\nduration = \"1s\"\nbroker = 2\n",
        7,
        "fault[1].at",
        "node 2 is still held by fault[0] (kill at 5s, until the end of the cell)",
    );
    // Order in the file does not matter: the later one is blamed.
    fails(
        "name = \"x\"\n[[fault]]\nat = \"6s\"\naction = \"kill\"\nbroker = 2\n[[fault]]\nat = \"5s\"\naction = \"pause\"\nduration = \"2s\"\nbroker = 2\n",
        3,
        "fault[0].at",
        "held by fault[1] (pause at 5s, until 7s)",
    );
    fails(
        "name = \"x\"\n[[fault]]\nat = \"5s\"\naction = \"restart\"\nbroker = 1\n[[fault]]\nat = \"5s\"\naction = \"kill\"\nbroker = 1\n",
        7,
        "fault[1].at",
        "held by fault[0] (restart at 5s, until 10s, counting 5s for the broker to start and serve again)",
    );
    // Different nodes at once are fine.
    ok("name = \"x\"\n[[fault]]\nat = \"5s\"\naction = \"kill\"\nbroker = 1\n[[fault]]\nat = \"5s\"\naction = \"kill\"\nbroker = 2\n");
}

#[test]
fn fault_commands_errors() {
    let kill =
        "name = \"x\"\n[[fault]]\nat = \"1s\"\naction = \"kill\"\nbroker = \"leader-of:0\"\n";
    fails(
        &format!("{kill}[fault_commands]\nkill = \"docker compose kill kafka-{{node}}\"\n"),
        6,
        "fault_commands.start",
        "missing: fault[0] (action \"kill\") runs fault_commands.kill and fault_commands.start",
    );
    fails(
        &format!("{kill}[fault_commands]\nstart = \"docker compose start kafka-{{node}}\"\n"),
        6,
        "fault_commands.kill",
        "missing",
    );
    fails(
        &format!(
            "{kill}[fault_commands]\nkill = \"docker compose kill kafka-1\"\nstart = \"docker compose start kafka-{{node}}\"\n"
        ),
        7,
        "fault_commands.kill",
        "fault[0] targets leader-of:0, found when it fires: the command needs a {node} placeholder",
    );
    fails(
        &format!("{kill}[fault_commands]\nkil = \"x\"\n"),
        7,
        "fault_commands.kil",
        "unknown key; [fault_commands] takes kill, stop, start, pause, resume",
    );
    fails(
        &format!("{kill}[fault_commands]\nkill = 1\n"),
        7,
        "fault_commands.kill",
        "expected a shell command string",
    );
    fails(
        &format!("{kill}[fault_commands]\nkill = \" \"\n"),
        7,
        "fault_commands.kill",
        "empty command",
    );
    fails(
        "name = \"x\"\nfault_commands = 3\n",
        2,
        "fault_commands",
        "expected a table",
    );
    // pause needs pause and resume.
    fails(
        "name = \"x\"\n[[fault]]\nat = \"1s\"\naction = \"pause\"\nduration = \"1s\"\nbroker = 1\n[fault_commands]\npause = \"p {node}\"\n",
        7,
        "fault_commands.resume",
        "runs fault_commands.pause and fault_commands.resume",
    );
}

#[test]
fn validate_faults_against_cluster_checks_node_ids() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("f.toml");
    std::fs::write(
        &path,
        "name = \"f\"\n[[fault]]\nat = \"1s\"\naction = \"kill\"\nbroker = \"controller\"\n\
         [[fault]]\nat = \"2s\"\naction = \"kill\"\n\nbroker = 4\n",
    )
    .expect("write");
    let s = load(&path).expect("parses");
    assert!(validate_faults_against_cluster(&s, &[1, 2, 3, 4]).is_ok());
    let e = validate_faults_against_cluster(&s, &[3, 1, 2]).expect_err("node 4 of 3");
    assert_eq!(e.line, Some(10));
    assert_eq!(e.key.as_deref(), Some("fault[1].broker"));
    assert!(
        e.message
            .contains("node 4 is not a broker of this cluster (its node ids: 1, 2, 3)"),
        "{e}"
    );
    assert_eq!(e.exit_code(), 2);
    // The file gone: still an error, without a line.
    std::fs::remove_file(&path).expect("rm");
    let e = validate_faults_against_cluster(&s, &[1]).expect_err("node 4 of 1");
    assert_eq!(e.line, None);
}

#[test]
fn faults_never_panic_on_truncated_input() {
    let full = r#"name = "p"
[[fault]]
at = "1s"
action = "pause"
duration = "500ms"
broker = "leader-of:0"
fault_extra = [{ at = "2s" }]
[fault_commands]
pause = "docker compose pause kafka-{node}"
resume = "docker compose unpause kafka-{node}"
"#;
    for (i, _) in full.char_indices() {
        let _ = parse(&full[..i]);
    }
    assert!(parse(full).is_err(), "fault_extra is an unknown key");
    assert!(parse(&full.replace("fault_extra = [{ at = \"2s\" }]\n", "")).is_ok());
}

#[test]
fn an_existing_topic_is_named_by_a_non_empty_string() {
    let s = ok("name = \"x\"\n[topic]\nexisting = \"orders\"\n");
    assert_eq!(s.cells[0].topic.existing.as_deref(), Some("orders"));
    fails(
        "name = \"x\"\n[topic]\nexisting = 5\n",
        3,
        "topic.existing",
        "expected a topic name",
    );
    fails(
        "name = \"x\"\n[topic]\nexisting = \" \"\n",
        3,
        "topic.existing",
        "expected a topic name",
    );
}

// ---------------------------------------------------------------- bounded inputs (issue 15 A.3)

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

#[test]
fn a_named_pipe_as_scenario_or_message_file_is_refused_not_waited_on() {
    let dir = tempfile::tempdir().unwrap();
    let pipe = dir.path().join("s.toml");
    mkfifo(&pipe);
    // No writer ever comes: a blocking read would hang here.
    let e = load(&pipe).unwrap_err();
    assert_eq!(e.exit_code(), 2);
    assert!(
        e.to_string().starts_with(&format!(
            "{}: not a regular file but a named pipe",
            pipe.display()
        )),
        "{e}"
    );

    mkfifo(&dir.path().join("values.log"));
    let path = dir.path().join("ok.toml");
    let text = "name = \"f\"\n[producers]\nmessage_size = { file = \"values.log\" }\n";
    std::fs::write(&path, text).unwrap();
    let e = load(&path).unwrap_err();
    assert_eq!(e.line, Some(3));
    assert_eq!(e.key.as_deref(), Some("producers.message_size.file"));
    assert!(
        e.message.contains("not a regular file but a named pipe"),
        "{e}"
    );
}

#[test]
fn an_endless_message_file_is_refused() {
    let e = fails(
        "name = \"f\"\n[producers]\nmessage_size = { file = \"/dev/zero\" }\n",
        3,
        "producers.message_size.file",
        "message file /dev/zero: not a regular file but a character device",
    );
    assert!(e.message.len() < 200);
}

#[test]
fn a_scenario_file_over_the_size_bound_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.toml");
    let mut text = String::from("name = \"big\"\n");
    while text.len() as u64 <= input::MAX_SCENARIO_BYTES {
        text.push_str("# padding padding padding padding padding padding padding padding\n");
    }
    std::fs::write(&path, &text).unwrap();
    let e = load(&path).unwrap_err();
    assert!(e.to_string().contains("larger than 1 MiB"), "{e}");
}

#[test]
fn a_300000_value_axis_is_refused_before_its_values_are_checked() {
    let values: Vec<String> = (1..=300_000).map(|i| i.to_string()).collect();
    let text = format!(
        "name = \"x\"\n[sweep]\npartitions = [{}]\n",
        values.join(", ")
    );
    fails(
        &text,
        3,
        "sweep.partitions",
        "300000 values: a sweep has at most 10000 cells",
    );
    // Duplicates within the cap are found (one lookup per value).
    let mut values: Vec<String> = (1..=10_000).map(|i| i.to_string()).collect();
    values[9_999] = "1".into();
    let text = format!(
        "name = \"x\"\n[sweep]\npartitions = [{}]\n",
        values.join(", ")
    );
    fails(&text, 3, "sweep.partitions", "value \"1\" is listed twice");
}

#[test]
fn eighty_thousand_faults_are_refused_and_a_thousand_checked() {
    let restarts = |n: usize| {
        let mut t = String::from("name = \"x\"\n[run]\nduration = \"1h\"\n");
        for i in 0..n {
            t.push_str(&format!(
                "[[fault]]\nat = \"{}ms\"\naction = \"restart\"\nbroker = {}\n",
                i * 2000,
                i % 3 + 1
            ));
        }
        t
    };
    fails(
        &restarts(80_000),
        4,
        "fault",
        "80000 faults: a scenario has at most 1000 [[fault]] entries",
    );
    assert_eq!(ok(&restarts(1000)).cells[0].faults.len(), 1000);
    // The overlap check still finds the one overlap among many faults, wherever it is.
    let mut t = restarts(999);
    t.push_str("[[fault]]\nat = \"503s\"\naction = \"kill\"\nduration = \"2s\"\nbroker = 3\n");
    fails(
        &t,
        2 + 999 * 4 + 3,
        "fault[999].at",
        "node 3 is still held by fault[251] (restart at 8m22s, until 8m27s",
    );
}

#[test]
fn a_scenario_that_is_not_utf8_names_line_and_byte_offset() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latin1.toml");
    std::fs::write(&path, b"name = \"x\"\n[topic]\n# caf\xe9\npartitions = 1\n").unwrap();
    let e = load(&path).unwrap_err();
    assert_eq!(e.line, Some(3));
    assert!(
        e.to_string()
            .ends_with("not UTF-8 text: byte 0xe9 at byte offset 24 (scenario files are UTF-8)"),
        "{e}"
    );
}

// ---------------------------------------------------------------- values that cannot work (A.4)

#[test]
fn a_cell_id_too_long_for_a_topic_name_is_refused_at_its_value() {
    let long = "a".repeat(300);
    fails(
        &format!("name = \"x\"\n[sweep]\nacks = [\"1\"]\n\"client.producer.client.id\" = [\n  \"short\",\n  \"{long}\",\n]\n"),
        6,
        "sweep.client.producer.client.id",
        "in cell 1: its id is 317 bytes, at most 206 with this scenario's name",
    );
    // The limit leaves room for the scenario's name in the topic name.
    let id_of = |v: &str| format!("client.id-{v}").len();
    let fits = "b".repeat(206 - id_of(""));
    ok(&format!(
        "name = \"x\"\n[sweep]\n\"client.producer.client.id\" = [\"{fits}\"]\n"
    ));
    fails(
        &format!("name = \"xy\"\n[sweep]\n\"client.producer.client.id\" = [\"{fits}\"]\n"),
        3,
        "sweep.client.producer.client.id",
        "at most 205",
    );
}

#[test]
fn an_existing_topic_must_have_a_kafka_topic_name() {
    fails(
        "name = \"x\"\n[topic]\nexisting = \"bad topic/name\"\n",
        3,
        "topic.existing",
        "\"bad topic/name\" is not a valid Kafka topic name: ' ' is not allowed",
    );
    fails(
        &format!(
            "name = \"x\"\n[topic]\nexisting = \"{}\"\n",
            "t".repeat(250)
        ),
        3,
        "topic.existing",
        "at most 249 characters, this one 250",
    );
    fails(
        "name = \"x\"\n[sweep]\ntopic = [\"ok-topic\", \"..\"]\n",
        3,
        "sweep.topic",
        "in cell 1 (topic-..): \"..\" is not a valid Kafka topic name",
    );
    let s = ok("name = \"x\"\n[topic]\nexisting = \"orders.v2_EU-1\"\n");
    assert_eq!(s.cells[0].topic.existing.as_deref(), Some("orders.v2_EU-1"));
}

#[test]
fn topic_shape_beside_existing_is_refused_not_ignored() {
    fails(
        "name = \"x\"\n[topic]\nexisting = \"t\"\npartitions = 12\n",
        4,
        "topic.partitions",
        "topic.partitions is not used with topic.existing",
    );
    fails(
        "name = \"x\"\n[topic]\nreplication_factor = 1\nexisting = \"t\"\n",
        3,
        "topic.replication_factor",
        "topic.replication_factor is not used with topic.existing",
    );
    fails(
        "name = \"x\"\n[topic]\nexisting = \"t\"\nconfigs = { \"retention.ms\" = 1000 }\n",
        4,
        "topic.configs.retention.ms",
        "topic.configs.retention.ms is not used with topic.existing",
    );
    fails(
        "name = \"x\"\n[topic]\nexisting = \"t\"\n[sweep]\npartitions = [1, 2]\n",
        5,
        "sweep.partitions",
        "in cell 0 (partitions-1): topic.partitions is not used with topic.existing",
    );
}

#[test]
fn two_restarts_of_one_node_500ms_apart_are_refused() {
    fails(
        "name = \"x\"\n[[fault]]\nat = \"5s\"\naction = \"restart\"\nbroker = 1\n[[fault]]\nat = \"5.5s\"\naction = \"restart\"\nbroker = 1\n",
        7,
        "fault[1].at",
        "node 1 is still held by fault[0] (restart at 5s, until 10s, counting 5s for the broker to start and serve again)",
    );
    // A kill with a duration holds its node while the broker starts again, too.
    fails(
        "name = \"x\"\n[[fault]]\nat = \"2s\"\naction = \"kill\"\nduration = \"1s\"\nbroker = 1\n[[fault]]\nat = \"4s\"\naction = \"pause\"\nduration = \"1s\"\nbroker = 1\n",
        8,
        "fault[1].at",
        "(kill at 2s, until 8s, counting 5s",
    );
    ok("name = \"x\"\n[[fault]]\nat = \"3s\"\naction = \"restart\"\nbroker = 1\n[[fault]]\nat = \"8s\"\naction = \"restart\"\nbroker = 1\n");
}

#[test]
fn a_message_size_above_message_max_bytes_is_refused() {
    fails(
        "name = \"x\"\n[producers]\nmessage_size = \"1MiB\"\n",
        3,
        "producers.message_size",
        "messages of up to 1048576 bytes are 1048612 bytes with key and record framing, above librdkafka's message.max.bytes (1000000 unless set in [client.producer]): every send would fail",
    );
    // Raised in [client.producer]: fine; lowered below the size: that setting is named.
    ok("name = \"x\"\n[producers]\nmessage_size = \"1MiB\"\n[client.producer]\n\"message.max.bytes\" = 2000000\n");
    fails(
        "name = \"x\"\n[producers]\nmessage_size = 1000\n[client.producer]\n\"message.max.bytes\" = 1000\n",
        3,
        "producers.message_size",
        "above [client.producer] message.max.bytes = 1000",
    );
    // A swept size is blamed with its cell; the key counts too, and the stamp only when it
    // travels in a header.
    fails(
        "name = \"x\"\n[producers]\nkeys = { fixed = \"kkkkkkkkkk\" }\nstamp = \"header\"\n[sweep]\nmessage_size = [1024, 999930]\n",
        6,
        "sweep.message_size",
        "in cell 1 (message_size-999930): messages of up to 999930 bytes are 1000012 bytes with key, kbench's stamp header and record framing",
    );
    ok("name = \"x\"\n[producers]\nstamp = \"header\"\nmessage_size = 999928\n");
    fails(
        "name = \"x\"\n[producers]\nmessage_size = 999965\n",
        3,
        "producers.message_size",
        "messages of up to 999965 bytes are 1000001 bytes with key and record framing",
    );
    ok("name = \"x\"\n[producers]\nmessage_size = 999964\n");
}

#[test]
fn two_spellings_of_one_value_in_a_sweep_are_one_cell_and_refused() {
    fails(
        "name = \"x\"\n[sweep]\nmessage_size = [1024, \"1KiB\"]\n",
        3,
        "sweep.message_size",
        "value \"1KiB\" is the same as \"1024\", listed before: both would make the same cell",
    );
    fails(
        "name = \"x\"\n[sweep]\nacks = [\"all\", -1]\n",
        3,
        "sweep.acks",
        "value \"-1\" is the same as \"all\"",
    );
    fails(
        "name = \"x\"\n[sweep]\nbatch_size = [65536, \"64KiB\"]\n",
        3,
        "sweep.batch_size",
        "value \"64KiB\" is the same as \"65536\"",
    );
    ok("name = \"x\"\n[sweep]\nmessage_size = [1024, \"2KiB\"]\n");
}

#[test]
fn validate_prints_swept_values_escaped_and_shortened() {
    let long = "v".repeat(150); // the cell id cap keeps swept values short anyway
    let s = ok(&format!(
        "name = \"x\"\n[sweep]\n\"client.producer.client.id\" = [\"\\u001b[2Jred\\nline\", \"{long}\"]\n"
    ));
    let mut out = Vec::new();
    render_cells(&s, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(!text.contains('\u{1b}'), "{text}");
    assert!(
        text.contains("client.producer.client.id = [\\u{1b}[2Jred\\nline, vvv"),
        "{text}"
    );
    assert!(text.contains("bytes cut]"), "{text}");
}

// ---------------------------------------------------------------- secrets

#[test]
fn a_secret_property_cannot_be_swept() {
    fails(
        "name = \"x\"\n[sweep]\n\"client.producer.sasl.password\" = [\"a\", \"b\"]\n",
        3,
        "sweep.client.producer.sasl.password",
        "a secret cannot be swept",
    );
}

#[test]
fn a_reference_cannot_be_swept() {
    fails(
        "name = \"x\"\n[sweep]\n\"client.producer.sasl.username\" = [\"${env:A}\", \"b\"]\n",
        3,
        "sweep.client.producer.sasl.username",
        "cannot be swept",
    );
}

#[test]
fn an_unresolvable_reference_names_the_key_and_reference_and_keeps_the_text_as_written() {
    let e = fails(
        "name = \"x\"\n[client.producer]\n\"sasl.password\" = \"${env:KBENCH_TEST_UNSET_PW_9}\"\n",
        3,
        "client.producer.sasl.password",
        "KBENCH_TEST_UNSET_PW_9 is not set",
    );
    assert!(!e.to_string().contains("hunter"), "{e}");
    std::env::set_var("KBENCH_TEST_SET_PW_9", "hunter2");
    let s = ok(
        "name = \"x\"\n[client.producer]\n\"sasl.password\" = \"${env:KBENCH_TEST_SET_PW_9}\"\n",
    );
    // The cell keeps the reference; only a client's configuration holds the value.
    assert_eq!(
        s.cells[0].client.producer["sasl.password"],
        "${env:KBENCH_TEST_SET_PW_9}"
    );
    let manifest = crate::rundir::manifest::ScenarioInfo::of(&s);
    let text = serde_json::to_string(&manifest).unwrap();
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("${env:KBENCH_TEST_SET_PW_9}"), "{text}");
    let literal = ok("name = \"x\"\n[client.producer]\n\"sasl.password\" = \"hunter2\"\n");
    let text = serde_json::to_string(&crate::rundir::manifest::ScenarioInfo::of(&literal)).unwrap();
    assert!(
        !text.contains("hunter2") && text.contains("<redacted>"),
        "{text}"
    );
}

// ---------------------------------------------------------------- client properties

#[test]
fn a_property_kbench_sets_itself_is_refused_in_the_pass_through() {
    fails(
        "name = \"x\"\n[producers]\nacks = \"all\"\n[client.producer]\nacks = \"1\"\n",
        5,
        "client.producer.acks",
        "set by kbench from producers.acks",
    );
    fails(
        "name = \"x\"\n[client.consumer]\n\"group.id\" = \"g\"\n",
        3,
        "client.consumer.group.id",
        "consumers.groups",
    );
    fails(
        "name = \"x\"\n[sweep]\n\"client.producer.compression.type\" = [\"lz4\"]\n",
        3,
        "sweep.client.producer.compression.type",
        "producers.compression",
    );
}

#[test]
fn librdkafka_checks_names_and_values_before_any_load() {
    fails(
        "name = \"x\"\n[client.producer]\n\"linger.msx\" = 5\n",
        3,
        "client.producer.linger.msx",
        "No such configuration property",
    );
    fails(
        "name = \"x\"\n[client.consumer]\n\"fetch.min.bytes\" = \"abc\"\n",
        3,
        "client.consumer.fetch.min.bytes",
        "Invalid value",
    );
    fails(
        "name = \"x\"\n[client.admin]\n\"socket.timeout.msec\" = 1\n",
        3,
        "client.admin.socket.timeout.msec",
        "librdkafka",
    );
    fails(
        "name = \"x\"\n[sweep]\n\"client.consumer.fetch.min.bytes\" = [1, \"lots\"]\n",
        3,
        "sweep.client.consumer.fetch.min.bytes",
        "Invalid value",
    );
    ok("name = \"x\"\n[client.producer]\n\"socket.nagle.disable\" = true\n");
}

#[test]
fn a_property_written_twice_in_two_spellings_is_refused() {
    fails(
        "name = \"x\"\n[client.producer]\nbatch.num.messages = 5\n\"batch.num.messages\" = 500\n",
        4,
        "client.producer.batch.num.messages",
        "line 3",
    );
}

#[test]
fn cells_share_their_properties_and_faults_instead_of_copying_them() {
    // Every cell of a 10,000-cell sweep holds the scenario's client properties and faults: as
    // copies that is a map and a fault list per cell before the first cell runs.
    let mut t = String::from(
        "name = \"x\"\n[run]\nduration = \"1h\"\n[client.producer]\n\
         \"socket.send.buffer.bytes\" = \"1000\"\n\"socket.receive.buffer.bytes\" = \"2000\"\n",
    );
    for i in 0..100 {
        t.push_str(&format!(
            "[[fault]]\nat = \"{}s\"\naction = \"restart\"\nbroker = {}\n",
            i * 30,
            i % 3 + 1
        ));
    }
    let rates: Vec<String> = (1..=10_000).map(|i| i.to_string()).collect();
    t.push_str(&format!(
        "[sweep]\n\"producers.rate\" = [{}]\n",
        rates.join(", ")
    ));
    let s = ok(&t);
    assert_eq!(s.cells.len(), 10_000);
    let (first, last) = (&s.cells[0], &s.cells[9_999]);
    assert_eq!(last.client.producer["socket.send.buffer.bytes"], "1000");
    assert!(first.client.producer.is_shared_with(&last.client.producer));
    assert_eq!(last.faults.len(), 100);
    assert!(std::sync::Arc::ptr_eq(&first.faults, &last.faults));
    // A swept property gives each cell its own set; the other kinds stay shared.
    let s = ok(
        "name = \"x\"\n[client.producer]\n\"socket.send.buffer.bytes\" = \"1000\"\n\
         [sweep]\n\"client.producer.socket.receive.buffer.bytes\" = [\"2000\", \"3000\"]\n",
    );
    let (a, b) = (&s.cells[0].client, &s.cells[1].client);
    assert!(!a.producer.is_shared_with(&b.producer));
    assert_eq!(b.producer["socket.receive.buffer.bytes"], "3000");
    assert_eq!(b.producer["socket.send.buffer.bytes"], "1000");
    assert!(a.consumer.is_shared_with(&b.consumer));
}

// ---------------------------------------------------------------- chosen partitions

#[test]
fn chosen_partitions_parse_sweep_and_render() {
    let s = ok("name = \"c\"\n[producers]\npartitioner = { chosen = 3 }\n");
    assert_eq!(
        s.cells[0].producers.partitioner,
        Partitioner::Chosen(vec![3])
    );
    let s = ok("name = \"c\"\n[producers]\npartitioner = { chosen = [0, 2] }\n");
    let p = &s.cells[0].producers.partitioner;
    assert_eq!(*p, Partitioner::Chosen(vec![0, 2]));
    assert_eq!(p.to_string(), "chosen=0,2");
    let s = ok(
        "name = \"c\"\n[sweep]\npartitioner = [\"sticky\", { chosen = [0, 2] }, { chosen = 5 }]\n",
    );
    let ids: Vec<&str> = s.cells.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "partitioner-sticky",
            "partitioner-chosen-0-2",
            "partitioner-chosen-5"
        ]
    );
    assert_eq!(s.axes[0].values, ["sticky", "chosen=0,2", "chosen=5"]);
    assert_eq!(
        s.cells[2].producers.partitioner,
        Partitioner::Chosen(vec![5])
    );
}

#[test]
fn chosen_partitions_must_exist_and_be_well_formed() {
    fails(
        "name = \"x\"\n[topic]\npartitions = 6\n[producers]\npartitioner = { chosen = 6 }\n",
        5,
        "producers.partitioner",
        "chosen partition 6 does not exist: the topic has 6 partitions (0..=5)",
    );
    fails(
        "name = \"x\"\n[producers]\npartitioner = { chosen = [0, 2] }\n[sweep]\npartitions = [3, 2]\n",
        5,
        "sweep.partitions",
        "in cell 1 (partitions-2): chosen partition 2 does not exist",
    );
    fails(
        "name = \"x\"\n[topic]\npartitions = 2\n[sweep]\npartitioner = [{ chosen = 1 }, { chosen = [1, 2] }]\n",
        5,
        "sweep.partitioner",
        "in cell 1 (partitioner-chosen-1-2): chosen partition 2",
    );
    fails(
        "name = \"x\"\n[producers]\npartitioner = { chosen = -1 }\n",
        3,
        "producers.partitioner.chosen",
        "expected a partition number (0 or more), got -1",
    );
    fails(
        "name = \"x\"\n[producers]\npartitioner = { chosen = [] }\n",
        3,
        "producers.partitioner.chosen",
        "expected 1 to",
    );
    fails(
        "name = \"x\"\n[producers]\npartitioner = { chosen = [1, 1] }\n",
        3,
        "producers.partitioner.chosen",
        "partition 1 is listed twice",
    );
    fails(
        "name = \"x\"\n[producers]\npartitioner = { chosen = \"a\" }\n",
        3,
        "producers.partitioner.chosen",
        "got \"a\"",
    );
    fails(
        "name = \"x\"\n[producers]\npartitioner = { pick = 1 }\n",
        3,
        "producers.partitioner.pick",
        "unknown key; expected chosen",
    );
    fails(
        "name = \"x\"\n[producers]\npartitioner = {}\n",
        3,
        "producers.partitioner",
        "expected { chosen = P }",
    );
}

#[test]
fn chosen_partitions_on_an_existing_topic_are_checked_against_its_shape() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("e.toml");
    let text = "name = \"e\"\n[topic]\nexisting = \"theirs\"\n[producers]\npartitioner = { chosen = [1, 4] }\n";
    std::fs::write(&path, text).expect("write");
    let s = load(&path).expect("parses: the shape is the cluster's");
    let e = validate_chosen_against_cluster(&s, |_| Some(3)).expect_err("4 of 3");
    assert_eq!(e.line, Some(5));
    assert_eq!(e.key.as_deref(), Some("producers.partitioner"));
    assert_eq!(e.exit_code(), 2);
    assert!(
        e.to_string().contains(
            "topic theirs: chosen partition 4 does not exist: the topic has 3 partitions"
        ),
        "{e}"
    );
    validate_chosen_against_cluster(&s, |_| Some(5)).expect("4 of 5");
    validate_chosen_against_cluster(&s, |_| None).expect("unknown: the cell says so");
}

// ---------------------------------------------------------------- topic auto-creation

#[test]
fn auto_created_topics_take_the_brokers_shape() {
    let s = ok("name = \"a\"\n[topic]\ncreate = \"auto\"\n");
    let c = &s.cells[0];
    assert_eq!(c.topic.create, TopicCreate::Auto);
    // The default replication factor (3) is not the auto-created topic's: one broker will do.
    validate_against_cluster(&s, 1).expect("the broker decides the RF");
    assert_eq!(
        ok("name = \"a\"\n").cells[0].topic.create,
        TopicCreate::Kbench
    );
    fails(
        "name = \"x\"\n[topic]\ncreate = \"broker\"\n",
        3,
        "topic.create",
        "expected one of \"kbench\", \"auto\"",
    );
    fails(
        "name = \"x\"\n[topic]\ncreate = \"auto\"\npartitions = 3\n",
        4,
        "topic.partitions",
        "topic.partitions is not used with topic.create = \"auto\"",
    );
    fails(
        "name = \"x\"\n[topic]\ncreate = \"auto\"\nconfigs = { \"min.insync.replicas\" = 1 }\n",
        4,
        "topic.configs.min.insync.replicas",
        "not used with topic.create",
    );
    fails(
        "name = \"x\"\n[topic]\ncreate = \"auto\"\nexisting = \"t\"\n",
        3,
        "topic.create",
        "keep one of them",
    );
    fails(
        "name = \"x\"\n[topic]\ncreate = \"auto\"\n[sweep]\nreplication_factor = [1, 3]\n",
        5,
        "sweep.replication_factor",
        "in cell 0 (replication_factor-1)",
    );
    // Chosen partitions wait for the cluster's num.partitions.
    ok("name = \"a\"\n[topic]\ncreate = \"auto\"\n[producers]\npartitioner = { chosen = 9 }\n");
}

#[test]
fn auto_creation_is_refused_when_the_cluster_says_it_is_off() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("a.toml");
    std::fs::write(
        &path,
        "name = \"a\"\n[topic]\ncreate = \"auto\"\n[producers]\npartitioner = { chosen = 1 }\n",
    )
    .expect("write");
    let s = load(&path).expect("parses");
    let e = validate_auto_create_against_cluster(&s, Some(false)).expect_err("off");
    assert_eq!(e.line, Some(3));
    assert_eq!(e.key.as_deref(), Some("topic.create"));
    assert_eq!(e.exit_code(), 2);
    assert!(
        e.to_string()
            .contains("the cluster's auto.create.topics.enable is false"),
        "{e}"
    );
    validate_auto_create_against_cluster(&s, Some(true)).expect("on");
    validate_auto_create_against_cluster(&s, None).expect("unknown: the cell finds out");
    let e = validate_chosen_against_cluster(&s, |_| Some(1)).expect_err("1 of 1");
    assert!(
        e.to_string().contains(
            "the broker's auto-created topic (num.partitions): chosen partition 1 does not exist"
        ),
        "{e}"
    );
}

// ---------------------------------------------------------------- transactions

#[test]
fn transactions_are_producer_settings_sweepable_like_any_other() {
    let s = ok("name = \"x\"\n");
    let c = &s.cells[0];
    assert_eq!(c.producers.transaction_messages, 0, "off by default");
    assert_eq!(c.producers.transaction_abort, 0.0);
    assert_eq!(c.consumers.isolation, Isolation::ReadCommitted);
    let s = ok("name = \"x\"\n[producers]\nidempotence = true\ntransaction_abort = 0.1\n\
         [consumers]\nisolation = \"read_uncommitted\"\n[sweep]\ntransaction_messages = [10, 1000]\n");
    assert_eq!(s.cells.len(), 2);
    assert_eq!(s.cells[0].id, "transaction_messages-10");
    assert_eq!(s.cells[1].producers.transaction_messages, 1000);
    assert_eq!(s.cells[1].producers.transaction_abort, 0.1);
    assert_eq!(s.cells[1].consumers.isolation, Isolation::ReadUncommitted);
    let s = ok("name = \"x\"\n[producers]\nidempotence = true\ntransaction_messages = 5\n\
         [sweep]\ntransaction_abort = [0, 0.5]\nisolation = [\"read_committed\", \"read_uncommitted\"]\n");
    assert_eq!(s.cells.len(), 4);
}

#[test]
fn transactions_refuse_what_cannot_run() {
    fails(
        "name = \"x\"\n[producers]\ntransaction_messages = 100\n",
        3,
        "producers.transaction_messages",
        "need producers.idempotence = true",
    );
    fails(
        "name = \"x\"\n[producers]\ntransaction_abort = 0.1\n",
        3,
        "producers.transaction_abort",
        "needs transactions",
    );
    fails(
        "name = \"x\"\n[producers]\nidempotence = true\ntransaction_messages = 10\ntransaction_abort = 1.5\n",
        5,
        "producers.transaction_abort",
        "between 0 and 1",
    );
    fails(
        "name = \"x\"\n[producers]\ntransaction_messages = -1\n",
        3,
        "producers.transaction_messages",
        "between 0 and",
    );
    fails(
        "name = \"x\"\n[consumers]\nisolation = \"serializable\"\n",
        3,
        "consumers.isolation",
        "\"read_committed\", \"read_uncommitted\"",
    );
    // kbench sets both itself: a pass-through value would be what the client ran.
    fails(
        "name = \"x\"\n[client.producer]\n\"transactional.id\" = \"mine\"\n",
        3,
        "client.producer.transactional.id",
        "producers.transaction_messages",
    );
    fails(
        "name = \"x\"\n[client.consumer]\n\"isolation.level\" = \"read_uncommitted\"\n",
        3,
        "client.consumer.isolation.level",
        "consumers.isolation",
    );
}

// ---------------------------------------------------------------- rebalances (issue 14, item 5)

#[test]
fn assignor_and_group_protocol_are_read_swept_and_checked_together() {
    let s = ok("name = \"x\"\n");
    let c = &s.cells[0].consumers;
    assert_eq!(
        (c.assignor, c.group_protocol),
        (Assignor::Range, GroupProtocol::Classic)
    );
    let s = ok(
        "name = \"x\"\n[sweep]\nassignor = [\"range\", \"roundrobin\", \"cooperative-sticky\"]\n",
    );
    let ids: Vec<&str> = s.cells.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "assignor-range",
            "assignor-roundrobin",
            "assignor-cooperative-sticky"
        ]
    );
    assert_eq!(s.cells[2].consumers.assignor, Assignor::CooperativeSticky);
    let s =
        ok("name = \"x\"\n[consumers]\ngroup_protocol = \"consumer\"\nassignor = \"uniform\"\n");
    assert_eq!(s.cells[0].consumers.group_protocol, GroupProtocol::Consumer);
    fails(
        "name = \"x\"\n[consumers]\nassignor = \"sticky\"\n",
        3,
        "consumers.assignor",
        "cooperative-sticky",
    );
    // KIP-848 has no client-side assignor: cooperative-sticky is refused with it.
    fails(
        "name = \"x\"\n[consumers]\ngroup_protocol = \"consumer\"\n[sweep]\nassignor = [\"range\", \"cooperative-sticky\"]\n",
        5,
        "sweep.assignor",
        "not an assignor of group_protocol \"consumer\"",
    );
    fails(
        "name = \"x\"\n[consumers]\nassignor = \"uniform\"\n",
        3,
        "consumers.assignor",
        "uniform",
    );
}

#[test]
fn assignment_properties_are_kbench_s_own() {
    for (name, owner) in [
        ("partition.assignment.strategy", "consumers.assignor"),
        ("group.remote.assignor", "consumers.assignor"),
        ("group.protocol", "consumers.group_protocol"),
    ] {
        fails(
            &format!("name = \"x\"\n[client.consumer]\n\"{name}\" = \"range\"\n"),
            3,
            &format!("client.consumer.{name}"),
            owner,
        );
    }
}

#[test]
fn consumer_faults_are_parsed_apart_from_broker_faults() {
    let s = ok("name = \"x\"\n[consumers]\nmembers = 2\n[[fault]]\nat = \"2s\"\naction = \"kill\"\nbroker = 1\n\
                [[fault]]\nat = \"3s\"\naction = \"leave\"\ngroup = 0\nmember = 1\n\
                [[fault]]\nat = \"4s\"\naction = \"join\"\ngroup = 0\n\
                [[fault]]\nat = \"5s\"\naction = \"leave\"\ngroup = 0\nmember = 2\n");
    let c = &s.cells[0];
    assert_eq!(c.faults.len(), 1);
    let f = &c.consumer_faults;
    assert_eq!(f.len(), 3);
    assert_eq!(
        (f[0].index, f[0].at, f[0].action, f[0].group, f[0].member),
        (1, Duration::from_secs(3), ConsumerAction::Leave, 0, Some(1))
    );
    assert_eq!((f[1].action, f[1].member), (ConsumerAction::Join, None));
    // Member 2 exists once the join at 4 s has happened.
    assert_eq!(f[2].member, Some(2));
}

#[test]
fn consumer_faults_name_groups_and_members_the_cell_has() {
    let base =
        "name = \"x\"\n[consumers]\nmembers = 2\n[[fault]]\nat = \"3s\"\naction = \"leave\"\n";
    fails(
        &format!("{base}group = 1\nmember = 0\n"),
        7,
        "fault[0].group",
        "group 1 does not exist",
    );
    fails(
        &format!("{base}group = 0\nmember = 2\n"),
        8,
        "fault[0].member",
        "member 2 of group 0 does not exist",
    );
    fails(
        &format!("{base}group = 0\n"),
        4,
        "fault[0].member",
        "missing",
    );
    fails(
        &format!("{base}group = 0\nmember = 1\n[[fault]]\nat = \"4s\"\naction = \"leave\"\ngroup = 0\nmember = 1\n"),
        13,
        "fault[1].member",
        "already left",
    );
    fails(
        "name = \"x\"\n[[fault]]\nat = \"3s\"\naction = \"join\"\ngroup = 0\nmember = 0\n",
        6,
        "fault[0].member",
        "takes no member",
    );
    fails(
        "name = \"x\"\n[[fault]]\nat = \"3s\"\naction = \"join\"\ngroup = 0\nbroker = 1\n",
        6,
        "fault[0].broker",
        "unknown key",
    );
    fails(
        "name = \"x\"\n[run]\nduration = \"5s\"\n[[fault]]\nat = \"8s\"\naction = \"join\"\ngroup = 0\n",
        5,
        "fault[0].at",
        "not before the producers stop",
    );
    // A swept member count that makes the member vanish is refused in that cell.
    fails(
        "name = \"x\"\n[sweep]\nmembers = [3, 1]\n[[fault]]\nat = \"3s\"\naction = \"leave\"\ngroup = 0\nmember = 2\n",
        8,
        "fault[0].member",
        "in cell 1",
    );
}
