//! Scenario files: parsing, validation and sweep expansion.
//!
//! A scenario file (TOML, see `scenarios/`) describes one experiment: a base workload and
//! `[sweep]` axes whose cartesian product gives the cells. [`load`] turns it into a [`Scenario`]
//! with every default filled in and every value checked; anything wrong is a [`ScenarioError`]
//! naming file, line and key. Checks that need the cluster's shape are in
//! [`validate_against_cluster`]; [`render_cells`] is `kbench validate`.
//!
//! The format, with defaults (every key but `name` is optional; unknown keys are errors):
//!
//! ```toml
//! name = "acks-sweep"                 # required: letters, digits, '.', '_', '-'
//! [topic]
//! partitions = 6                      # >= 1
//! replication_factor = 3              # checked against the cluster before the run
//! configs = { "min.insync.replicas" = 2 }   # topic configs; values become strings
//! create = "kbench"                   # or "auto": write to a topic that does not exist yet and
//!                                     # let the broker make it (its num.partitions and
//!                                     # default.replication.factor; no partitions, RF, configs)
//! [producers]
//! count = 1                           # 1..=1000
//! rate = "max"                        # total messages/s across the fleet, > 0, or "max"
//! message_size = 1024                 # bytes, "1KiB", { min = 100, max = 1000 }, { file = "x.log" }
//! keys = "none"                       # { fixed = "k" }, { uniform = K }, { zipf = K, exponent = 1.0 }
//! partitioner = "sticky"              # any Partitioner::name(); keyed ones need keys; or
//!                                     # { chosen = 3 } / { chosen = [0, 2] }: only these
//!                                     # partitions, in turn (each < the topic's partitions)
//! acks = "all"                        # "0", "1", "all" (or 0, 1, -1)
//! compression = "none"                # none, gzip, snappy, lz4, zstd
//! linger_ms = 5.0
//! batch_size = 65536                  # bytes or "64KiB"
//! idempotence = false                 # needs acks = "all" and max_in_flight <= 5
//! max_in_flight = 5
//! sync = false                        # one message in flight; overrides max_in_flight
//! stamp = "value"                     # kbench's 28-byte stamp in the value's first bytes (values
//!                                     # >= 28 B; a file's lines are overwritten there), or "header"
//! pacing_tick = "1ms"                 # a paced producer sends what is due at most once a tick
//!                                     # (0s..5ms; "0s" = wake per message); latency still counts
//!                                     # from each message's intended time
//! transaction_messages = 0            # messages per transaction, 0 = no transactions (needs
//!                                     # idempotence = true); each producer its own transactional.id
//! transaction_abort = 0.0             # share of transactions aborted on purpose, 0..=1
//! [consumers]
//! groups = 1                          # 0 = no consumers
//! members = 1
//! start_from = "earliest"             # or "latest"
//! isolation = "read_committed"        # or "read_uncommitted" (sees aborted transactions too)
//! [run]                               # not sweepable
//! warmup = "2s"
//! duration = "10s"                    # or messages = N, not both
//! drain_timeout = "30s"
//! [client.producer]                   # librdkafka properties, also [client.consumer], [client.admin]
//! "socket.send.buffer.bytes" = 1048576   # bootstrap.servers is refused: it comes from the CLI
//! [sweep]                             # each key a setting, each value a non-empty list
//! acks = ["0", "1", "all"]            # short names, or producers.acks, topic.configs.<name>,
//! partitions = [1, 6, 24]             # client.producer.<prop>, client.consumer.<prop>
//! [[fault]]                           # not sweepable; every cell runs every fault
//! at = "10s"                          # since the cell's producers start, WARM-UP INCLUDED;
//!                                     # must be before warmup + duration
//! action = "kill"                     # kill (SIGKILL), stop (SIGTERM), restart (stop, start),
//!                                     # pause (SIGSTOP for duration, then SIGCONT)
//! duration = "5s"                     # pause: required; kill/stop: down this long, then
//!                                     # started again (left out: until the end of the cell)
//! broker = "leader-of:0"              # a node id (2), "leader-of:<partition>" of the cell's
//!                                     # topic, or "controller" (the active KRaft controller)
//! [fault_commands]                    # optional: shell commands instead of the local
//! kill = "docker compose kill kafka-{node}"   # cluster's control API; also stop, start,
//! start = "docker compose start kafka-{node}" # pause, resume ({node} = the node id)
//! ```
//!
//! Whatever a fault took down is brought back when the cell ends, so the next cell starts on
//! a full cluster. See `crate::fault` for how faults run and what is measured around them.
//!
//! Cells vary the first axis slowest; their ids join `<axis>-<value>` with `_`
//! (`acks-all_partitions-6`), or are `base` when nothing is swept.
mod consumer_faults;
mod errors;
mod faults;
pub mod input;
pub mod model;
pub mod parse;
mod render;
mod settings;
pub mod sweep;
pub mod units;

#[cfg(test)]
mod tests;

pub use faults::validate_faults_against_cluster;
pub use model::*;
pub use parse::{
    load, parse_str, render_cells, validate_against_cluster, validate_auto_create_against_cluster,
    validate_chosen_against_cluster, validate_topic_configs_against_cluster, ScenarioError,
};
