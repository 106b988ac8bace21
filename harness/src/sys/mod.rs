//! Samplers at the rim: the only code that reads CPU counters from the operating system
//! (`/proc`, `getrusage`, schedstat, `wait4`). Each returns a plain sample; what the samples
//! mean (cores used, busy fractions) is computed elsewhere, purely: [`crate::metrics::cpu`]
//! for kbench's own cells, [`crate::versus::cpu`] for a child process's window.
//!
//! - [`cpu`]: kbench's process, its threads, and the host.
//! - [`child`]: another process by pid (a JVM tool or a kbench child), and its exit's rusage.
pub mod child;
pub mod cpu;
