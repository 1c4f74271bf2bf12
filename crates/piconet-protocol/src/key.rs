//! Every member key the protocol names, declared once: the fields commands
//! read and the keys responses add. From this one list come [`Key`], its
//! wire names, the slots the parser fills ([`Fields`]) and [`KeySet`].

/// Declares the keys. Fields come first: their discriminants index the
/// parser's slots. `[secret]` marks a key whose value is never echoed.
macro_rules! keys {
    (
        fields { $( $(#[$fdoc:meta])* $field:ident = $fname:literal $([$fsecret:ident])? ; )* }
        replies { $( $(#[$rdoc:meta])* $reply:ident = $rname:literal ; )* }
    ) => {
        /// A member key the protocol knows.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Key {
            $( $(#[$fdoc])* $field, )*
            $( $(#[$rdoc])* $reply, )*
        }

        /// How many keys are fields a command reads (they come first).
        pub const FIELDS: usize = [$(Key::$field),*].len();

        impl Key {
            /// Every key, fields first, in declaration order.
            pub const ALL: &'static [Key] = &[$(Key::$field,)* $(Key::$reply,)*];

            /// The key as written on the wire.
            pub const fn name(self) -> &'static str {
                match self {
                    $( Key::$field => const { as_str($fname) }, )*
                    $( Key::$reply => const { as_str($rname) }, )*
                }
            }

            /// The key named `name` (decoded, i.e. without JSON escapes).
            #[inline]
            pub fn from_name(name: &[u8]) -> Option<Key> {
                match name {
                    $( $fname => Some(Key::$field), )*
                    $( $rname => Some(Key::$reply), )*
                    _ => None,
                }
            }

            /// True for a key whose value is never echoed.
            pub const fn is_secret(self) -> bool {
                match self {
                    $( Key::$field => keys!(@secret $($fsecret)?), )*
                    $( Key::$reply => false, )*
                }
            }
        }
    };
    (@secret secret) => { true };
    (@secret) => { false };
}

/// A key's or an action's name as text (names are declared as byte
/// strings so the parser can match them as patterns). Names are lower-case
/// ASCII, digits and `_`, so they never need JSON escapes
/// ([`crate::response::ObjectWriter::key_uint`] relies on it).
pub(crate) const fn as_str(name: &'static [u8]) -> &'static str {
    let mut i = 0;
    while i < name.len() {
        assert!(
            matches!(name[i], b'a'..=b'z' | b'0'..=b'9' | b'_'),
            "names are lower-case ASCII, digits and '_'"
        );
        i += 1;
    }
    match core::str::from_utf8(name) {
        Ok(s) => s,
        Err(_) => panic!("names are ASCII"),
    }
}

keys! {
    fields {
        /// Names the command.
        Action = b"action";
        /// A GPIO number.
        Pin = b"pin";
        /// `input` or `output`.
        Mode = b"mode";
        /// A level; `read_pin` adds it too.
        Value = b"value";
        /// Internal pull resistor.
        Pull = b"pull";
        /// Lease seconds.
        Timeout = b"timeout";
        /// Release the lease when the connection ends.
        ReleaseOnDisconnect = b"release_on_disconnect";
        /// Sleep duration.
        TimeMs = b"time_ms";
        /// Deep rather than light sleep.
        Deep = b"deep";
        /// The original's update: file contents.
        Files = b"files";
        /// The original's update: compression flag.
        Compress = b"compress";
        /// Image size.
        Size = b"size";
        /// Image SHA-256.
        Sha256 = b"sha256";
        /// Image signature.
        Signature = b"signature";
        /// Image version; `get_version` adds it too.
        Version = b"version";
        /// Chunk offset.
        Offset = b"offset";
        /// Chunk bytes.
        Data = b"data";
        /// WiFi network name.
        Ssid = b"ssid";
        /// WiFi passphrase.
        Password = b"password" [secret];
        /// TCP port.
        Port = b"port";
        /// TLS certificate.
        Cert = b"cert";
        /// TLS private key.
        Key = b"key" [secret];
        /// `watch_pin`: which edges (`rising`, `falling`, `both`).
        Edge = b"edge";
        /// `watch_pin`: edges this soon after the last one are ignored.
        DebounceMs = b"debounce_ms";
        /// `sim_input`: an ADC pin's voltage; `read_adc` adds it too.
        Volts = b"volts";
        /// `set_clients`' list; `get_clients` adds it too.
        Clients = b"clients";
        /// `update_begin`: install an image older than the running one.
        AllowDowngrade = b"allow_downgrade";
        /// PWM and I2C clock, in Hz.
        Frequency = b"frequency";
        /// PWM duty cycle, 0.0 to 1.0.
        Duty = b"duty";
        /// I2C bus number.
        Bus = b"bus";
        /// I2C data pin.
        Sda = b"sda";
        /// I2C clock pin.
        Scl = b"scl";
        /// I2C device address (7 bits).
        Address = b"address";
        /// I2C bytes to read.
        Count = b"count";
        /// `i2c_transfer`: the bytes written before the read.
        Write = b"write";
        /// `set_name`: the board's name (`NAME.local`).
        Name = b"name";
    }
    replies {
        /// When the command arrived, on every success.
        TimeReceived = b"time_received";
        /// The failure's message.
        Error = b"error";
        /// The failure's class.
        Exception = b"exception";
        /// `get_info`'s object.
        Info = b"info";
        /// `list_actions`' names.
        Actions = b"actions";
        /// The update actions' status.
        Update = b"update";
        /// The provisioning actions' settings.
        Config = b"config";
        /// `get_pins`' list.
        Pins = b"pins";
        /// `read_adc`: the converter's reading, 0 to 4095.
        Raw = b"raw";
        /// `read_temperature`: degrees Celsius.
        Celsius = b"celsius";
    }
}

const _: () = assert!(Key::ALL.len() <= u64::BITS as usize);

/// The longest key name, in bytes: a key longer than this (once decoded)
/// is none the protocol knows.
pub const MAX_KEY_NAME: usize = {
    let mut max = 0;
    let mut i = 0;
    while i < Key::ALL.len() {
        if Key::ALL[i].name().len() > max {
            max = Key::ALL[i].name().len();
        }
        i += 1;
    }
    max
};

/// A set of [`Key`]s: those a response writes itself (an echoed member
/// with one of them is left out so the key never appears twice), or those
/// a request carried.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct KeySet(u64);

impl KeySet {
    /// No keys.
    pub const EMPTY: KeySet = KeySet(0);
    /// `time_received`, on every success.
    pub const TIME_RECEIVED: KeySet = KeySet::of(Key::TimeReceived);
    /// `error` and `exception`, added on failure.
    pub const ERROR: KeySet = KeySet::of(Key::Error).union(KeySet::of(Key::Exception));
    /// The keys whose values are never echoed, whatever the action: they
    /// are written as [`crate::provision::REDACTED`].
    pub const SECRET: KeySet = KeySet::secrets();

    /// The set holding `key` alone.
    pub const fn of(key: Key) -> KeySet {
        KeySet(1 << key as u64)
    }

    /// The set of the keys in `keys`.
    pub const fn of_all(keys: &[Key]) -> KeySet {
        let mut set = KeySet::EMPTY;
        let mut i = 0;
        while i < keys.len() {
            set = set.union(KeySet::of(keys[i]));
            i += 1;
        }
        set
    }

    const fn secrets() -> KeySet {
        let mut set = KeySet::EMPTY;
        let mut i = 0;
        while i < Key::ALL.len() {
            if Key::ALL[i].is_secret() {
                set = set.union(KeySet::of(Key::ALL[i]));
            }
            i += 1;
        }
        set
    }

    /// The key's set if the protocol knows the (decoded) name, else empty.
    pub fn of_name(name: &[u8]) -> KeySet {
        Key::from_name(name).map_or(KeySet::EMPTY, KeySet::of)
    }

    /// Both sets.
    pub const fn union(self, other: KeySet) -> KeySet {
        KeySet(self.0 | other.0)
    }

    /// True when the sets share a key.
    pub const fn intersects(self, other: KeySet) -> bool {
        self.0 & other.0 != 0
    }

    /// True when `key` is in the set.
    pub const fn contains(self, key: Key) -> bool {
        self.intersects(KeySet::of(key))
    }
}

/// The raw value of every field a request carried (the last of duplicate
/// keys wins, as in Python's `json`), each parsed by the action that
/// reads it.
#[derive(Clone, Copy, Debug)]
pub struct Fields<'a> {
    values: [Option<&'a [u8]>; FIELDS],
}

impl Default for Fields<'_> {
    #[inline(always)]
    fn default() -> Self {
        Fields {
            values: [None; FIELDS],
        }
    }
}

impl<'a> Fields<'a> {
    /// The raw value of field `key` (a reply key is never a field: `None`).
    #[inline(always)]
    pub fn get(&self, key: Key) -> Option<&'a [u8]> {
        self.values.get(key as usize).copied().flatten()
    }

    /// Record a member; keys that are not fields are ignored.
    #[inline(always)]
    pub(crate) fn set(&mut self, key: Key, value: &'a [u8]) {
        if let Some(slot) = self.values.get_mut(key as usize) {
            *slot = Some(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        for (i, k) in Key::ALL.iter().enumerate() {
            assert_eq!(Key::from_name(k.name().as_bytes()), Some(*k));
            assert_eq!(*k as usize, i);
            assert!(Key::ALL[..i].iter().all(|o| o.name() != k.name()));
        }
        assert_eq!(Key::from_name(b"pass\\u0077ord"), None);
        assert_eq!(Key::from_name(b"nope"), None);
    }

    #[test]
    fn secrets_are_the_password_and_the_key() {
        let secret: std::vec::Vec<_> = Key::ALL.iter().filter(|k| k.is_secret()).collect();
        assert_eq!(secret, [&Key::Password, &Key::Key]);
        assert!(KeySet::SECRET.contains(Key::Password) && KeySet::SECRET.contains(Key::Key));
        assert!(!KeySet::SECRET.contains(Key::Ssid));
    }

    #[test]
    fn only_fields_have_slots() {
        let mut f = Fields::default();
        f.set(Key::Pin, b"2");
        f.set(Key::Info, b"{}");
        assert_eq!(f.get(Key::Pin), Some(&b"2"[..]));
        assert_eq!(f.get(Key::Info), None);
        assert_eq!(f.get(Key::Mode), None);
    }
}
