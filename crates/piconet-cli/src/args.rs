//! The command line.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, ArgGroup, Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use piconet_client::{Endpoint, KnownHosts, ServerAddr, TlsVerify, Value};

use crate::cmd::bench::BenchAction;
use crate::exit;
use crate::fields::parse_field;

const ABOUT: &str = "Control GPIO pins of a piconet server (piconetd, a Pico W, or the original piconetcontrol server)";

const LONG_ABOUT: &str = "\
Control GPIO pins of a piconet server (piconetd, a Pico W, or the original piconetcontrol \
server) over its JSON-lines protocol, plaintext or TLS.

ADDR is HOST, HOST:PORT, [IPv6] or [IPv6]:PORT; the port defaults to 12345. send, ping, \
info, version, actions, pins and update take --serial DEVICE instead to reach a board over \
its USB cable (e.g. /dev/ttyACM0; plaintext), and provision sets up a board's WiFi, port and \
TLS identity that way.

TLS (--tls) verifies the server: with --ca FILE against that CA or the server's own \
certificate (PEM or DER), otherwise by pinning its certificate's SHA-256 on first use in a \
known-hosts file (~/.config/piconet/known_hosts, or --known-hosts / PICONET_KNOWN_HOSTS) \
and refusing a changed one. --insecure skips verification, as the original client did.";

#[derive(Debug, Parser)]
#[command(name = "piconet", version, about = ABOUT, long_about = LONG_ABOUT, after_long_help = exit::TABLE)]
pub struct Cli {
    #[command(flatten)]
    pub connection: ConnectionArgs,

    /// Print machine-readable JSON instead of text (send always prints JSON lines).
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct ConnectionArgs {
    /// Speak TLS; the server is verified (see --ca, --known-hosts, --insecure).
    #[arg(long, global = true)]
    pub tls: bool,

    /// Trust the server if its certificate is this file's (PEM or DER) or is signed by it. Implies --tls.
    #[arg(long, global = true, value_name = "FILE", conflicts_with = "insecure")]
    pub ca: Option<PathBuf>,

    /// TLS without verifying the server, as the original client. Implies --tls.
    #[arg(long, global = true)]
    pub insecure: bool,

    /// Where first-use certificate pins are kept [default: ~/.config/piconet/known_hosts].
    #[arg(long, global = true, value_name = "FILE", env = "PICONET_KNOWN_HOSTS")]
    pub known_hosts: Option<PathBuf>,

    /// Seconds allowed to connect, and then for each command's answer.
    #[arg(long, global = true, value_name = "SECS", default_value = "3", value_parser = seconds)]
    pub timeout: Duration,

    /// Offer TLS 1.2 only. A Pico W resumes a TLS 1.2 session in 15 ms but a TLS 1.3 one in
    /// 482 ms (with rustls a TLS 1.3 resumption redoes the key exchange), so this pays off
    /// when one run opens several connections (update, bench); the client certificate then
    /// crosses the network in the clear. Implies --tls.
    #[arg(long, global = true)]
    pub tls12: bool,
}

/// The server of a command that also works over a board's USB cable.
#[derive(Debug, Args)]
pub struct Target {
    /// The server: HOST[:PORT], [IPv6]:PORT, or a board's NAME or NAME.local (found over mDNS, on its announced port).
    #[arg(required_unless_present = "serial", conflicts_with = "serial")]
    pub addr: Option<ServerAddr>,
    /// Reach the board over its USB serial port instead (e.g. /dev/ttyACM0); plaintext.
    #[arg(long, value_name = "DEVICE")]
    pub serial: Option<PathBuf>,
    #[command(flatten)]
    pub id: IdentityArgs,
}

/// The client certificate a network command presents to a board that
/// authenticates its clients (mutual TLS). Either implies --tls.
#[derive(Debug, Args, Default, Clone)]
pub struct IdentityArgs {
    /// Present this identity (piconet identity new NAME) to the board. Implies --tls.
    #[arg(long, global = true, value_name = "NAME", conflicts_with = "cert")]
    pub identity: Option<String>,
    /// Present this client certificate (PEM or DER), with --key. Implies --tls.
    #[arg(long, global = true, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// The client certificate's private key (PEM or DER).
    #[arg(long, global = true, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
}

impl IdentityArgs {
    /// True when a certificate is to be presented.
    pub fn given(&self) -> bool {
        self.identity.is_some() || self.cert.is_some()
    }
}

/// `piconet i2c ADDR ...`.
#[derive(Debug, Subcommand)]
pub enum I2cAction {
    /// List the addresses that answer (0x08-0x77, a 1-byte read each), as i2cdetect does.
    Scan,
    /// Read COUNT (1-256) bytes from the device at ADDRESS (0x50 or 80).
    Read {
        /// 7-bit device address, decimal or 0x hex.
        #[arg(value_parser = i2c_address)]
        address: u8,
        /// How many bytes.
        count: u16,
    },
    /// Write BYTES (1-256, decimal or 0x hex) to the device at ADDRESS.
    Write {
        /// 7-bit device address, decimal or 0x hex.
        #[arg(value_parser = i2c_address)]
        address: u8,
        /// The bytes.
        #[arg(required = true, value_parser = i2c_byte)]
        bytes: Vec<u8>,
    },
    /// Write BYTES, then read --count bytes after a repeated start (a register read).
    Transfer {
        /// 7-bit device address, decimal or 0x hex.
        #[arg(value_parser = i2c_address)]
        address: u8,
        /// Bytes to read (1-256).
        #[arg(long)]
        count: u16,
        /// The bytes written first.
        #[arg(required = true, value_parser = i2c_byte)]
        bytes: Vec<u8>,
    },
}

/// `piconet clients ADDR ...`.
#[derive(Debug, Subcommand)]
pub enum ClientsAction {
    /// Show the board's client list.
    List,
    /// Let a client in: an identity's NAME (piconet identity list) or a certificate file
    /// (PEM or DER, named by its file stem); replaces a client of that name or certificate.
    Allow {
        /// NAME or CERT.pem.
        who: String,
        /// viewer, operator or admin.
        #[arg(long, value_parser = role)]
        role: piconet_client::Role,
        /// The only pins an operator may set up and drive, e.g. 2,3,15 [default: all].
        #[arg(long, value_delimiter = ',', value_name = "PINS")]
        pins: Option<Vec<u32>>,
    },
    /// Remove a client: its next connection is refused.
    Revoke {
        /// The client's name on the board.
        name: String,
    },
}

/// `piconet identity ...`.
#[derive(Debug, Subcommand)]
pub enum IdentityAction {
    /// Make a client identity: an EC P-256 key (mode 0600) and a self-signed
    /// certificate, next to the known-hosts file; prints its SHA-256 fingerprint.
    New {
        /// Its name (1-32 of A-Z a-z 0-9 . _ -), also its name on boards.
        name: String,
    },
    /// List the identities and their fingerprints.
    List,
}

/// `--role`.
fn role(s: &str) -> Result<piconet_client::Role, String> {
    piconet_client::Role::from_name(s)
        .ok_or_else(|| format!("{s:?}: use viewer, operator or admin"))
}

impl Target {
    pub fn endpoint(&self) -> Endpoint {
        match (&self.addr, &self.serial) {
            (_, Some(path)) => Endpoint::Serial(path.clone()),
            (Some(addr), None) => Endpoint::Tcp(addr.clone()),
            (None, None) => unreachable!("clap requires ADDR or --serial"),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Send commands over one connection and print each JSON answer on its own line.
    ///
    /// Example: piconet send 192.168.1.50 -c action=setup_pin pin=2 mode=output value=0
    /// -c action=write_pin pin=2 value=1 timeout=5 -c action=read_pin pin=2
    ///
    /// Values: integers and decimals become JSON numbers, true/false booleans, anything
    /// else a string. To send a string that looks like a number or a boolean, quote it
    /// (KEY="'1234'" in a shell, or KEY=str:1234). Exits 1 if any answer carries an error.
    ///
    /// With --stdin the commands come from standard input instead, one per line (KEY=VALUE
    /// words or a JSON object; blank lines and lines starting with # are skipped), over one
    /// connection kept open until end of input: a script pays for one TLS handshake, not
    /// one per command. Example: coproc P { piconet send 192.168.1.50 --stdin; }
    Send {
        #[command(flatten)]
        target: Target,
        /// Read the commands from standard input, one per line, until end of input. The
        /// connection is pinged while the input is quiet, so the board's idle timeout does
        /// not close it.
        #[arg(long, conflicts_with = WORDS)]
        stdin: bool,
        /// Add "release_on_disconnect": true to every write_pin: its pin also returns to
        /// its safe level when this connection ends (piconetd and the firmware; at the
        /// latest after the send's last answer).
        #[arg(long)]
        release_on_disconnect: bool,
        /// One command as KEY=VALUE words; repeat -c for more commands.
        #[arg(
            id = WORDS,
            short = 'c',
            long = "command",
            value_name = "KEY=VALUE",
            num_args = 1..,
            required_unless_present = "stdin",
            action = ArgAction::Append,
            value_parser = parse_field,
        )]
        words: Vec<(String, Value)>,
        /// The words grouped by `-c`, filled by [`Cli::try_parse_args`]: clap's
        /// derive only groups occurrences (`Vec<Vec<_>>`) behind an unstable feature.
        #[arg(skip)]
        commands: Vec<Vec<(String, Value)>>,
    },
    /// Ping the server N times over one connection and show round-trip times.
    Ping {
        #[command(flatten)]
        target: Target,
        /// How many pings.
        #[arg(short = 'n', long = "count", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        count: u32,
    },
    /// Show what the server reports about itself (board name, versions, uptime...).
    Info {
        #[command(flatten)]
        target: Target,
    },
    /// Read the board's temperature in degrees Celsius (read_temperature).
    ///
    /// The RP2040's internal sensor; piconetd on Linux: the CPU thermal zone; the
    /// simulated board: 27.0. --json prints {"celsius": ...}.
    Temp {
        #[command(flatten)]
        target: Target,
    },
    /// Read an ADC pin: raw (0-4095) and volts (read_adc).
    ///
    /// A pin not yet set up as "adc" is set up first (GPIO 26-28 on a Pico W).
    /// --json prints {"pin": ..., "raw": ..., "volts": ...}.
    Adc {
        #[command(flatten)]
        target: Target,
        /// GPIO number (required; an operand after ADDR, which --serial replaces).
        pin: Option<u32>,
    },
    /// Run a PWM pin at DUTY (0.0-1.0) for --timeout seconds (write_pwm).
    ///
    /// Then the board puts the pin's safe duty and frequency back. A pin not yet set
    /// up as "pwm" is set up first with safe duty 0.0 at --frequency (default 1000
    /// Hz). --json prints the server's answer.
    Pwm {
        #[command(flatten)]
        target: Target,
        /// GPIO number (required).
        pin: Option<u32>,
        /// Duty cycle, 0.0 (always low) to 1.0 (always high) (required).
        duty: Option<f64>,
        /// Seconds the duty holds (more than 0, at most 86400 and the board's longest
        /// lease); also the time allowed for the answers.
        #[arg(long, value_name = "SECS", required = true, value_parser = seconds)]
        timeout: Duration,
        /// Frequency in Hz (10-1000000); without it the pin keeps its own.
        #[arg(long)]
        frequency: Option<u32>,
    },
    /// Show the server software's version.
    Version {
        #[command(flatten)]
        target: Target,
    },
    /// List the actions the server knows.
    Actions {
        #[command(flatten)]
        target: Target,
    },
    /// Show every configured pin: mode, level, safe level, remaining lease (get_pins).
    ///
    /// A table, one pin a line in pin order; --json prints the server's pins array.
    /// Needs a server with get_pins (piconetd, the piconet firmware).
    Pins {
        #[command(flatten)]
        target: Target,
    },
    /// Print one line per edge on input pins until Ctrl-C (watch_pin).
    ///
    /// Each PIN must be set up as an input (piconet setup, or piconet send). A line per
    /// event: the pin, its level, the board's time in µs and the seq; lost edges are
    /// reported as "overflow" lines that count them. --json prints the server's event
    /// lines. Needs a server with watch_pin (piconetd, the piconet firmware). With
    /// --serial DEVICE the pins follow directly (the board's USB cable). A server closes
    /// a connection that sends nothing and gets no event for its idle timeout (300 s by
    /// default): the watch sends a ping after 60 s without a line, so it lasts.
    Watch {
        /// The server (HOST[:PORT], [IPv6]:PORT, or a board's NAME or NAME.local, found over
        /// mDNS on its announced port), then the input pins to watch; with --serial, only
        /// the pins.
        #[arg(value_name = "ADDR PIN", num_args = 1.., required = true)]
        operands: Vec<String>,
        #[command(flatten)]
        id: IdentityArgs,
        /// Reach the board over its USB serial port instead (e.g. /dev/ttyACM0); plaintext.
        #[arg(long, value_name = "DEVICE")]
        serial: Option<PathBuf>,
        /// Where the watch goes, from the operands and --serial.
        #[arg(skip)]
        target: Option<Endpoint>,
        /// The input pins to watch, from the operands.
        #[arg(skip)]
        pins: Vec<u32>,
        /// Which edges: rising, falling or both.
        #[arg(long, default_value = "both", value_parser = edge)]
        edge: piconet_client::Edge,
        /// Ignore edges this many milliseconds after the last one (0-1000).
        #[arg(long, value_name = "MS", default_value_t = 0, value_parser = clap::value_parser!(u16).range(0..=1000))]
        debounce_ms: u16,
        /// Exit after this many event lines (default: until Ctrl-C).
        #[arg(long, value_name = "N")]
        count: Option<u64>,
    },
    /// Load a server and measure it: commands per second and latency percentiles.
    ///
    /// N connections each send commands in a closed loop (with --pipeline K: K commands
    /// in one write, then their K answers) for the warm-up, unrecorded, then for the
    /// duration. read_pin and write_pin first set up one pin per connection as an output
    /// at 0 (pins 0-22 and 26-28 in turn); write_pin alternates 1 and 0 with a 60 s
    /// timeout. Answers with an error are counted as errors, not as commands; any error
    /// or broken connection exits 1 after the report.
    Bench {
        /// The server: HOST[:PORT], [IPv6]:PORT, or a board's NAME or NAME.local (found over mDNS, on its announced port).
        addr: ServerAddr,
        #[command(flatten)]
        id: IdentityArgs,
        /// Simultaneous connections.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        connections: u32,
        /// Seconds measured, after the warm-up.
        #[arg(long, value_name = "SECS", default_value = "5", value_parser = bench_seconds)]
        duration: Duration,
        /// The command repeated.
        #[arg(long, value_enum, default_value_t = BenchAction::Ping)]
        action: BenchAction,
        /// Commands written at once per connection before reading their answers.
        #[arg(long, value_name = "K", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1024))]
        pipeline: u32,
        /// Seconds of load before measuring.
        #[arg(long, value_name = "SECS", default_value = "1", value_parser = bench_warmup)]
        warmup: Duration,
    },
    /// Update the board's firmware with a signed image (from piconet firmware sign).
    ///
    /// Resumes an interrupted upload, waits for the board to restart through its
    /// bootloader and checks that the new version runs; exits 1 if the board rolled
    /// back to its previous image. Over the USB cable: piconet update --serial DEVICE IMAGE.
    Update {
        /// The server (HOST[:PORT] or [IPv6]:PORT), then the firmware image (a raw .bin
        /// for the board's update slot); with --serial, only the image.
        #[arg(value_name = "ADDR IMAGE", num_args = 1..=2, required = true)]
        operands: Vec<String>,
        /// Reach the board over its USB serial port instead (e.g. /dev/ttyACM0); plaintext.
        #[arg(long, value_name = "DEVICE")]
        serial: Option<PathBuf>,
        /// Where the update goes, from the operands and --serial.
        #[arg(skip)]
        target: Option<Endpoint>,
        /// The image, from the operands.
        #[arg(skip)]
        image: PathBuf,
        /// The signature file; default IMAGE.sig.
        #[arg(long)]
        sig: Option<PathBuf>,
        /// Seconds to wait for the board to come back after its restart.
        #[arg(long, value_name = "SECS", default_value = "60", value_parser = wait_seconds)]
        wait: Duration,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
        /// Install an image older than the one the board runs (refused otherwise).
        #[arg(long)]
        allow_downgrade: bool,
        #[command(flatten)]
        id: IdentityArgs,
    },
    /// Show or change a board's client list, as an admin over the network.
    ///
    /// A board with a client list lets in only the certificates on it (mutual TLS) and
    /// lets each do what its role allows: viewer reads, operator also sets up and drives
    /// its pins, admin everything. Give the board its first list over USB (piconet
    /// provision --allow NAME --role admin); then an admin may change it here.
    Clients {
        /// The server: HOST[:PORT] or [IPv6]:PORT.
        addr: ServerAddr,
        #[command(flatten)]
        id: IdentityArgs,
        #[command(subcommand)]
        action: ClientsAction,
    },
    /// Talk to I2C devices: scan, read, write, transfer (i2c_setup, i2c_read, ...).
    ///
    /// The bus (--bus, default 0) is set up first on --sda/--scl (default: GPIO 4/5 for
    /// bus 0, 6/7 for bus 1) at --frequency Hz when the board has it on no pins yet.
    /// --json prints {"bus", "addresses"} for scan and {"data": [...]} for reads.
    I2c {
        /// The server: HOST[:PORT] or [IPv6]:PORT.
        addr: ServerAddr,
        #[command(flatten)]
        id: IdentityArgs,
        /// Bus number, 0 or 1.
        #[arg(long, default_value = "0")]
        bus: u8,
        /// Data pin, when the bus is set up.
        #[arg(long)]
        sda: Option<u32>,
        /// Clock pin, when the bus is set up.
        #[arg(long)]
        scl: Option<u32>,
        /// Bus clock in Hz (10000-1000000), when the bus is set up.
        #[arg(long, default_value = "100000")]
        frequency: u32,
        #[command(subcommand)]
        action: I2cAction,
    },
    /// Make and list this computer's client identities (certificates for mutual TLS).
    Identity {
        #[command(subcommand)]
        action: IdentityAction,
    },
    /// Set up a board over its USB cable: WiFi, port, TLS identity.
    ///
    /// Finds the board (USB 1209:0001, "piconet Pico W") unless --port names its serial
    /// port, stores the settings given, reads the configuration back and prints it with
    /// the TLS certificate's SHA-256 fingerprint, the one clients pin. The password is
    /// read from a file, never from the command line, and never printed. Settings apply
    /// at the board's next reset (--reset does it). Without settings: shows the
    /// board's configuration.
    ///
    /// Example: piconet provision --ssid garden --password-file wifi.txt --generate-cert
    /// --san 192.168.1.50 --reset
    Provision(ProvisionArgs),
    /// List the boards on the local network (mDNS/DNS-SD, _piconet._tcp).
    ///
    /// Browses for --timeout seconds, then prints one board a line: name, addresses,
    /// port, version, auth and TLS certificate fingerprint (the TXT records the board
    /// announces); --json prints an array of objects. No board found: an empty list
    /// and exit 0.
    Discover {
        /// Seconds to listen for answers (more than 0, at most 60).
        #[arg(long, value_name = "SECS", default_value = "3", value_parser = discover_seconds)]
        timeout: Duration,
    },
    /// Make update signing keys and sign firmware images.
    Firmware {
        #[command(subcommand)]
        action: FirmwareAction,
    },
}

/// `piconet firmware ...`.
#[derive(Debug, Subcommand)]
pub enum FirmwareAction {
    /// Make an ed25519 key pair: the secret key goes to --out (mode 0600), the
    /// public key is printed for the firmware build.
    Keygen {
        /// Where to write the secret key (never overwritten).
        #[arg(long)]
        out: PathBuf,
    },
    /// Sign an image: writes IMAGE.sig (size, SHA-256, ed25519 signature of the
    /// image's SHA-512 digest, version).
    Sign {
        /// The secret key file from piconet firmware keygen.
        #[arg(long)]
        key: PathBuf,
        /// The firmware image.
        image: PathBuf,
        /// The image's version, checked after the update. It must be the version built
        /// into the image; without it, a simulated image's own is recorded.
        #[arg(long)]
        version: Option<String>,
        /// The signature file; default IMAGE.sig.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// `piconet provision ...`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("wifi_secret").args(["password_file", "open"])))]
#[command(group(ArgGroup::new("identity").args(["generate_cert", "cert"])))]
pub struct ProvisionArgs {
    /// The board's serial port [default: the one USB board running piconet].
    #[arg(long, value_name = "DEVICE")]
    pub port: Option<PathBuf>,
    /// The WiFi network to join (1-32 bytes); needs --password-file or --open.
    #[arg(long, value_name = "NAME", requires = "wifi_secret")]
    pub ssid: Option<String>,
    /// A file whose content is the WiFi password (8-64 bytes; one trailing newline is dropped).
    #[arg(long, value_name = "FILE", requires = "ssid", conflicts_with = "open")]
    pub password_file: Option<PathBuf>,
    /// The WiFi network has no password.
    #[arg(long, requires = "ssid")]
    pub open: bool,
    /// The TCP port the board listens on.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub port_number: Option<u16>,
    /// The board's name, announced over mDNS as NAME.local (1-32 of a-z, 0-9 and -)
    /// [default on the board: piconet-XXXX from its id].
    #[arg(long, value_name = "NAME", value_parser = board_name)]
    pub name: Option<String>,
    /// How much power the board's WiFi chip saves while awake: none (the default: the lowest
    /// latency), performance, power_save (much less current, up to ~200 ms added per packet)
    /// or aggressive (the least current, the most latency).
    #[arg(long, value_name = "MODE", value_parser = radio_power)]
    pub radio_power: Option<piconet_client::protocol::provision::RadioPower>,
    /// Make a new EC P-256 TLS identity here and store it on the board (the key leaves
    /// this computer only for the board); the certificate is written for --ca.
    #[arg(long, conflicts_with = "clear_tls")]
    pub generate_cert: bool,
    /// A name (DNS or IP address) for the generated certificate, besides piconet.local; repeat for more.
    #[arg(long, value_name = "NAME", requires = "generate_cert")]
    pub san: Vec<String>,
    /// The directory the generated certificate goes to, as NAME.pem (NAME: the first --san, else piconet.local) [default: .].
    #[arg(long, value_name = "DIR", requires = "generate_cert")]
    pub cert_out: Option<PathBuf>,
    /// Store this certificate (PEM or DER) as the board's TLS identity, with --key.
    #[arg(
        long,
        value_name = "FILE",
        requires = "key",
        conflicts_with = "clear_tls"
    )]
    pub cert: Option<PathBuf>,
    /// The certificate's private key (PEM or DER; PKCS#8 or SEC1, EC).
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    /// Forget the board's TLS identity: plaintext from its next boot.
    #[arg(long)]
    pub clear_tls: bool,
    /// Pin the new certificate for the board's network address in the known-hosts file
    /// (HOST or HOST:PORT; the port defaults to the board's).
    #[arg(long, value_name = "HOST[:PORT]", requires = "identity")]
    pub pin: Option<String>,
    /// Reset the board at the end, so the settings apply now.
    #[arg(long)]
    pub reset: bool,
    /// Add a client to the board's list: an identity's NAME or a certificate file; with --role.
    #[arg(
        long,
        value_name = "NAME|CERT",
        requires = "role",
        conflicts_with = "revoke"
    )]
    pub allow: Option<String>,
    /// The allowed client's role: viewer, operator or admin.
    #[arg(long, value_parser = role, requires = "allow")]
    pub role: Option<piconet_client::Role>,
    /// The only pins the allowed operator may drive, e.g. 2,3 [default: all].
    #[arg(long, value_delimiter = ',', value_name = "PINS", requires = "allow")]
    pub pins: Option<Vec<u32>>,
    /// Remove a client from the board's list.
    #[arg(long, value_name = "NAME")]
    pub revoke: Option<String>,
}

/// `--name`: checked here, as the board checks it.
fn board_name(s: &str) -> Result<String, String> {
    use piconet_client::protocol::provision::{is_board_name, MAX_NAME};
    if is_board_name(s) {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "{s:?} is not a board name: use 1 to {MAX_NAME} of a-z, 0-9 and - (it becomes NAME.local)"
        ))
    }
}

const WORDS: &str = "words";

/// The connection options, which `firmware` (local files only) neither shows nor takes.
const NETWORK_ARGS: [&str; 6] = ["tls", "ca", "insecure", "known_hosts", "timeout", "tls12"];

impl Cli {
    /// The clap command with the connection options hidden from `firmware` and
    /// its subcommands: each gets hidden copies of them, so clap does not
    /// copy the visible global ones in (it skips an id a subcommand has).
    fn command_for_help() -> clap::Command {
        let cmd = Self::command();
        let hidden: Vec<clap::Arg> = cmd
            .get_arguments()
            .filter(|a| NETWORK_ARGS.contains(&a.get_id().as_str()))
            .map(|a| a.clone().global(false).hide(true))
            .collect();
        let with_hidden = |c: clap::Command| c.args(hidden.iter().cloned());
        cmd.mut_subcommand("firmware", |firmware| {
            let names: Vec<String> = firmware
                .get_subcommands()
                .map(|c| c.get_name().to_owned())
                .collect();
            let mut firmware = with_hidden(firmware);
            for name in names {
                firmware = firmware.mut_subcommand(name, with_hidden);
            }
            firmware
        })
    }
}

impl Cli {
    /// Parses a command line, `-c` words grouped per command.
    pub fn try_parse_args<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let matches = Self::command_for_help().try_get_matches_from(args)?;
        if let Some(("firmware", firmware)) = matches.subcommand() {
            let action = firmware.subcommand().map(|(_, m)| m);
            let given = NETWORK_ARGS.iter().find(|id| {
                [Some(firmware), action]
                    .into_iter()
                    .flatten()
                    .any(|m| m.value_source(id) == Some(clap::parser::ValueSource::CommandLine))
            });
            if let Some(id) = given {
                return Err(Self::command().error(
                    clap::error::ErrorKind::ArgumentConflict,
                    format!(
                        "--{} has no meaning for piconet firmware: it works on local files only",
                        id.replace('_', "-")
                    ),
                ));
            }
        }
        let mut cli = Self::from_arg_matches(&matches)?;
        if let Command::Update {
            operands,
            serial,
            target,
            image,
            ..
        } = &mut cli.command
        {
            // An optional ADDR before the required IMAGE is beyond clap's
            // positionals: the operands are sorted out here.
            let usage =
                |m: &str| Self::command().error(clap::error::ErrorKind::ArgumentConflict, m);
            let file = match (operands.as_slice(), serial) {
                ([addr, file], None) => {
                    let addr: ServerAddr = addr.parse().map_err(|e| {
                        Self::command().error(clap::error::ErrorKind::ValueValidation, e)
                    })?;
                    *target = Some(Endpoint::Tcp(addr));
                    file
                }
                ([file], Some(dev)) => {
                    *target = Some(Endpoint::Serial(dev.clone()));
                    file
                }
                ([_], None) => {
                    return Err(usage(
                        "give the board's address before the image, or --serial DEVICE",
                    ))
                }
                _ => {
                    return Err(usage(
                        "give the board's address or --serial DEVICE, not both",
                    ))
                }
            };
            *image = PathBuf::from(file);
        }
        if let Command::Watch {
            operands,
            serial,
            target,
            pins,
            ..
        } = &mut cli.command
        {
            // An optional ADDR before the pins, as for update.
            let (endpoint, words) = match (operands.split_first(), serial) {
                (_, Some(dev)) => (Endpoint::Serial(dev.clone()), &operands[..]),
                (Some((addr, rest)), None) => {
                    let addr: ServerAddr = addr.parse().map_err(|e| {
                        Self::command().error(clap::error::ErrorKind::ValueValidation, e)
                    })?;
                    (Endpoint::Tcp(addr), rest)
                }
                (None, None) => unreachable!("clap requires one operand"),
            };
            if words.is_empty() {
                return Err(Self::command().error(
                    clap::error::ErrorKind::MissingRequiredArgument,
                    "give the pins to watch after the board's address (or after --serial DEVICE)",
                ));
            }
            *pins = words
                .iter()
                .map(|w| {
                    w.parse::<u32>().map_err(|_| {
                        Self::command().error(
                            clap::error::ErrorKind::ValueValidation,
                            format!("'{w}' is not a pin number"),
                        )
                    })
                })
                .collect::<Result<_, _>>()?;
            *target = Some(endpoint);
        }
        if let (Command::Send { commands, .. }, Some(("send", sub))) =
            (&mut cli.command, matches.subcommand())
        {
            *commands = sub
                .get_occurrences::<(String, Value)>(WORDS)
                .map(|groups| groups.map(|words| words.cloned().collect()).collect())
                .unwrap_or_default();
        }
        Ok(cli)
    }
}

impl Command {
    /// Where the command goes.
    pub fn endpoint(&self) -> Endpoint {
        match self {
            Command::Send { target, .. }
            | Command::Ping { target, .. }
            | Command::Info { target }
            | Command::Version { target }
            | Command::Actions { target }
            | Command::Temp { target }
            | Command::Adc { target, .. }
            | Command::Pwm { target, .. }
            | Command::Pins { target } => target.endpoint(),
            Command::Bench { addr, .. }
            | Command::Clients { addr, .. }
            | Command::I2c { addr, .. } => Endpoint::Tcp(addr.clone()),
            Command::Watch { target, .. } => target
                .clone()
                .unwrap_or_else(|| unreachable!("try_parse_args sets the watch's target")),
            Command::Update { target, .. } => target
                .clone()
                .unwrap_or_else(|| unreachable!("try_parse_args sets the update's target")),
            Command::Firmware { .. }
            | Command::Provision(_)
            | Command::Discover { .. }
            | Command::Identity { .. } => {
                unreachable!(
                    "run() answers firmware, provision, identity and discover before building a client"
                )
            }
        }
    }

    /// The client certificate options, on a network command.
    pub fn identity(&self) -> Option<&IdentityArgs> {
        match self {
            Command::Send { target, .. }
            | Command::Ping { target, .. }
            | Command::Info { target }
            | Command::Version { target }
            | Command::Actions { target }
            | Command::Temp { target }
            | Command::Adc { target, .. }
            | Command::Pwm { target, .. }
            | Command::Pins { target } => Some(&target.id),
            Command::Watch { id, .. }
            | Command::Bench { id, .. }
            | Command::Update { id, .. }
            | Command::Clients { id, .. }
            | Command::I2c { id, .. } => Some(id),
            Command::Provision(_)
            | Command::Firmware { .. }
            | Command::Identity { .. }
            | Command::Discover { .. } => None,
        }
    }

    /// The serial port given with --serial, if any.
    pub fn serial(&self) -> Option<&PathBuf> {
        match self {
            Command::Send { target, .. }
            | Command::Ping { target, .. }
            | Command::Info { target }
            | Command::Version { target }
            | Command::Actions { target }
            | Command::Pins { target } => target.serial.as_ref(),
            Command::Update { serial, .. } | Command::Watch { serial, .. } => serial.as_ref(),
            _ => None,
        }
    }
}

impl ConnectionArgs {
    /// How TLS verifies the server, or `None` for plaintext.
    pub fn tls(&self) -> Result<Option<TlsVerify>, piconet_client::Error> {
        Ok(if self.insecure {
            Some(TlsVerify::Insecure)
        } else if let Some(ca) = &self.ca {
            Some(TlsVerify::CaFile(ca.clone()))
        } else if self.tls || self.tls12 {
            let path = match &self.known_hosts {
                Some(path) => path.clone(),
                None => KnownHosts::default_path()?,
            };
            Some(TlsVerify::KnownHosts(path))
        } else {
            None
        })
    }
}

/// A number of seconds, decimals allowed, more than 0 and at most 86400.
fn seconds(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if !(secs > 0.0 && secs <= 86_400.0) {
        return Err("it must be more than 0 and at most 86400 seconds".into());
    }
    Ok(Duration::from_secs_f64(secs))
}

fn i2c_address(text: &str) -> Result<u8, String> {
    let v = number(text)?;
    u8::try_from(v)
        .ok()
        .filter(|&a| a <= 127)
        .ok_or_else(|| format!("{text:?} is not a 7-bit address (0-127, 0x00-0x7f)"))
}

fn i2c_byte(text: &str) -> Result<u8, String> {
    u8::try_from(number(text)?).map_err(|_| format!("{text:?} is not a byte (0-255)"))
}

/// A decimal or `0x` hex number.
fn number(text: &str) -> Result<u64, String> {
    match text.strip_prefix("0x").or(text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    }
    .map_err(|_| format!("{text:?} is not a number (decimal or 0x hex)"))
}

fn wait_seconds(text: &str) -> Result<Duration, String> {
    seconds(text)
}

fn discover_seconds(text: &str) -> Result<Duration, String> {
    let d = seconds(text)?;
    if d > piconet_client::discover::MAX_BROWSE {
        return Err("discover listens at most 60 seconds".into());
    }
    Ok(d)
}

fn bench_seconds(text: &str) -> Result<Duration, String> {
    let d = seconds(text)?;
    if d > Duration::from_secs(3600) {
        return Err("a benchmark runs at most 3600 seconds".into());
    }
    Ok(d)
}

fn bench_warmup(text: &str) -> Result<Duration, String> {
    if text.parse::<f64>() == Ok(0.0) {
        return Ok(Duration::ZERO);
    }
    bench_seconds(text)
}

/// `--edge`: the wire words.
fn edge(s: &str) -> Result<piconet_client::Edge, String> {
    use piconet_client::Edge;
    match s {
        "rising" => Ok(Edge::Rising),
        "falling" => Ok(Edge::Falling),
        "both" => Ok(Edge::Both),
        _ => Err(format!("{s:?}: use rising, falling or both")),
    }
}

/// A `--radio-power` mode, by its wire name.
fn radio_power(text: &str) -> Result<piconet_client::protocol::provision::RadioPower, String> {
    use piconet_client::protocol::provision::RadioPower;
    RadioPower::from_name(text.as_bytes()).ok_or_else(|| {
        let names: Vec<&str> = RadioPower::ALL.iter().map(|m| m.as_str()).collect();
        format!(
            "{text:?} is not a radio power mode: use {}",
            names.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_args(std::iter::once("piconet").chain(args.iter().copied()))
    }

    #[test]
    fn the_definition_is_consistent() {
        Cli::command().debug_assert();
        Cli::command_for_help().debug_assert();
    }

    #[test]
    fn firmware_neither_shows_nor_takes_network_options() {
        let mut cmd = Cli::command_for_help();
        cmd.build();
        let firmware = cmd.find_subcommand_mut("firmware").unwrap();
        let own = firmware.render_long_help().to_string();
        let sign = firmware
            .find_subcommand_mut("sign")
            .unwrap()
            .render_long_help()
            .to_string();
        assert!(sign.contains("--key"), "{sign}");
        for help in [&own, &sign] {
            for flag in ["--tls", "--ca", "--insecure", "--known-hosts", "--timeout"] {
                assert!(!help.contains(flag), "{flag} in:\n{help}");
            }
            assert!(help.contains("--json"), "{help}");
        }
        for flag in ["--tls", "--insecure"] {
            let e = parse(&["firmware", "keygen", "--out", "k", flag]).unwrap_err();
            assert!(e.to_string().contains("has no meaning"), "{e}");
        }
        let e = parse(&["firmware", "--timeout", "5", "keygen", "--out", "k"]).unwrap_err();
        assert!(e.to_string().contains("--timeout has no meaning"), "{e}");
        let e = parse(&["--ca", "c.pem", "firmware", "sign", "--key", "k", "i"]).unwrap_err();
        assert!(e.to_string().contains("--ca has no meaning"), "{e}");
        let ok = parse(&["firmware", "keygen", "--out", "k", "--json"]).unwrap();
        assert!(ok.json);
        // Elsewhere they stay, before or after the subcommand.
        let tls = |args: &[&str]| parse(args).unwrap().connection.tls().unwrap();
        assert_eq!(
            tls(&["--insecure", "version", "h"]),
            Some(TlsVerify::Insecure)
        );
        assert_eq!(
            tls(&["version", "h", "--insecure"]),
            Some(TlsVerify::Insecure)
        );
        assert!(
            matches!(
                tls(&["--tls12", "version", "h"]),
                Some(TlsVerify::KnownHosts(_))
            ),
            "--tls12 implies --tls"
        );
        assert!(
            parse(&["--tls12", "--insecure", "version", "h"])
                .unwrap()
                .connection
                .tls12
        );
    }

    #[test]
    fn send_takes_stdin_or_commands_but_not_both_nor_neither() {
        let cli = parse(&["send", "127.0.0.1", "--stdin"]).unwrap();
        assert!(matches!(cli.command, Command::Send { stdin: true, .. }));
        assert!(parse(&["send", "127.0.0.1", "--stdin", "-c", "action=ping"]).is_err());
        assert!(parse(&["send", "127.0.0.1"]).is_err());
    }

    #[test]
    fn send_groups_words_by_dash_c() {
        let cli = parse(&[
            "send",
            "127.0.0.1",
            "-c",
            "action=setup_pin",
            "pin=2",
            "mode=output",
            "value=0",
            "-c",
            "action=read_pin",
            "pin=2",
        ])
        .unwrap();
        assert_eq!(cli.command.endpoint().to_string(), "127.0.0.1:12345");
        let Command::Send { commands, .. } = cli.command else {
            panic!("not send");
        };
        assert_eq!(commands.len(), 2);
        assert_eq!(commands[0][1], ("pin".into(), json!(2)));
        assert_eq!(commands[0][2], ("mode".into(), json!("output")));
        assert_eq!(
            commands[1],
            vec![
                ("action".into(), json!("read_pin")),
                ("pin".into(), json!(2))
            ]
        );
    }

    #[test]
    fn discover_listens_more_than_0_and_at_most_60_seconds() {
        let timeout = |t: &str| match parse(&["discover", "--timeout", t]).map(|c| c.command) {
            Ok(Command::Discover { timeout }) => Ok(timeout),
            Ok(_) => panic!("not discover"),
            Err(e) => Err(e.to_string()),
        };
        assert_eq!(timeout("0.5").unwrap(), Duration::from_millis(500));
        assert_eq!(timeout("60").unwrap(), Duration::from_secs(60));
        assert!(timeout("61").unwrap_err().contains("at most 60"));
        assert!(timeout("0").unwrap_err().contains("more than 0"));
        match parse(&["--json", "discover"]).unwrap() {
            Cli {
                json: true,
                command: Command::Discover { timeout },
                ..
            } => assert_eq!(timeout, Duration::from_secs(3)),
            _ => panic!("discover with its default"),
        }
    }

    #[test]
    fn addresses_take_ports_and_ipv6_brackets() {
        let addr = |a: &str| parse(&["version", a]).map(|c| c.command.endpoint().to_string());
        assert_eq!(addr("pico:4000").unwrap(), "pico:4000");
        assert_eq!(addr("[::1]:4000").unwrap(), "[::1]:4000");
        assert_eq!(addr("::1").unwrap(), "[::1]:12345");
        assert_eq!(
            addr("pico:x").unwrap_err().kind(),
            clap::error::ErrorKind::ValueValidation
        );
    }

    #[test]
    fn usage_mistakes_are_clap_errors() {
        for args in [
            &["send", "h"][..],
            &["send", "h", "-c", "pin"],
            &["ping", "h", "-n", "0"],
            &["version", "h", "--timeout", "0"],
            &["version", "h", "--timeout", "soon"],
            &["version", "h", "--ca", "x.pem", "--insecure"],
            &["demo"],
        ] {
            let err = parse(args).unwrap_err();
            assert_eq!(err.exit_code(), i32::from(exit::USAGE), "{args:?}");
        }
    }

    #[test]
    fn tls_choice_follows_the_flags() {
        let tls = |args: &[&str]| parse(args).unwrap().connection.tls().unwrap();
        assert_eq!(tls(&["version", "h"]), None);
        assert_eq!(
            tls(&["version", "h", "--insecure"]),
            Some(TlsVerify::Insecure)
        );
        assert_eq!(
            tls(&["--ca", "c.der", "version", "h"]),
            Some(TlsVerify::CaFile("c.der".into()))
        );
        assert_eq!(
            tls(&["version", "h", "--tls", "--known-hosts", "/tmp/kh"]),
            Some(TlsVerify::KnownHosts("/tmp/kh".into()))
        );
        let cli = parse(&["ping", "h", "--timeout", "0.5", "-n", "3", "--json"]).unwrap();
        assert_eq!(cli.connection.timeout, Duration::from_millis(500));
        assert!(cli.json);
        assert!(matches!(cli.command, Command::Ping { count: 3, .. }));
    }

    #[test]
    fn bench_takes_its_options_and_bounds_them() {
        let cli = parse(&[
            "bench",
            "127.0.0.1:4000",
            "--connections",
            "64",
            "--duration",
            "2.5",
            "--action",
            "write_pin",
            "--pipeline",
            "16",
            "--warmup",
            "0",
            "--insecure",
            "--json",
        ])
        .unwrap();
        let Command::Bench {
            connections,
            duration,
            action,
            pipeline,
            warmup,
            ..
        } = cli.command
        else {
            panic!("not bench");
        };
        assert_eq!(
            (connections, duration, action, pipeline, warmup),
            (
                64,
                Duration::from_millis(2500),
                BenchAction::WritePin,
                16,
                Duration::ZERO
            )
        );
        assert!(cli.json && cli.connection.insecure);
        let cli = parse(&["bench", "h"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Bench {
                connections: 1,
                pipeline: 1,
                action: BenchAction::Ping,
                ..
            }
        ));
        for bad in [
            &["bench", "h", "--connections", "0"][..],
            &["bench", "h", "--duration", "0"],
            &["bench", "h", "--duration", "7200"],
            &["bench", "h", "--pipeline", "0"],
            &["bench", "h", "--action", "reset"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn serial_replaces_the_address_where_it_makes_sense() {
        let endpoint = |args: &[&str]| parse(args).map(|c| c.command.endpoint());
        assert_eq!(
            endpoint(&["send", "--serial", "/dev/ttyACM0", "-c", "action=ping"]).unwrap(),
            Endpoint::Serial("/dev/ttyACM0".into())
        );
        for cmd in ["ping", "info", "version", "actions"] {
            assert_eq!(
                endpoint(&[cmd, "--serial", "/dev/ttyACM1"]).unwrap(),
                Endpoint::Serial("/dev/ttyACM1".into()),
                "{cmd}"
            );
            // One or the other, not both, not neither.
            assert!(
                parse(&[cmd, "h", "--serial", "/dev/ttyACM1"]).is_err(),
                "{cmd}"
            );
            assert!(parse(&[cmd]).is_err(), "{cmd}");
        }
        assert!(parse(&["bench", "--serial", "/dev/ttyACM0"]).is_err());
        assert_eq!(
            endpoint(&["update", "--serial", "/dev/ttyACM0", "fw.bin"]).unwrap(),
            Endpoint::Serial("/dev/ttyACM0".into())
        );
        assert!(matches!(
            endpoint(&["update", "10.0.0.2", "fw.bin"]).unwrap(),
            Endpoint::Tcp(_)
        ));
        let image = |args: &[&str]| match parse(args).unwrap().command {
            Command::Update { image, .. } => image,
            _ => unreachable!(),
        };
        assert_eq!(
            image(&["update", "--serial", "/dev/x", "a.bin"]),
            PathBuf::from("a.bin")
        );
        assert_eq!(image(&["update", "h:1", "b.bin"]), PathBuf::from("b.bin"));
        for bad in [
            &["update", "fw.bin"][..],
            &["update", "h", "fw.bin", "--serial", "/dev/x"],
            &["update", "--serial", "/dev/x"],
            &["update", "not an address", "fw.bin"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn provision_options_go_together_as_documented() {
        let cli = parse(&[
            "provision",
            "--port",
            "/dev/ttyACM0",
            "--ssid",
            "garden",
            "--password-file",
            "pw.txt",
            "--port-number",
            "4242",
            "--generate-cert",
            "--san",
            "pico.lan",
            "--san",
            "192.168.1.50",
            "--cert-out",
            "certs",
            "--pin",
            "pico.lan",
            "--reset",
        ])
        .unwrap();
        let Command::Provision(p) = cli.command else {
            panic!("not provision");
        };
        assert_eq!(
            p.port.as_deref(),
            Some(std::path::Path::new("/dev/ttyACM0"))
        );
        assert_eq!(p.ssid.as_deref(), Some("garden"));
        assert_eq!(p.port_number, Some(4242));
        assert_eq!(p.san, ["pico.lan", "192.168.1.50"]);
        assert!(p.generate_cert && p.reset && !p.open);
        assert!(
            parse(&["provision"]).is_ok(),
            "no setting: shows the config"
        );
        assert!(parse(&["provision", "--ssid", "cafe", "--open"]).is_ok());
        let Command::Provision(p) = parse(&["provision", "--radio-power", "power_save"])
            .unwrap()
            .command
        else {
            panic!("not provision");
        };
        assert_eq!(
            p.radio_power,
            Some(piconet_client::protocol::provision::RadioPower::PowerSave)
        );
        for bad in [
            &["provision", "--radio-power", "max"][..],
            &["provision", "--radio-power", "PowerSave"],
        ] {
            let Err(e) = parse(bad) else {
                panic!("{bad:?} accepted")
            };
            let e = e.to_string();
            assert!(
                e.contains("none, performance, power_save, aggressive"),
                "{e}"
            );
        }
        for bad in [
            // A network needs its password file, or --open to say it has none.
            &["provision", "--ssid", "garden"][..],
            &["provision", "--password-file", "pw.txt"],
            &[
                "provision",
                "--ssid",
                "g",
                "--open",
                "--password-file",
                "pw",
            ],
            &["provision", "--generate-cert", "--cert", "c", "--key", "k"],
            &["provision", "--cert", "c"],
            &["provision", "--generate-cert", "--clear-tls"],
            &["provision", "--san", "pico.lan"],
            &["provision", "--pin", "pico.lan"],
            &["provision", "--port-number", "0"],
            &["provision", "--password", "hunter22"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn long_help_documents_the_exit_codes() {
        let help = Cli::command().render_long_help().to_string();
        assert!(
            help.contains("Exit codes:") && help.contains("4  TLS failed"),
            "{help}"
        );
    }
}
