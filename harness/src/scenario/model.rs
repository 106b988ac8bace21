//! The resolved form of a scenario: what one cell runs, with every default filled in and every
//! value validated. The parser (`parse.rs`) and the sweep expansion (`sweep.rs`) produce these;
//! the runner and the fleets only ever read them.

use std::collections::BTreeMap;
use std::ops::Deref;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

/// A whole scenario file, expanded into its cells.
#[derive(Debug, Clone, Serialize)]
pub struct Scenario {
    /// `name` from the file (file-safe).
    pub name: String,
    /// The file it was read from.
    pub path: PathBuf,
    /// The swept axes in file order: (axis name, values as written). Empty when nothing is swept.
    pub axes: Vec<SweepAxis>,
    /// The cartesian product of the axes, in a stable order (first axis varies slowest).
    pub cells: Vec<CellSpec>,
    /// `[fault_commands]`: shell commands that fault a broker (Docker and other clusters kbench
    /// did not start). `None`: faults go through the local cluster's own control API.
    pub fault_commands: Option<FaultCommands>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SweepAxis {
    /// The key as written in `[sweep]`, e.g. `acks`, `partitions`, `producer.linger.ms`.
    pub name: String,
    /// Each value rendered as a short string (`"all"`, `"6"`, `"1KiB"`).
    pub values: Vec<String>,
}

/// Everything one cell needs to run.
#[derive(Debug, Clone, Serialize)]
pub struct CellSpec {
    /// Position in the sweep, from 0.
    pub index: usize,
    /// Short, file-safe, unique within the scenario, stable across runs: `acks-all_partitions-6`,
    /// or `base` when nothing is swept.
    pub id: String,
    /// The swept (axis, value) pairs that make this cell, in axis order.
    pub params: Vec<(String, String)>,
    pub topic: TopicSpec,
    pub producers: ProducerSpec,
    pub consumers: ConsumerSpec,
    pub run: RunSpec,
    pub client: ClientProps,
    /// `[[fault]]` entries in file order (sorted by nothing: the index is the one errors and
    /// reports use). The same for every cell: each cell runs them all, on its own clock. Shared,
    /// not copied: 1,000 faults in each of 10,000 cells would otherwise be 10 million specs.
    #[serde(serialize_with = "serialize_shared")]
    pub faults: Arc<[FaultSpec]>,
    /// `[[fault]]` entries with a consumer action (a member leaves, a member joins), in file
    /// order; carried out by the cell's timeline on its fleet, not by the broker fault runner.
    #[serde(serialize_with = "serialize_shared")]
    pub consumer_faults: Arc<[ConsumerFault]>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TopicSpec {
    pub partitions: i32,
    pub replication_factor: i32,
    /// Topic-level configs passed to CreateTopics, e.g. `min.insync.replicas`.
    pub configs: Props,
    /// `[topic] existing = "name"`: run on this existing topic instead of creating one. Needs
    /// `kbench run --allow-existing-topic`; kbench never deletes it, reads only what it writes
    /// during the cell (consumers start from the latest offset), and takes its partition count
    /// and replication factor from the cluster.
    pub existing: Option<String>,
    /// `[topic] create`: who makes the cell's topic.
    pub create: TopicCreate,
}

/// `[topic] create`: kbench creates the cell's topic with the scenario's shape (`"kbench"`, the
/// default), or writes to it before it exists and the broker makes it (`"auto"`, with its
/// `num.partitions` and `default.replication.factor`; needs `auto.create.topics.enable`). An
/// auto-created topic has kbench's name, is registered before the first write and deleted
/// after the cell like kbench's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TopicCreate {
    Kbench,
    Auto,
}

impl TopicCreate {
    pub fn name(self) -> &'static str {
        match self {
            TopicCreate::Kbench => "kbench",
            TopicCreate::Auto => "auto",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ProducerSpec {
    pub count: usize,
    /// Total messages per second across the fleet; `None` = as fast as possible.
    pub rate: Option<f64>,
    pub message_size: MessageSize,
    pub keys: KeySpec,
    pub partitioner: Partitioner,
    pub acks: Acks,
    /// librdkafka `compression.type`: none, gzip, snappy, lz4, zstd.
    pub compression: String,
    pub linger_ms: f64,
    pub batch_size: usize,
    pub idempotence: bool,
    pub max_in_flight: usize,
    /// One message in flight: wait for each ack before sending the next.
    pub sync: bool,
    /// Where kbench's stamp goes (see `fleet::payload::stamp`).
    pub stamp: StampPlace,
    /// A paced producer wakes at most once per tick and sends every message due by then, so
    /// wake-ups do not grow with the rate; 0 = wake for each message. Latency still counts
    /// from each message's own intended time, so the tick's cost shows in the figures.
    pub pacing_tick: std::time::Duration,
    /// Messages per transaction; 0 = no transactions. Each producer then runs with its own
    /// `transactional.id` (see `fleet::transaction`).
    pub transaction_messages: u64,
    /// The share of transactions aborted on purpose (0..=1), spread evenly over them.
    pub transaction_abort: f64,
}

/// `[producers] stamp`: where each message carries kbench's stamp (producer id, sequence
/// number, intended send time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StampPlace {
    /// `"value"` (the default): in the first 28 bytes of the value, which keeps its size, so
    /// a message is exactly `message_size` bytes; values must be at least that long.
    Value,
    /// `"header"`: in a record header named `kbench`, the value untouched (payload files that
    /// must stay intact); every record then carries 34 more bytes and librdkafka's header list.
    Header,
}

impl StampPlace {
    /// The smallest value `stamp = "value"` can send: the stamp's length
    /// (`fleet::payload::stamp::STAMP_LEN`, which checks that the two agree).
    pub const MIN_VALUE_SIZE: usize = 28;

    pub fn name(self) -> &'static str {
        match self {
            StampPlace::Value => "value",
            StampPlace::Header => "header",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum MessageSize {
    Fixed(usize),
    /// Uniform over `min..=max` bytes.
    Uniform {
        min: usize,
        max: usize,
    },
    /// Replay the lines of a file (without their newline), in order, cycling.
    FileLines(PathBuf),
    /// `{ file = ..., follow = true }`: send each complete line appended to the file during
    /// the cell, as it appears (`fleet::tail`); `rate` is then a cap, not a schedule.
    FollowLines {
        path: PathBuf,
        from: FollowFrom,
    },
}

impl MessageSize {
    /// A followed file: its lines come as another process appends them.
    pub fn is_followed(&self) -> bool {
        matches!(self, MessageSize::FollowLines { .. })
    }
}

/// `from` of a followed file: where kbench starts reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FollowFrom {
    /// `"end"` (the default, as `tail -f`): only lines appended once the cell's producer opened
    /// the file.
    End,
    /// `"start"`: every line already in the file, then every line appended.
    Start,
}

impl FollowFrom {
    pub fn name(self) -> &'static str {
        match self {
            FollowFrom::End => "end",
            FollowFrom::Start => "start",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum KeySpec {
    /// Null keys.
    None,
    /// The same key on every message.
    Fixed(String),
    /// Uniform over `count` distinct keys (`key-0` .. `key-{count-1}`).
    Uniform { count: u64 },
    /// Zipf over `count` keys with the given exponent: key-0 is the hottest.
    Zipf { count: u64, exponent: f64 },
}

/// How each message's partition is chosen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Partitioner {
    /// Producer `i` always writes to partition `i mod partitions`.
    ExplicitPerProducer,
    /// Message with sequence number `n` goes to partition `n mod partitions`.
    ExplicitByIndex,
    /// librdkafka hash partitioners (keyed); `*_random` use sticky/random placement for null keys.
    Murmur2,
    Murmur2Random,
    Consistent,
    ConsistentRandom,
    Fnv1a,
    Fnv1aRandom,
    /// kbench cycles through the partitions, one message each.
    RoundRobin,
    /// Keyless batching: librdkafka's sticky partitioner fills a batch for one partition.
    Sticky,
    /// A uniformly random partition per message, chosen by kbench.
    Random,
    /// `{ chosen = 3 }` or `{ chosen = [0, 2] }`: only these partitions (distinct, each below
    /// the topic's partition count), one message each in turn, kbench setting the partition.
    /// Each producer starts at its own place in the list, so a fleet spreads over it at once.
    Chosen(Vec<i32>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Acks {
    Zero,
    One,
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum StartFrom {
    Earliest,
    Latest,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConsumerSpec {
    /// Number of separate consumer groups; 0 = no consumers.
    pub groups: usize,
    /// Members in each group.
    pub members: usize,
    pub start_from: StartFrom,
    /// librdkafka `isolation.level`: what the members read of transactional writes.
    pub isolation: Isolation,
    /// `assignor`: who gets which partition (kbench sets `partition.assignment.strategy`, or
    /// `group.remote.assignor` with the KIP-848 protocol).
    pub assignor: Assignor,
    /// `group_protocol`: the classic rebalance protocol or KIP-848's `consumer` protocol.
    pub group_protocol: GroupProtocol,
}

/// `[consumers] isolation`: whether members see messages of open and aborted transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Isolation {
    /// Only committed transactional messages (librdkafka's default).
    ReadCommitted,
    /// Everything written, aborted transactions included.
    ReadUncommitted,
}

impl Isolation {
    pub fn name(self) -> &'static str {
        match self {
            Isolation::ReadCommitted => "read_committed",
            Isolation::ReadUncommitted => "read_uncommitted",
        }
    }
}

/// `[consumers] assignor`. Range, round-robin and cooperative-sticky are client-side assignors
/// of the classic protocol (range and round-robin are eager: every member gives up every
/// partition in a rebalance; cooperative-sticky moves only the partitions that change owner);
/// uniform and range are the broker's assignors under `group_protocol = "consumer"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Assignor {
    Range,
    RoundRobin,
    CooperativeSticky,
    Uniform,
}

impl Assignor {
    pub const ALL: [Assignor; 4] = [
        Assignor::Range,
        Assignor::RoundRobin,
        Assignor::CooperativeSticky,
        Assignor::Uniform,
    ];

    /// The name in scenarios and reports, which is also librdkafka's.
    pub fn name(self) -> &'static str {
        match self {
            Assignor::Range => "range",
            Assignor::RoundRobin => "roundrobin",
            Assignor::CooperativeSticky => "cooperative-sticky",
            Assignor::Uniform => "uniform",
        }
    }

    /// Can `protocol` use this assignor?
    pub fn fits(self, protocol: GroupProtocol) -> bool {
        match protocol {
            GroupProtocol::Classic => self != Assignor::Uniform,
            GroupProtocol::Consumer => matches!(self, Assignor::Range | Assignor::Uniform),
        }
    }
}

/// `[consumers] group_protocol`: librdkafka's `group.protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupProtocol {
    Classic,
    /// KIP-848: the broker assigns, incrementally (Kafka 4.x; librdkafka 2.10+).
    Consumer,
}

impl GroupProtocol {
    pub fn name(self) -> &'static str {
        match self {
            GroupProtocol::Classic => "classic",
            GroupProtocol::Consumer => "consumer",
        }
    }
}

/// What a consumer `[[fault]]` does to its group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ConsumerAction {
    /// A member leaves the group cleanly (its partitions move to the others).
    Leave,
    /// A new member joins the group (it takes partitions from the others).
    Join,
}

impl ConsumerAction {
    pub fn name(self) -> &'static str {
        match self {
            ConsumerAction::Leave => "leave",
            ConsumerAction::Join => "join",
        }
    }
}

/// One consumer `[[fault]]`: `at` after the cell's producers start, `action` in group `group`.
/// A member that joined during the cell is numbered after the group's `members`, in the
/// order of the joins.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConsumerFault {
    /// Position among the scenario's `[[fault]]` entries (what errors call `fault[i]`).
    pub index: usize,
    pub at: Duration,
    pub action: ConsumerAction,
    pub group: usize,
    /// Which member leaves; `None` for a join.
    pub member: Option<usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunSpec {
    pub warmup: Duration,
    /// How long to measure after warm-up. Exactly one of `duration` and `messages` is set.
    pub duration: Option<Duration>,
    /// Or: stop after this many messages (across the fleet, after warm-up).
    pub messages: Option<u64>,
    /// After the producers stop: how long to wait for acks and for consumers to catch up.
    pub drain_timeout: Duration,
}

/// One `[[fault]]`: do `action` to `broker`, `at` after the cell's producers start.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaultSpec {
    /// Since the cell's producers start, warm-up included (`at = "10s"` with a 5 s warm-up is
    /// 5 s into the measurement).
    pub at: Duration,
    pub action: FaultAction,
    /// Pause: how long the broker stays frozen (required). Kill / stop: how long it stays down
    /// before it is started again; `None` = until the end of the cell. Never set for restart.
    pub duration: Option<Duration>,
    pub broker: BrokerRef,
}

/// What a fault does to its broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FaultAction {
    /// SIGKILL: a crash, no controlled shutdown.
    Kill,
    /// SIGTERM: controlled shutdown (leadership moves away first).
    Stop,
    /// SIGSTOP for `duration`, then SIGCONT: the broker freezes with its sockets open.
    Pause,
    /// Stop, then start again at once (waiting until it serves clients).
    Restart,
}

/// Which broker a fault hits; `LeaderOf` and `Controller` are resolved when the fault fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BrokerRef {
    /// A node id (`broker = 2`).
    Node(i32),
    /// The current leader of this partition of the cell's topic (`"leader-of:0"`).
    LeaderOf(i32),
    /// The active KRaft controller (the metadata quorum's leader).
    Controller,
}

/// `[fault_commands]`: shell command templates (run with `sh -c`), `{node}` replaced by the
/// node id. A fault needs the templates of its action: kill + start, stop + start,
/// restart = stop + start, pause + resume.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FaultCommands {
    pub kill: Option<String>,
    pub stop: Option<String>,
    pub start: Option<String>,
    pub pause: Option<String>,
    pub resume: Option<String>,
}

impl FaultAction {
    pub const ALL: [FaultAction; 4] = [
        FaultAction::Kill,
        FaultAction::Stop,
        FaultAction::Pause,
        FaultAction::Restart,
    ];

    /// The name used in scenario files and reports.
    pub fn name(self) -> &'static str {
        match self {
            FaultAction::Kill => "kill",
            FaultAction::Stop => "stop",
            FaultAction::Pause => "pause",
            FaultAction::Restart => "restart",
        }
    }
}

impl std::fmt::Display for FaultAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::fmt::Display for BrokerRef {
    /// As written in a scenario: `2`, `leader-of:0`, `controller`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BrokerRef::Node(n) => write!(f, "{n}"),
            BrokerRef::LeaderOf(p) => write!(f, "leader-of:{p}"),
            BrokerRef::Controller => f.write_str("controller"),
        }
    }
}

impl FaultCommands {
    /// The template for one command name (`kill`, `stop`, `start`, `pause`, `resume`).
    pub fn get(&self, name: &str) -> Option<&str> {
        match name {
            "kill" => self.kill.as_deref(),
            "stop" => self.stop.as_deref(),
            "start" => self.start.as_deref(),
            "pause" => self.pause.as_deref(),
            "resume" => self.resume.as_deref(),
            _ => None,
        }
    }

    /// The templates a fault with `action` runs: the action's own, then the one that undoes it.
    pub fn needed(action: FaultAction) -> [&'static str; 2] {
        match action {
            FaultAction::Kill => ["kill", "start"],
            FaultAction::Stop | FaultAction::Restart => ["stop", "start"],
            FaultAction::Pause => ["pause", "resume"],
        }
    }
}

/// librdkafka properties passed through unchanged (they override kbench's own settings).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ClientProps {
    pub producer: Props,
    pub consumer: Props,
    pub admin: Props,
}

/// A set of properties (name -> value) shared by every cell that has the same set: a cell
/// copies it only when a swept value changes it. A scenario may hold thousands of properties
/// and a sweep 10,000 cells; a copy per cell would take gigabytes before the first cell ran.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Props(Arc<BTreeMap<String, String>>);

impl Props {
    /// Sets one property, copying the set first if another cell shares it.
    pub fn insert(&mut self, name: String, value: String) {
        Arc::make_mut(&mut self.0).insert(name, value);
    }

    /// Whether two cells hold the very same set (not a copy).
    pub fn is_shared_with(&self, other: &Props) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Deref for Props {
    type Target = BTreeMap<String, String>;
    fn deref(&self) -> &BTreeMap<String, String> {
        &self.0
    }
}

impl From<BTreeMap<String, String>> for Props {
    fn from(map: BTreeMap<String, String>) -> Props {
        Props(Arc::new(map))
    }
}

fn serialize_shared<S: serde::Serializer, T: Serialize>(
    v: &Arc<[T]>,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter())
}

impl Serialize for Props {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl Acks {
    /// The value of librdkafka's `acks` property.
    pub fn as_config(self) -> &'static str {
        match self {
            Acks::Zero => "0",
            Acks::One => "1",
            Acks::All => "all",
        }
    }
}

impl Partitioner {
    /// The name used in scenario files (the kind only for `chosen`: see the `Display` form).
    pub fn name(&self) -> &'static str {
        match self {
            Partitioner::Chosen(_) => "chosen",
            Partitioner::ExplicitPerProducer => "explicit-producer",
            Partitioner::ExplicitByIndex => "explicit-index",
            Partitioner::Murmur2 => "murmur2",
            Partitioner::Murmur2Random => "murmur2_random",
            Partitioner::Consistent => "consistent",
            Partitioner::ConsistentRandom => "consistent_random",
            Partitioner::Fnv1a => "fnv1a",
            Partitioner::Fnv1aRandom => "fnv1a_random",
            Partitioner::RoundRobin => "round-robin",
            Partitioner::Sticky => "sticky",
            Partitioner::Random => "random",
        }
    }

    /// All partitioners named by a string, for parsing and error messages (`chosen` is a table).
    pub const ALL: [Partitioner; 11] = [
        Partitioner::ExplicitPerProducer,
        Partitioner::ExplicitByIndex,
        Partitioner::Murmur2,
        Partitioner::Murmur2Random,
        Partitioner::Consistent,
        Partitioner::ConsistentRandom,
        Partitioner::Fnv1a,
        Partitioner::Fnv1aRandom,
        Partitioner::RoundRobin,
        Partitioner::Sticky,
        Partitioner::Random,
    ];

    /// The librdkafka `partitioner` property when librdkafka picks the partition, or `None`
    /// when kbench sets the partition of each message itself.
    pub fn librdkafka_name(&self) -> Option<&'static str> {
        match self {
            Partitioner::Murmur2 => Some("murmur2"),
            Partitioner::Murmur2Random => Some("murmur2_random"),
            Partitioner::Consistent => Some("consistent"),
            Partitioner::ConsistentRandom => Some("consistent_random"),
            Partitioner::Fnv1a => Some("fnv1a"),
            Partitioner::Fnv1aRandom => Some("fnv1a_random"),
            // Sticky = null keys with librdkafka's sticky partitioning (its default for null keys).
            Partitioner::Sticky => Some("consistent_random"),
            Partitioner::ExplicitPerProducer
            | Partitioner::ExplicitByIndex
            | Partitioner::RoundRobin
            | Partitioner::Random
            | Partitioner::Chosen(_) => None,
        }
    }
}

impl std::fmt::Display for Partitioner {
    /// As in reports and cell ids: the name, and for `chosen` its partitions (`chosen=0,2`,
    /// the form a `[sweep]` value renders to).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Partitioner::Chosen(list) => {
                let list: Vec<String> = list.iter().map(i32::to_string).collect();
                write!(f, "chosen={}", list.join(","))
            }
            other => f.write_str(other.name()),
        }
    }
}
