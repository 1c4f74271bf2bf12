//! `piconetd`: the piconet server for Linux hosts.
//!
//! The same engine as the Pico W firmware, served over TCP (and TLS with
//! rustls) by tokio, driving either a simulated Pico W (the default, so
//! anyone can try piconet without hardware) or real pins through the Linux
//! GPIO character device.
//!
//! ```no_run
//! # async fn demo() -> Result<(), piconet_server::ServerError> {
//! use piconet_server::{BoardSpec, Server, ServerConfig};
//! let config = ServerConfig {
//!     listen: "127.0.0.1:0".parse().unwrap(),
//!     board: BoardSpec::Sim,
//!     ..ServerConfig::default()
//! };
//! let server = Server::bind(config).await?;
//! println!("listening on {}", server.local_addr());
//! server.run(async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```

mod admission;
pub mod announce;
mod boards;
pub mod clients;
mod clock;
mod connection;
pub mod edges;
mod event_lane;
mod fleet;
pub mod gpiochip;
#[cfg(test)]
mod gpiochip_e2e_tests;
mod host_board;
pub mod i2c_linux;
mod leases;
mod limits;
pub mod logging;
mod power;
pub mod pwm_sysfs;
mod server;
mod status_led;
mod thermal;
pub mod tls;

pub use boards::{BoardOpenError, BoardSpec, BoardSpecError, Peripherals};
pub use clients::{ClientsFileError, ClientsReloader};
pub use fleet::{Fleet, FleetError, MAX_FLEET};
pub use limits::Limits;
pub use server::{Server, ServerConfig, ServerError, ShutdownReport};
pub use tls::{TlsError, TlsFiles};
