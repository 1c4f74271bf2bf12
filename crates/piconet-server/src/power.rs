//! What `reset` and `sleep` do to a host board and its connections.
//!
//! A Pico W that resets or wakes from deep sleep has dropped every
//! connection and was unreachable while it slept; users test their
//! reconnect logic against the simulator expecting exactly that. So after
//! the reply to `reset` (or a deep sleep) piconetd closes every connection,
//! and during a deep sleep it refuses new ones (accepted and reset at once)
//! until the sleep time has passed. A light sleep keeps connections, as on
//! the board (it ends early when a command arrives).
//!
//! On a GPIO chip a reset releases the lines, and a released line may
//! keep the level it was last driven to. So every leased pin is first
//! driven to its safe level, as the lease would have done; only then are
//! the lines released.
//!
//! The engine side (safe levels first) is the connection's session
//! (`piconet_engine::session::Session::carry_out`); the connection side is
//! `Shared::connections_after`.
