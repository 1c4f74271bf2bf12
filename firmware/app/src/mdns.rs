//! The mDNS responder task: app-core's `mdns::run` on the WiFi stack,
//! announcing `_piconet._tcp` (PROTOCOL-NEXT.md, "Discovery").

use embassy_net::Stack;
use piconet_app_core::mdns::{self, Announcement, Buffers};
use static_cell::ConstStaticCell;

/// The socket's buffers (about 2.5 KB), static so the size report counts
/// them.
static BUFFERS: ConstStaticCell<Buffers> = ConstStaticCell::new(Buffers::new());

/// Answer mDNS queries for `ann` for as long as the board runs. A
/// responder that cannot start (port 5353 taken, the multicast table
/// full: both are build-time sizes) leaves the board unannounced but
/// serving.
#[embassy_executor::task]
pub async fn mdns_task(stack: Stack<'static>, ann: Announcement<'static>) -> ! {
    let bufs = BUFFERS.take();
    let Err(_) = mdns::run(stack, &ann, bufs).await;
    core::future::pending().await
}
