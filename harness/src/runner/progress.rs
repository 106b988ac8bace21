//! Live progress of the running cell.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use crate::metrics::cell::{Interval, Phase};

/// Live progress: a line rewritten in place on a terminal, a plain line every 5 s otherwise.
pub(super) struct Progress {
    cell: String,
    quiet: bool,
    tty: bool,
    last_print: Option<Instant>,
    errors: u64,
    p99_hist: hdrhistogram::Histogram<u64>,
}

impl Progress {
    pub(super) fn new(cell: &str, quiet: bool) -> Progress {
        Progress {
            cell: cell.to_string(),
            quiet,
            tty: std::io::stderr().is_terminal(),
            last_print: None,
            errors: 0,
            p99_hist: crate::metrics::new_histogram(),
        }
    }

    pub(super) fn tick(&mut self, i: &Interval, elapsed: Duration) {
        if self.quiet {
            return;
        }
        self.errors += i.producers.counters.failed;
        if i.phase != Phase::Warmup {
            let _ = self.p99_hist.add(&i.producers.publish);
        }
        let due = self.tty
            || self
                .last_print
                .is_none_or(|t| t.elapsed() >= Duration::from_secs(5));
        if !due {
            return;
        }
        self.last_print = Some(Instant::now());
        let c = &i.producers.counters;
        let rate = (c.acked + c.warmup_acked) as f64 / i.secs().max(1e-9);
        let p99 = if self.p99_hist.is_empty() {
            0.0
        } else {
            self.p99_hist.value_at_quantile(0.99) as f64 / 1e3
        };
        let line = format!(
            "  {} {:>6.1}s {:<7} {:>9.0} msg/s  p99 so far {:>8.2} ms  errors {}",
            self.cell,
            elapsed.as_secs_f64(),
            i.phase.name(),
            rate,
            p99,
            self.errors
        );
        if self.tty {
            eprint!("\r\x1b[2K{line}");
        } else {
            eprintln!("{line}");
        }
    }

    pub(super) fn done(&self) {
        if self.tty && !self.quiet {
            eprint!("\r\x1b[2K");
        }
    }
}
