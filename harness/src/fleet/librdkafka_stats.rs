//! librdkafka's own statistics of a client (its STATISTICS.md JSON: per broker the requests,
//! round-trip times, wake-ups and queue depths; per partition the batches and bytes) written to
//! the cell's run directory, one JSON document per line: `cells/<cell>/librdkafka/<client>.jsonl`.
//!
//! kbench never turns them on itself: librdkafka builds a document of several KiB per client
//! per interval, and serving it costs the polling thread. A scenario asks for them with
//! `"statistics.interval.ms" = 1000` in `[client.producer]` or `[client.consumer]`. They are
//! what tells a slow cell's cause apart (small batches, a busy broker thread, a full queue),
//! and what found librdkafka's idempotent-producer busy loop (`vendor/README.md`).
//!
//! The document arrives on the thread that polls the client (the send thread, the member's
//! thread) and is appended and flushed there, so a cell cut short keeps every line written.
//! Without a log the document is dropped unread (rdkafka's default would parse it and log it).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rdkafka::config::ClientConfig;

/// The librdkafka property that turns statistics on (0, the default, is off).
pub const INTERVAL_PROPERTY: &str = "statistics.interval.ms";

/// One client's statistics file.
#[derive(Debug)]
pub struct StatsLog {
    path: PathBuf,
    /// `None` after a failed write: reported once, then nothing more is written.
    out: Mutex<Option<BufWriter<File>>>,
}

impl StatsLog {
    /// The log of `client` in `dir`, when `config` asks librdkafka for statistics and the
    /// cell has a directory (a `kbench versus` run has none); `None` otherwise.
    pub fn open(
        dir: Option<&Path>,
        client: &str,
        config: &ClientConfig,
    ) -> Result<Option<StatsLog>, String> {
        let (Some(dir), true) = (dir, asks_for_statistics(config)) else {
            return Ok(None);
        };
        let path = dir.join(format!("{client}.jsonl"));
        std::fs::create_dir_all(dir)
            .and_then(|()| File::create(&path))
            .map(|f| {
                Some(StatsLog {
                    out: Mutex::new(Some(BufWriter::new(f))),
                    path: path.clone(),
                })
            })
            .map_err(|e| {
                format!(
                    "librdkafka statistics: cannot write {}: {e}",
                    path.display()
                )
            })
    }

    /// Append one document (a line; librdkafka's JSON has no raw newlines).
    pub fn write(&self, json: &[u8]) {
        let Ok(mut out) = self.out.lock() else {
            return;
        };
        let Some(w) = out.as_mut() else {
            return;
        };
        let written = w
            .write_all(json)
            .and_then(|()| w.write_all(b"\n"))
            .and_then(|()| w.flush());
        if let Err(e) = written {
            eprintln!(
                "warning: librdkafka statistics: writing {} failed ({e}); no more are written",
                self.path.display()
            );
            *out = None;
        }
    }
}

/// Does `config` turn librdkafka's statistics on (`statistics.interval.ms` above 0)? A value
/// librdkafka refuses fails the client's creation, with librdkafka's own message.
fn asks_for_statistics(config: &ClientConfig) -> bool {
    config
        .get(INTERVAL_PROPERTY)
        .and_then(|v| v.trim().parse::<i64>().ok())
        .is_some_and(|ms| ms > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(interval: Option<&str>) -> ClientConfig {
        let mut c = ClientConfig::new();
        if let Some(v) = interval {
            c.set(INTERVAL_PROPERTY, v);
        }
        c
    }

    #[test]
    fn only_a_positive_interval_with_a_directory_opens_a_log() {
        let dir = tempfile::tempdir().unwrap();
        let d = Some(dir.path());
        assert!(StatsLog::open(d, "p", &config(None)).unwrap().is_none());
        assert!(StatsLog::open(d, "p", &config(Some("0")))
            .unwrap()
            .is_none());
        assert!(StatsLog::open(None, "p", &config(Some("500")))
            .unwrap()
            .is_none());
        assert!(StatsLog::open(d, "p", &config(Some("500")))
            .unwrap()
            .is_some());
    }

    #[test]
    fn each_document_is_one_line_on_disk_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("librdkafka");
        let log = StatsLog::open(Some(&sub), "kbench-producer-0", &config(Some("1000")))
            .unwrap()
            .unwrap();
        log.write(br#"{"name":"a","ts":1}"#);
        log.write(br#"{"name":"a","ts":2}"#);
        // Read while the log is still open: nothing waits in a buffer.
        let text = std::fs::read_to_string(sub.join("kbench-producer-0.jsonl")).unwrap();
        assert_eq!(
            text,
            "{\"name\":\"a\",\"ts\":1}\n{\"name\":\"a\",\"ts\":2}\n"
        );
    }

    #[test]
    fn an_unwritable_directory_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-dir");
        std::fs::write(&file, b"x").unwrap();
        let e = StatsLog::open(Some(&file), "p", &config(Some("1000"))).unwrap_err();
        assert!(
            e.contains("librdkafka statistics") && e.contains("not-a-dir"),
            "{e}"
        );
    }
}
