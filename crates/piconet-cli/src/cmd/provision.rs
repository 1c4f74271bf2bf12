//! `piconet provision`: a board's WiFi network, port, TLS identity and
//! name, set over its USB cable (the only way the board accepts them).
//!
//! Everything that can be checked here is checked before the board is
//! touched: the password file, the names, the certificate and key, the file
//! the certificate goes to, the known-hosts entry. Then, over one session:
//! `list_actions` (a firmware without provisioning must never see the
//! password), `get_config`, the writes, `get_config` again (its
//! fingerprint must be the certificate's), and `reset` if asked.
//!
//! Secrets (the password, the private key) are held in [`Secret`], which
//! prints as `<redacted>`, and every answer shown goes through [`redacted`]
//! in case a board echoes them (old firmware does, in its "unknown action"
//! error).

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use piconet_client::{
    Action, BoardConfig, Client, Connection, Fingerprint, KnownHosts, Map, Response, ServerAddr,
    UsbSerialPort, Value,
};
use serde_json::json;

use piconet_client::protocol::provision::{MAX_PASSWORD, MAX_SSID, MIN_PASSWORD};

use crate::args::{ConnectionArgs, ProvisionArgs};
use crate::error::Failure;
use crate::exit;

/// The firmware's longest command line.
pub const BOARD_MAX_LINE: usize = piconet_client::protocol::PICO_W_MAX_LINE;
/// The name every generated certificate carries.
pub const DEFAULT_NAME: &str = "piconet.local";
/// What a board's answers show instead of a secret.
const REDACTED: &str = piconet_client::protocol::provision::REDACTED;
/// The actions a board needs to be provisioned.
const NEEDED: [&str; 2] = ["set_wifi", "get_config"];

/// A value that must not be shown: `Debug` prints `<redacted>`.
pub struct Secret<T>(T);

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// A TLS identity for the board, and its certificate as a PEM file to write.
#[derive(Debug)]
pub struct Identity {
    pub cert: Vec<u8>,
    key: Secret<Vec<u8>>,
    pub fingerprint: Fingerprint,
    /// A generated certificate: where it goes and its PEM text.
    pub write_to: Option<(PathBuf, String)>,
}

/// What to do, all checked.
#[derive(Debug)]
struct Plan {
    wifi: Option<(String, Secret<String>)>,
    port: Option<u16>,
    /// `--name`, checked by clap.
    name: Option<String>,
    radio_power: Option<piconet_client::protocol::provision::RadioPower>,
    tls: Option<Identity>,
    clear_tls: bool,
    /// `--pin`: the host, and its port if given.
    pin: Option<(String, Option<u16>)>,
    reset: bool,
}

fn fail(code: u8, message: impl Into<String>) -> Failure {
    Failure::Provision(code, message.into())
}

fn usage(message: impl Into<String>) -> Failure {
    fail(exit::USAGE, message)
}

fn local(message: impl Into<String>) -> Failure {
    fail(exit::LOCAL_FILE, message)
}

pub async fn run(
    args: &ProvisionArgs,
    connection: &ConnectionArgs,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    if connection.tls || connection.ca.is_some() || connection.insecure {
        return Err(usage(
            "provision talks over the USB cable, plaintext: drop --tls, --ca and --insecure",
        ));
    }
    let plan = plan(args)?;
    let known_hosts = match (&plan.pin, &connection.known_hosts) {
        (None, _) => None,
        (Some(_), Some(path)) => Some(KnownHosts::new(path)),
        (Some(_), None) => Some(KnownHosts::new(KnownHosts::default_path()?)),
    };
    let (path, board) = match &args.port {
        Some(path) => (path.clone(), None),
        None => {
            let port = choose_board(piconet_client::usb_serial_ports()?)
                .map_err(|m| fail(exit::NO_BOARD, m))?;
            (port.path.clone(), Some(port))
        }
    };
    let client = Client::serial(&path).with_timeout(connection.timeout);
    let mut session = Session {
        conn: client.connect().await?,
        path: path.clone(),
    };

    let writes = commands(&plan);
    if !writes.is_empty() {
        let actions = session.ask(Action::ListActions, false).await?;
        let known: Vec<&str> = actions
            .get("actions")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if plan.name.is_some() && !known.contains(&"set_name") {
            return Err(fail(
                exit::SERVER_ERROR,
                format!(
                    "the firmware on {} does not know set_name: it cannot be given a name; \
                     update it first (piconet update, or flash the new UF2)",
                    path.display()
                ),
            ));
        }
        if let Some(missing) = NEEDED.iter().find(|a| !known.contains(a)) {
            return Err(fail(
                exit::SERVER_ERROR,
                format!(
                    "the firmware on {} does not know {missing}: it cannot be provisioned; \
                     update it first (piconet update, or flash the new UF2)",
                    path.display()
                ),
            ));
        }
    }
    let before = session.config(false).await?;
    let pin_port = plan
        .pin
        .as_ref()
        .map(|(_, port)| port.or(plan.port).unwrap_or(before.port));
    // Checked before anything is written, so a clash leaves the board as it was.
    let pin = match (&plan.pin, pin_port, &known_hosts, &plan.tls) {
        (Some((host, _)), Some(port), Some(store), Some(identity)) => {
            let addr = ServerAddr::new(host.clone(), port).to_string();
            let existing = store.lookup(&addr)?;
            if let Some(known) = existing.filter(|k| k.fingerprint != identity.fingerprint) {
                return Err(local(format!(
                    "{} line {} already pins another certificate for {addr}: delete that line \
                     first if the board is to get a new one",
                    store.path().display(),
                    known.line
                )));
            }
            Some((addr, existing.is_some()))
        }
        _ => None,
    };

    let mut written_file = None;
    if let Some((file, pem)) = plan.tls.as_ref().and_then(|t| t.write_to.as_ref()) {
        write_new(file, pem)?;
        written_file = Some(file.clone());
    }
    let mut stored = Vec::new();
    for (what, command) in writes {
        match session.ask(command, false).await {
            Ok(_) => stored.push(what),
            Err(failure) => {
                if let Some(file) = &written_file {
                    let _ = std::fs::remove_file(file);
                }
                return Err(match (failure, stored.is_empty()) {
                    (Failure::Provision(code, m), false) => Failure::Provision(
                        code,
                        format!("{m} (already stored: {})", stored.join(", ")),
                    ),
                    (failure, _) => failure,
                });
            }
        }
    }
    let clients = match clients_change(args) {
        None => None,
        Some(change) => {
            let store = crate::cmd::identity::Store::of(connection)?;
            let answer = session.ask(Action::GetClients, false).await?;
            let list = answer
                .get("clients")
                .and_then(piconet_client::ClientEntry::list_from_json)
                .ok_or_else(|| {
                    fail(
                        exit::BAD_ANSWER,
                        format!(
                            "the board on {} answered get_clients without a valid list",
                            path.display()
                        ),
                    )
                })?;
            let list = crate::cmd::clients::changed(&store, list, &change)?;
            let answer = session
                .ask(Action::SetClients { clients: &list }, false)
                .await?;
            answer
                .get("clients")
                .and_then(piconet_client::ClientEntry::list_from_json)
        }
    };
    let after = session.config(!plan.reset).await?;
    check(&plan, &after)?;
    if plan.reset {
        session.ask(Action::Reset, true).await?;
    }
    session.conn.close().await;

    if let (Some((addr, false)), Some(store), Some(identity)) = (&pin, &known_hosts, &plan.tls) {
        store.add(addr, &identity.fingerprint)?;
    }
    let report = Report {
        path: &path,
        board: board.as_ref(),
        stored: &stored,
        before: &before,
        after: &after,
        identity: plan.tls.as_ref(),
        cert_file: written_file.as_deref(),
        pin: pin.as_ref().map(|(addr, _)| addr.as_str()),
        known_hosts: known_hosts.as_ref().map(KnownHosts::path),
        reset: plan.reset,
    };
    if json {
        let mut v = report.json();
        if let Some(list) = &clients {
            v["clients"] = list
                .iter()
                .map(piconet_client::ClientEntry::to_json)
                .collect();
        }
        writeln!(out, "{v}")?;
    } else {
        write!(out, "{report}")?;
        if let Some(list) = &clients {
            writeln!(out, "client list:")?;
            crate::cmd::clients::print(list, false, out)?;
        }
    }
    Ok(())
}

/// The client list change `--allow`/`--revoke` ask for.
fn clients_change(args: &ProvisionArgs) -> Option<crate::cmd::clients::Change> {
    use crate::cmd::clients::Change;
    match (&args.allow, args.role, &args.revoke) {
        (Some(who), Some(role), _) => Some(Change::Allow {
            who: who.clone(),
            role,
            pins: args.pins.clone(),
        }),
        (_, _, Some(name)) => Some(Change::Revoke(name.clone())),
        _ => None,
    }
}

/// Reads and checks everything the command line points at.
fn plan(args: &ProvisionArgs) -> Result<Plan, Failure> {
    let wifi = match &args.ssid {
        None => None,
        Some(ssid) => {
            if ssid.is_empty() || ssid.len() > MAX_SSID {
                return Err(usage(format!(
                    "--ssid {ssid:?} is {} bytes: a WiFi network name has 1 to {MAX_SSID}",
                    ssid.len()
                )));
            }
            let password = match &args.password_file {
                Some(file) => read_password(file)?,
                None => String::new(),
            };
            Some((ssid.clone(), Secret(password)))
        }
    };
    let tls = if args.generate_cert {
        let names = names(&args.san);
        let dir = args.cert_out.clone().unwrap_or_else(|| PathBuf::from("."));
        let file = dir.join(format!("{}.pem", names[0]));
        if file.exists() {
            return Err(local(format!(
                "{} exists already and is not overwritten: move it away, or choose \
                 another --cert-out DIR",
                file.display()
            )));
        }
        Some(generate(&names, file)?)
    } else {
        match (&args.cert, &args.key) {
            (Some(cert), Some(key)) => Some(load(cert, key)?),
            _ => None,
        }
    };
    if let Some(identity) = &tls {
        let line =
            set_tls(identity).to_string().len() + r#","time_sent":0000000000000000000"#.len();
        if line > BOARD_MAX_LINE {
            return Err(local(format!(
                "the certificate and key make a {line}-byte set_tls line, over the board's \
                 {BOARD_MAX_LINE}: use a smaller certificate (EC P-256, few names; \
                 --generate-cert makes one)"
            )));
        }
    }
    let pin = match &args.pin {
        None => None,
        Some(text) => Some(pin_target(text)?),
    };
    Ok(Plan {
        wifi,
        port: args.port_number,
        name: args.name.clone(),
        radio_power: args.radio_power,
        tls,
        clear_tls: args.clear_tls,
        pin,
        reset: args.reset,
    })
}

/// The password file's content less one trailing newline; never quoted
/// in a message.
/// The file's permission bits when users other than its owner may read it.
#[cfg(unix)]
fn loose_mode(file: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(file).ok()?.permissions().mode() & 0o777;
    (mode & 0o044 != 0).then_some(mode)
}

#[cfg(not(unix))]
fn loose_mode(_: &Path) -> Option<u32> {
    None
}

fn read_password(file: &Path) -> Result<String, Failure> {
    if let Some(mode) = loose_mode(file) {
        // Not an error: the user may have reasons; but say it once, here.
        eprintln!(
            "warning: the password file {} can be read by other users (mode {mode:03o}): chmod 600 it",
            file.display()
        );
    }
    let bytes = std::fs::read(file).map_err(|e| {
        local(format!(
            "cannot read the password file {}: {e}",
            file.display()
        ))
    })?;
    let mut text = String::from_utf8(bytes).map_err(|_| {
        local(format!(
            "the password file {} is not UTF-8 text",
            file.display()
        ))
    })?;
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    if text.is_empty() {
        return Err(local(format!(
            "the password file {} is empty: for a network without a password use --open",
            file.display()
        )));
    }
    if text.chars().any(char::is_control) {
        return Err(local(format!(
            "the password file {} holds more than one line or control characters: it must \
             hold the password alone",
            file.display()
        )));
    }
    if !(MIN_PASSWORD..=MAX_PASSWORD).contains(&text.len()) {
        return Err(local(format!(
            "the password in {} is {} bytes: WPA2 takes {MIN_PASSWORD} to {MAX_PASSWORD}",
            file.display(),
            text.len()
        )));
    }
    Ok(text)
}

/// The generated certificate's names: the user's first, then `piconet.local`.
fn names(sans: &[String]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for name in sans.iter().map(String::as_str).chain([DEFAULT_NAME]) {
        let name = name.trim().trim_end_matches('.').to_ascii_lowercase();
        if !name.is_empty() && !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// A new EC P-256 key and a self-signed certificate for `names`.
fn generate(names: &[String], write_to: PathBuf) -> Result<Identity, Failure> {
    use rcgen::{
        CertificateParams, DnType, ExtendedKeyUsagePurpose, KeyPair, KeyUsagePurpose,
        PKCS_ECDSA_P256_SHA256,
    };
    let mut params = CertificateParams::new(names.to_vec()).map_err(|e| {
        usage(format!(
            "--san: {e}: each name must be a DNS name or an IP address"
        ))
    })?;
    params
        .distinguished_name
        .push(DnType::CommonName, names[0].as_str());
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
        .map_err(|e| fail(exit::SERVER_ERROR, format!("cannot make a key: {e}")))?;
    let cert = params.self_signed(&key).map_err(|e| {
        fail(
            exit::SERVER_ERROR,
            format!("cannot make a certificate: {e}"),
        )
    })?;
    Ok(Identity {
        cert: cert.der().to_vec(),
        key: Secret(key.serialize_der()),
        fingerprint: Fingerprint::of_certificate(cert.der()),
        write_to: Some((write_to, cert.pem())),
    })
}

/// A certificate and key from files, PEM or DER, checked to belong together.
fn load(cert_file: &Path, key_file: &Path) -> Result<Identity, Failure> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};

    let read = |path: &Path| {
        std::fs::read(path).map_err(|e| local(format!("cannot read {}: {e}", path.display())))
    };
    let is_pem = |bytes: &[u8]| bytes.windows(10).any(|w| w == b"-----BEGIN");
    let bytes = read(cert_file)?;
    let cert = if is_pem(&bytes) {
        CertificateDer::from_pem_slice(&bytes)
            .map_err(|e| local(format!("no certificate in {}: {e}", cert_file.display())))?
    } else {
        CertificateDer::from(bytes)
    };
    let bytes = read(key_file)?;
    // The key's own errors are not shown: they might quote it.
    let no_key = || {
        local(format!(
            "no private key in {}: expected PEM (PRIVATE KEY or EC PRIVATE KEY) or DER",
            key_file.display()
        ))
    };
    let key = if is_pem(&bytes) {
        PrivateKeyDer::from_pem_slice(&bytes).map_err(|_| no_key())?
    } else {
        PrivateKeyDer::try_from(bytes).map_err(|_| no_key())?
    };
    let signer = rustls::crypto::ring::sign::any_supported_type(&key).map_err(|_| no_key())?;
    if signer.algorithm() != rustls::SignatureAlgorithm::ECDSA {
        return Err(local(format!(
            "the key in {} is not an EC key: piconet boards take EC (P-256) identities",
            key_file.display()
        )));
    }
    let pair = rustls::sign::CertifiedKey::new(vec![cert.clone()], signer);
    match pair.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
        Err(rustls::Error::InconsistentKeys(_)) => {
            return Err(local(format!(
                "the key in {} does not belong to the certificate in {}",
                key_file.display(),
                cert_file.display()
            )))
        }
        Err(e) => {
            return Err(local(format!(
                "{} is not a usable certificate: {e}",
                cert_file.display()
            )))
        }
    }
    Ok(Identity {
        fingerprint: Fingerprint::of_certificate(&cert),
        cert: cert.to_vec(),
        key: Secret(key.secret_der().to_vec()),
        write_to: None,
    })
}

/// `HOST` or `HOST:PORT` (an explicit port wins over the board's).
fn pin_target(text: &str) -> Result<(String, Option<u16>), Failure> {
    let addr: ServerAddr = text
        .parse()
        .map_err(|e: piconet_client::Error| usage(format!("--pin: {e}")))?;
    let explicit = text.ends_with(&format!(":{}", addr.port())) && !text.ends_with(']');
    Ok((addr.host().to_owned(), explicit.then_some(addr.port())))
}

/// `identity`'s `set_tls`.
fn tls_action(identity: &Identity) -> Action<'_> {
    Action::SetTls {
        cert: &identity.cert,
        key: &identity.key.0,
    }
}

/// `identity`'s `set_tls` as it goes on the wire, to measure its line.
fn set_tls(identity: &Identity) -> Value {
    Value::Object(tls_action(identity).to_command())
}

/// The writes, in order, each with what it stores.
fn commands(plan: &Plan) -> Vec<(&'static str, Action<'_>)> {
    let mut commands = Vec::new();
    if let Some((ssid, password)) = &plan.wifi {
        commands.push((
            "WiFi",
            Action::SetWifi {
                ssid,
                password: &password.0,
            },
        ));
    }
    if let Some(port) = plan.port {
        commands.push(("port", Action::SetPort { port }));
    }
    if let Some(name) = &plan.name {
        commands.push(("name", Action::SetName { name }));
    }
    if let Some(mode) = plan.radio_power {
        commands.push(("radio power", Action::SetRadioPower { mode }));
    }
    if let Some(identity) = &plan.tls {
        commands.push(("TLS identity", tls_action(identity)));
    }
    if plan.clear_tls {
        commands.push(("no TLS", Action::ClearTls));
    }
    commands
}

/// Creates `file` with `text`, never over an existing file.
fn write_new(file: &Path, text: &str) -> Result<(), Failure> {
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| local(format!("cannot create {}: {e}", dir.display())))?;
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(file)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| local(format!("cannot write {}: {e}", file.display())))
}

/// The one board among `ports`, or a message listing what was found.
pub fn choose_board(ports: Vec<UsbSerialPort>) -> Result<UsbSerialPort, String> {
    let (mut boards, others): (Vec<_>, Vec<_>) = ports.into_iter().partition(|p| p.is_piconet());
    let list =
        |ports: &[UsbSerialPort]| ports.iter().map(|p| format!("\n  {p}")).collect::<String>();
    match boards.len() {
        1 => Ok(boards.remove(0)),
        0 => Err(format!(
            "no piconet board found on USB (looking for {:04x}:{:04x} \"piconet Pico W\"). \
             {} Plug the board in with a data cable (not a charge-only one), or name its \
             serial port with --port DEVICE",
            piconet_client::PICONET_USB_VID,
            piconet_client::PICONET_USB_PID,
            if others.is_empty() {
                "No USB serial port at all.".to_owned()
            } else {
                format!("USB serial ports seen:{}\n", list(&others))
            }
        )),
        _ => Err(format!(
            "{} piconet boards are plugged in; choose one with --port DEVICE:{}",
            boards.len(),
            list(&boards)
        )),
    }
}

/// The board's `config` object.
type Config = BoardConfig;

/// The board must report what was just stored.
fn check(plan: &Plan, config: &Config) -> Result<(), Failure> {
    let mut wrong = Vec::new();
    if let Some((ssid, password)) = &plan.wifi {
        if config.ssid.as_deref() != Some(ssid) || config.password_set == password.0.is_empty() {
            wrong.push("the WiFi network");
        }
    }
    if plan.port.is_some_and(|p| p != config.port) {
        wrong.push("the port");
    }
    if plan.name.is_some() && config.name != plan.name {
        wrong.push("the name");
    }
    if let Some(mode) = plan.radio_power {
        if config.radio_power.as_deref() != Some(mode.as_str()) {
            wrong.push("the radio power mode");
        }
    }
    if let Some(identity) = &plan.tls {
        if config.tls_fingerprint.as_deref() != Some(identity.fingerprint.to_string().as_str()) {
            wrong.push("the TLS certificate's fingerprint");
        }
    }
    if plan.clear_tls && config.tls_fingerprint.is_some() {
        wrong.push("the TLS identity (still there)");
    }
    if wrong.is_empty() {
        return Ok(());
    }
    Err(fail(
        exit::BAD_ANSWER,
        format!(
            "the board accepted the settings but reports something else for {}: {}",
            wrong.join(", "),
            Value::Object(config.raw.clone())
        ),
    ))
}

/// One session on the serial port.
struct Session {
    conn: Connection,
    path: PathBuf,
}

impl Session {
    /// Sends `command`; an error answer fails, shown without secrets.
    async fn ask(
        &mut self,
        command: Action<'_>,
        last: bool,
    ) -> Result<Map<String, Value>, Failure> {
        let action = command.name();
        let answer: Response = self.conn.perform(command, last).await?;
        let raw = answer.raw().clone();
        if let Some(error) = answer.server_error() {
            return Err(fail(
                exit::SERVER_ERROR,
                format!(
                    "the board on {} refused {action}: {}: {} (answer: {})",
                    self.path.display(),
                    error.exception,
                    error.error,
                    redacted(&raw)
                ),
            ));
        }
        Ok(raw)
    }

    async fn config(&mut self, last: bool) -> Result<Config, Failure> {
        let answer = self.ask(Action::GetConfig, last).await?;
        Config::from_answer(&answer).ok_or_else(|| {
            fail(
                exit::BAD_ANSWER,
                format!(
                    "the board on {} answered get_config without a valid config object: {}",
                    self.path.display(),
                    redacted(&answer)
                ),
            )
        })
    }
}

/// `map` with every `password` and `key` member, at any depth, shown as `<redacted>`.
pub fn redacted(map: &Map<String, Value>) -> Value {
    fn walk(value: &Value) -> Value {
        match value {
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| {
                        let v = if k == "password" || k == "key" {
                            json!(REDACTED)
                        } else {
                            walk(v)
                        };
                        (k.clone(), v)
                    })
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.iter().map(walk).collect()),
            other => other.clone(),
        }
    }
    walk(&Value::Object(map.clone()))
}

/// What `provision` prints.
struct Report<'a> {
    path: &'a Path,
    board: Option<&'a UsbSerialPort>,
    stored: &'a [&'static str],
    before: &'a Config,
    after: &'a Config,
    identity: Option<&'a Identity>,
    cert_file: Option<&'a Path>,
    pin: Option<&'a str>,
    known_hosts: Option<&'a Path>,
    reset: bool,
}

impl Report<'_> {
    fn json(&self) -> Value {
        json!({
            "serial": self.path.display().to_string(),
            "board": self.board.map(|b| json!({
                "vid": b.vid, "pid": b.pid, "product": b.product,
                "serial_number": b.serial_number,
            })),
            "stored": self.stored,
            "config_before": Value::Object(self.before.raw.clone()),
            "config": Value::Object(self.after.raw.clone()),
            "tls_fingerprint": self.after.tls_fingerprint,
            "cert_file": self.cert_file.map(|p| p.display().to_string()),
            "pinned": self.pin,
            "reset": self.reset,
        })
    }
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.board {
            Some(board) => writeln!(f, "board: {board}")?,
            None => writeln!(f, "board: {}", self.path.display())?,
        }
        if !self.stored.is_empty() {
            writeln!(f, "stored: {}", self.stored.join(", "))?;
        }
        let c = self.after;
        match &c.ssid {
            Some(ssid) => writeln!(
                f,
                "  WiFi:  {ssid:?} ({})",
                if c.password_set {
                    "password set"
                } else {
                    "open network"
                }
            )?,
            None => writeln!(
                f,
                "  WiFi:  not provisioned (the firmware's built-in network)"
            )?,
        }
        writeln!(f, "  port:  {}", c.port)?;
        match &c.name {
            Some(name) => writeln!(f, "  name:  {name} ({name}.local)")?,
            None => writeln!(f, "  name:  not set (piconet-XXXX from the board's id)")?,
        }
        if let Some(mode) = &c.radio_power {
            writeln!(f, "  radio: {mode} (power saving while awake)")?;
        }
        match &c.tls_fingerprint {
            Some(fp) => writeln!(f, "  TLS:   certificate sha256 {fp}")?,
            None => writeln!(f, "  TLS:   none (plaintext)")?,
        }
        if let (Some(fp), Some(_)) = (&c.tls_fingerprint, self.identity) {
            let host = match self.pin {
                Some(addr) => addr.to_owned(),
                None => format!("BOARD-ADDRESS:{}", c.port),
            };
            if let Some(file) = self.cert_file {
                writeln!(f, "certificate written to {}", file.display())?;
                writeln!(
                    f,
                    "  trust it:  piconet --ca {} ping {host}",
                    file.display()
                )?;
            }
            match (self.pin, self.known_hosts) {
                (Some(addr), Some(store)) => {
                    writeln!(f, "pinned {addr} in {}", store.display())?;
                }
                _ => {
                    writeln!(
                        f,
                        "  or pin it: add this line to the known-hosts file (or run with --pin BOARD-ADDRESS):"
                    )?;
                    writeln!(f, "    BOARD-ADDRESS:{} {fp}", c.port)?;
                }
            }
        }
        if self.reset {
            writeln!(f, "reset: the board restarts with these settings now")?;
        } else if c.restart_needed || !self.stored.is_empty() {
            writeln!(
                f,
                "the settings apply at the board's next reset: unplug it and plug it in again, \
                 or run piconet provision --reset"
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
