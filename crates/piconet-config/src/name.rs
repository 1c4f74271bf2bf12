//! The board's name: what it announces over mDNS as `NAME.local`
//! (PROTOCOL-NEXT.md, "Discovery").

use core::fmt::Write as _;

use heapless::String;

use crate::ConfigError;

/// The longest board name, in bytes.
pub const MAX_NAME: usize = piconet_protocol::provision::MAX_NAME;

/// Whether `name` can be a board name: 1 to [`MAX_NAME`] of `a-z`, `0-9`
/// and `-`, so it is a DNS label as it stands (no case folding, no
/// escaping) and reads the same in every tool.
///
/// ```
/// use piconet_config::check_name;
/// assert!(check_name("garden-valve-2").is_ok());
/// assert!(check_name("Garden").is_err());
/// ```
pub fn check_name(name: &str) -> Result<(), ConfigError> {
    // The rule set_name checks on the boards, in one place.
    if piconet_protocol::provision::is_board_name(name) {
        Ok(())
    } else {
        Err(ConfigError::Invalid(
            "name must be 1 to 32 of a-z, 0-9 and - (it becomes NAME.local)",
        ))
    }
}

/// The name of a board that was given none: `piconet-` and the last two
/// bytes of its id in lower-case hex (the RP2040's flash unique id).
///
/// ```
/// assert_eq!(piconet_config::default_name(&[0xe6, 0x61, 0x38, 0x1f, 0x2e]).as_str(), "piconet-1f2e");
/// ```
pub fn default_name(id: &[u8]) -> String<MAX_NAME> {
    let mut name = String::new();
    let _ = name.push_str("piconet-");
    for b in &id[id.len().saturating_sub(2)..] {
        // 8 + 4 bytes always fit.
        let _ = write!(name, "{b:02x}");
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for good in ["a", "0", "-", "piconet-1f2e", &"x".repeat(MAX_NAME)] {
            assert_eq!(check_name(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "Garden",
            "a_b",
            "a.local",
            "a b",
            "ü",
            &"x".repeat(MAX_NAME + 1),
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert_eq!(
            default_name(&[1, 2, 3, 4, 5, 6, 0xab, 0x0c]).as_str(),
            "piconet-ab0c"
        );
        assert_eq!(default_name(&[7]).as_str(), "piconet-07");
        check_name(&default_name(&[0xff; 8])).unwrap();
    }
}
