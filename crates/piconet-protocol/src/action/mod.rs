//! The actions, declared once: from the table below come [`Command`],
//! [`ACTIONS`] (the `list_actions` order), the name → parser dispatch and
//! the keys each action's answer adds. Each family's file parses its
//! actions' fields; the engine's `action` folder carries them out.

pub mod analog;
pub mod clients;
pub mod events;
pub mod gpio;
pub mod i2c;
pub mod pwm;
pub mod settings;
pub mod system;
pub mod update;

use crate::error::ProtocolError;
use crate::key::{Fields, Key, KeySet};

/// Longest action name quoted back in an "unknown action" error.
const MAX_QUOTED_ACTION: usize = 64;

fn unknown(action: &[u8]) -> ProtocolError<'_> {
    let quoted = crate::json::scalar::raw_str(action)
        .or(Some(action))
        .filter(|s| s.len() <= MAX_QUOTED_ACTION && !s.contains(&b'"'));
    ProtocolError::UnknownAction(quoted)
}

/// Declares every action: its wire names, its [`Command`] variant (with
/// the typed fields), the function that parses it from the request's
/// [`Fields`], the keys its successful answer adds and the role an
/// authenticated client needs to send it (`role Viewer`, `role Admin`, or
/// `role Operator[pin fields]`: `Operator[]` for an operator action whose
/// fields name no pin, which only an operator allowed every pin may send).
macro_rules! actions {
    ($(
        $(#[$doc:meta])*
        [$($name:literal),+]
        $variant:ident
        $( { $( $(#[$fdoc:meta])* $field:ident : $fty:ty ),* $(,)? } )?
        $( ( $ty:ty ) )?
        => $parse:path, adds [$($reply:ident),*], role $role:ident $([$($pin:ident),*])?;
    )*) => {
        /// A typed command, its fields parsed once and borrowed from the
        /// line.
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub enum Command<'a> {
            $(
                $(#[$doc])*
                $variant $( { $( $(#[$fdoc])* $field: $fty ),* } )? $( ($ty) )?,
            )*
        }

        /// The action names, in the order `list_actions` reports them.
        pub const ACTIONS: &[&str] = &[$($(crate::key::as_str($name)),+),*];

        impl Command<'_> {
            /// The keys this command's successful answer adds
            /// (`time_received` included): echoed members with these keys
            /// are left out so no key appears twice.
            #[inline(always)]
            pub const fn reply_keys(&self) -> KeySet {
                match self {
                    $( Command::$variant { .. } => KeySet::of_all(&[Key::TimeReceived $(, Key::$reply)*]), )*
                }
            }
        }

        impl Command<'_> {
            /// What an authenticated client needs to send this command.
            #[inline]
            pub fn requires(&self) -> clients::Requires {
                match self {
                    $( Command::$variant { $($($pin,)*)? .. } => actions!(@role $role $([$($pin),*])?), )*
                }
            }

            /// The action's (first) wire name.
            pub const fn name(&self) -> &'static str {
                match self {
                    $( Command::$variant { .. } => [$(crate::key::as_str($name)),+][0], )*
                }
            }
        }

        /// The command named by `action` (the raw `action` value) with
        /// its fields parsed.
        #[inline(always)]
        pub(crate) fn dispatch<'a>(
            action: &'a [u8],
            fields: &Fields<'a>,
        ) -> Result<Command<'a>, ProtocolError<'a>> {
            // Compared as sent (`raw_str` keeps escapes): no name holds a
            // backslash, so an escaped name matches none.
            match crate::json::scalar::raw_str(action).unwrap_or_default() {
                $( $($name)|+ => $parse(fields), )*
                _ => Err(unknown(action)),
            }
        }
    };
    (@role Operator [$($pin:ident),*]) => {
        clients::Requires::Operator(clients::PinUse::of(&[$(u32::from(*$pin)),*]))
    };
    (@role $role:ident) => {
        clients::Requires::$role
    };
}

// In `list_actions` order. Names are byte strings so the dispatch can
// match them as patterns; `ACTIONS` has them as text.
actions! {
    /// Configure a pin; an output's `value` (else its current level) is
    /// its safe state.
    [b"setup_pin"] SetupPin {
        /// GPIO number.
        pin: u32,
        /// What the pin becomes (a PWM pin's setting is its safe state).
        mode: gpio::PinMode,
        /// Level to drive (outputs).
        value: Option<gpio::Level>,
        /// Pull resistor; `None` when not given.
        pull: Option<gpio::Pull>,
    } => gpio::setup_pin, adds [], role Operator[pin];
    /// Drive an output for at most `timeout` seconds.
    [b"write_pin"] WritePin {
        /// GPIO number.
        pin: u32,
        /// Level to drive.
        value: gpio::Level,
        /// Seconds before the pin returns to its safe state, as sent
        /// (the engine checks its range).
        timeout: f64,
        /// The pin also returns to its safe state when the connection
        /// that wrote it ends (`"release_on_disconnect"`, default false).
        release_on_disconnect: bool,
    } => gpio::write_pin, adds [], role Operator[pin];
    /// Read a pin's level.
    [b"read_pin"] ReadPin {
        /// GPIO number.
        pin: u32,
    } => gpio::read_pin, adds [Value], role Viewer;
    /// Answer at once; measures round trips.
    [b"ping"] Ping => system::ping, adds [], role Viewer;
    /// Reset the board after answering.
    [b"reset"] Reset => system::reset, adds [], role Admin;
    /// Report the server version.
    [b"get_version"] GetVersion => system::get_version, adds [Version], role Viewer;
    /// Report board resources (`get_info`, also `get_resource_info`).
    [b"get_info", b"get_resource_info"] GetInfo => system::get_info, adds [Info], role Viewer;
    /// Sleep after answering.
    [b"sleep"] Sleep {
        /// Duration.
        time_ms: u32,
        /// Deep sleep (ends in a reset) rather than light sleep.
        deep: bool,
    } => system::sleep, adds [], role Admin;
    /// List the action names.
    [b"list_actions"] ListActions => system::list_actions, adds [Actions], role Viewer;
    /// The original's file-copy update (refused: see `UpdateBegin`).
    [b"update"] Update => update::update, adds [], role Admin;
    /// Start receiving a firmware image (restarts any upload under way).
    [b"update_begin"] UpdateBegin(update::Begin<'a>) => update::begin, adds [Update], role Admin;
    /// Image bytes at an offset.
    [b"update_chunk"] UpdateChunk(update::Chunk<'a>) => update::chunk, adds [Update], role Admin;
    /// Report the upload's progress and the running image.
    [b"update_status"] UpdateStatus => update::status, adds [Update], role Admin;
    /// Check the whole image, mark it for the bootloader, reset.
    [b"update_finish"] UpdateFinish => update::finish, adds [Update], role Admin;
    /// Store the WiFi network.
    [b"set_wifi"] SetWifi(settings::Wifi<'a>) => settings::set_wifi, adds [Config], role Admin;
    /// Store the TCP port the board serves on.
    [b"set_port"] SetPort {
        /// From 1.
        port: u16,
    } => settings::set_port, adds [Config], role Admin;
    /// Store the TLS identity.
    [b"set_tls"] SetTls(settings::Tls<'a>) => settings::set_tls, adds [Config], role Admin;
    /// Forget the TLS identity (plaintext from the next boot).
    [b"clear_tls"] ClearTls => settings::clear_tls, adds [Config], role Admin;
    /// Forget every stored setting.
    [b"clear_config"] ClearConfig => settings::clear_config, adds [Config], role Admin;
    /// Report the stored settings, secrets left out.
    [b"get_config"] GetConfig => settings::get_config, adds [Config], role Viewer;
    /// Report every configured pin: mode, level, safe level, lease.
    [b"get_pins"] GetPins => gpio::get_pins, adds [Pins], role Viewer;
    /// Send an event line for every edge on an input pin, to this
    /// connection, until `unwatch_pin` or the connection ends.
    [b"watch_pin"] WatchPin {
        /// GPIO number.
        pin: u32,
        /// Which edges are reported.
        edge: events::Edge,
        /// Edges less than this many milliseconds after the last one
        /// are ignored (0–1000).
        debounce_ms: u16,
    } => events::watch_pin, adds [], role Viewer;
    /// Stop this connection's watch of a pin.
    [b"unwatch_pin"] UnwatchPin {
        /// GPIO number.
        pin: u32,
    } => events::unwatch_pin, adds [], role Viewer;
    /// Simulated board only: set what the outside applies to a pin.
    [b"sim_input"] SimInput {
        /// GPIO number.
        pin: u32,
        /// The level applied.
        input: events::SimValue,
    } => events::sim_input, adds [], role Admin;
    /// Store the client list (the USB cable, or an admin once a list
    /// exists); an empty list turns client authentication off.
    [b"set_clients"] SetClients(clients::ClientList<'a>) => clients::set_clients, adds [Clients], role Admin;
    /// Report the client list.
    [b"get_clients"] GetClients => clients::get_clients, adds [Clients], role Viewer;
    /// Run a PWM pin at `duty` (and `frequency`) for at most `timeout`
    /// seconds; then it returns to its safe duty and frequency.
    [b"write_pwm"] WritePwm {
        /// GPIO number.
        pin: u32,
        /// Duty cycle, 0.0 to 1.0.
        duty: f32,
        /// New frequency in Hz; `None` keeps the running one.
        frequency: Option<u32>,
        /// Seconds before the pin returns to its safe state, as sent
        /// (the engine checks its range).
        timeout: f64,
        /// The pin also returns to its safe state when the connection
        /// that wrote it ends.
        release_on_disconnect: bool,
    } => pwm::write_pwm, adds [], role Operator[pin];
    /// Read an ADC pin: `raw` (0–4095) and `volts`.
    [b"read_adc"] ReadAdc {
        /// GPIO number.
        pin: u32,
    } => analog::read_adc, adds [Raw, Volts], role Viewer;
    /// Read the board's temperature sensor: `celsius`.
    [b"read_temperature"] ReadTemperature => analog::read_temperature, adds [Celsius], role Viewer;
    /// Set up an I2C bus on a pair of pins.
    [b"i2c_setup"] I2cSetup {
        /// Bus number, 0 or 1.
        bus: u8,
        /// Data pin.
        sda: u32,
        /// Clock pin.
        scl: u32,
        /// Clock in Hz.
        frequency: u32,
    } => i2c::i2c_setup, adds [], role Operator[sda, scl];
    /// Write bytes to a device.
    [b"i2c_write"] I2cWrite {
        /// Bus number.
        bus: u8,
        /// 7-bit device address.
        address: u8,
        /// The bytes.
        data: i2c::Bytes<'a>,
    } => i2c::i2c_write, adds [], role Operator[];
    /// Read bytes from a device: `data`.
    [b"i2c_read"] I2cRead {
        /// Bus number.
        bus: u8,
        /// 7-bit device address.
        address: u8,
        /// How many bytes, 1 to 256.
        count: u16,
    } => i2c::i2c_read, adds [Data], role Operator[];
    /// Write bytes, then read after a repeated start: `data`.
    [b"i2c_transfer"] I2cTransfer {
        /// Bus number.
        bus: u8,
        /// 7-bit device address.
        address: u8,
        /// The bytes written first.
        write: i2c::Bytes<'a>,
        /// How many bytes are read, 1 to 256.
        count: u16,
    } => i2c::i2c_transfer, adds [Data], role Operator[];
    /// Store the board's name, announced over mDNS as `NAME.local` (the
    /// USB cable only, like the other settings).
    [b"set_name"] SetName(settings::Name<'a>) => settings::set_name, adds [Config], role Admin;
    /// Store the WiFi chip's power mode (applied at the next boot).
    [b"set_radio_power"] SetRadioPower {
        /// How much power the radio saves, at what latency.
        mode: settings::RadioPower,
    } => settings::set_radio_power, adds [Config], role Admin;
}
