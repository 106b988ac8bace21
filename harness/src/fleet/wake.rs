//! Waiting for librdkafka events without spinning and without oversleeping.
//!
//! rdkafka's `BaseProducer::poll(t)` keeps polling until `t` has passed, even after an event,
//! and hands librdkafka a timeout in whole milliseconds, so any wait under 1 ms becomes a busy
//! loop. A paced producer waits sub-millisecond gaps all the time (5000 msg/s = 200 µs), so it
//! would burn a core and still wake late. Instead, librdkafka writes to an eventfd whenever its
//! main queue (delivery reports, errors) goes from empty to non-empty, and the producer thread
//! sleeps in `ppoll` on that fd with a nanosecond timeout: it wakes for the next send or the
//! next delivery report, whichever comes first.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use rdkafka::bindings as rd;
use rdkafka::client::Client;
use rdkafka::ClientContext;

/// The main queue of one librdkafka client, with an eventfd that signals new events.
pub struct QueueWaker {
    queue: *mut rd::rd_kafka_queue_t,
    fd: OwnedFd,
}

// The queue handle is reference-counted and thread-safe in librdkafka.
unsafe impl Send for QueueWaker {}

impl QueueWaker {
    /// Attach to `client`'s main queue. Drop the waker before the client.
    pub fn new<C: ClientContext>(client: &Client<C>) -> io::Result<QueueWaker> {
        // SAFETY: eventfd has no memory preconditions; the result is checked.
        let raw = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh fd that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: the client pointer is valid while `client` lives; get_main returns a new
        // reference that `Drop` releases. The payload is copied by librdkafka.
        let queue = unsafe { rd::rd_kafka_queue_get_main(client.native_ptr()) };
        let one: u64 = 1;
        unsafe {
            rd::rd_kafka_queue_io_event_enable(
                queue,
                raw,
                (&one as *const u64).cast(),
                std::mem::size_of::<u64>(),
            );
        }
        Ok(QueueWaker { queue, fd })
    }

    /// A handle another thread can use to wake this waker's `wait` early.
    pub fn notifier(&self) -> io::Result<Notifier> {
        Ok(Notifier(self.fd.try_clone()?))
    }

    /// Events waiting to be served by `poll`.
    pub fn pending(&self) -> usize {
        // SAFETY: `queue` is valid until drop.
        unsafe { rd::rd_kafka_queue_length(self.queue) }
    }

    /// Sleep until an event arrives or `timeout` passes (whichever is first).
    pub fn wait(&self, timeout: Duration) {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ts = libc::timespec {
            tv_sec: timeout.as_secs() as libc::time_t,
            tv_nsec: timeout.subsec_nanos() as libc::c_long,
        };
        // SAFETY: one valid pollfd, a valid timespec, no signal mask.
        let ready = unsafe { libc::ppoll(&mut pfd, 1, &ts, std::ptr::null()) };
        if ready > 0 {
            // Reset the eventfd counter; the queue itself is drained by the caller.
            let mut buf = 0u64;
            // SAFETY: reading 8 bytes into a u64 from a non-blocking eventfd.
            unsafe {
                libc::read(
                    self.fd.as_raw_fd(),
                    (&mut buf as *mut u64).cast(),
                    std::mem::size_of::<u64>(),
                )
            };
        }
    }
}

/// Wakes a [`QueueWaker::wait`] from another thread (the collector asking for an interval).
/// Harmless to librdkafka: it only ever adds to the eventfd's counter too.
#[derive(Debug)]
pub struct Notifier(OwnedFd);

impl Notifier {
    pub fn notify(&self) {
        let one: u64 = 1;
        // SAFETY: writing 8 bytes from a u64 to a non-blocking eventfd we own a copy of; a
        // full counter (EAGAIN) means a wake-up is pending anyway.
        unsafe {
            libc::write(
                self.0.as_raw_fd(),
                (&one as *const u64).cast(),
                std::mem::size_of::<u64>(),
            )
        };
    }
}

impl Drop for QueueWaker {
    fn drop(&mut self) {
        // SAFETY: detach the fd before it is closed, then release our queue reference.
        unsafe {
            rd::rd_kafka_queue_io_event_enable(self.queue, -1, std::ptr::null(), 0);
            rd::rd_kafka_queue_destroy(self.queue);
        }
    }
}
