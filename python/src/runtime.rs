//! The one tokio runtime every board of the process shares.

use std::sync::OnceLock;

use tokio::runtime::Runtime;

/// The runtime, started on first use. One worker drives the sockets and
/// timers; Python threads block on it with the GIL released.
pub(crate) fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("piconet-io")
            .enable_all()
            .build()
            .expect("the OS refused the threads of a one-worker tokio runtime")
    })
}
