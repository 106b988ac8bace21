//! The Kafka cluster kbench talks to: a local Apache Kafka (KRaft) cluster started from Maven
//! Central jars, and the admin client that creates and deletes kbench's topics.
pub mod access;
pub mod admin;
pub mod error;
pub mod facts;
pub mod fetch;
pub mod kafka_config;
pub mod local;
pub mod process;
pub mod secrets;
pub mod security;

pub use access::Access;
pub use error::ClusterError;
pub use local::{LocalCluster, LocalClusterOpts, NodeStatus};
pub use security::SecurityMode;
