//! One shutdown handle per command (mini-redis's `run(..., shutdown)`): the command line
//! connects Ctrl-C and SIGTERM to it, a test triggers it itself, and everything below only
//! asks [`Shutdown::is_triggered`]. Triggering ends the running cell early (marked
//! interrupted) and starts no further cell; finished cells are already on disk.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[derive(Debug, Clone, Default)]
pub struct Shutdown(Arc<AtomicBool>);

impl Shutdown {
    /// A handle nothing triggers but [`Shutdown::trigger`].
    pub fn new() -> Shutdown {
        Shutdown::default()
    }

    /// A handle triggered by SIGINT (Ctrl-C) or SIGTERM, watched on `rt`.
    pub fn on_signals(rt: &tokio::runtime::Runtime) -> Shutdown {
        let shutdown = Shutdown::new();
        let flag = shutdown.clone();
        rt.spawn(async move {
            use tokio::signal::unix::{signal, SignalKind};
            let Ok(mut term) = signal(SignalKind::terminate()) else {
                return;
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            eprintln!("kbench: interrupted; finishing the current cell's files");
            flag.trigger();
        });
        shutdown
    }

    pub fn trigger(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_triggered(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}
