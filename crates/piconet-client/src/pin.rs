//! The words of the GPIO commands.

use std::fmt;

/// A pin's logic level; on the wire `0` or `1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Level {
    /// 0
    Low,
    /// 1
    High,
}

impl Level {
    /// `0` or `1`.
    pub fn as_u8(self) -> u8 {
        match self {
            Level::Low => 0,
            Level::High => 1,
        }
    }

    /// Reads a level the way servers write it: `0`/`1` (the original) or `false`/`true`.
    pub fn from_json(value: &serde_json::Value) -> Option<Self> {
        match value {
            serde_json::Value::Bool(b) => Some((*b).into()),
            v => match v.as_u64()? {
                0 => Some(Level::Low),
                1 => Some(Level::High),
                _ => None,
            },
        }
    }
}

impl From<bool> for Level {
    fn from(high: bool) -> Self {
        if high {
            Level::High
        } else {
            Level::Low
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_u8())
    }
}

/// A pin's direction; on the wire `"input"` or `"output"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Read only.
    Input,
    /// Driven by the board.
    Output,
}

impl Mode {
    /// The wire word.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Input => "input",
            Mode::Output => "output",
        }
    }
}

/// A pin's internal resistor; on the wire `"up"`, `"down"` or `"none"`.
///
/// The original server has no pulls; piconetd and the firmware accept them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Pull {
    /// Floating.
    None,
    /// To the supply.
    Up,
    /// To ground.
    Down,
}

impl Pull {
    /// The wire word.
    pub fn as_str(self) -> &'static str {
        match self {
            Pull::None => "none",
            Pull::Up => "up",
            Pull::Down => "down",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn levels_read_as_servers_write_them() {
        assert_eq!(Level::from_json(&json!(0)), Some(Level::Low));
        assert_eq!(Level::from_json(&json!(1)), Some(Level::High));
        assert_eq!(Level::from_json(&json!(true)), Some(Level::High));
        assert_eq!(Level::from_json(&json!(2)), None);
        assert_eq!(Level::from_json(&json!("1")), None);
        assert_eq!(Level::from_json(&json!(-1)), None);
    }
}
