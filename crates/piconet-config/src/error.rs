//! What can go wrong with the settings, whatever stores them.

/// Why the settings could not be read or written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// The flash region is not usable for the store (bad bounds).
    Region(&'static str),
    /// The flash driver failed.
    Flash,
    /// The region is full even after reclaiming space.
    Full,
    /// The region holds data the store cannot repair; erase it to start
    /// over (`ConfigStore::erase`).
    Corrupted,
    /// A value is out of range; the text says which and how.
    Invalid(&'static str),
}

impl core::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ConfigError::Region(why) => write!(f, "config flash region unusable: {why}"),
            ConfigError::Flash => f.write_str("config flash read/write failed"),
            ConfigError::Full => f.write_str("config flash region full"),
            ConfigError::Corrupted => {
                f.write_str("config flash corrupted: erase it and provision again")
            }
            ConfigError::Invalid(why) => f.write_str(why),
        }
    }
}
