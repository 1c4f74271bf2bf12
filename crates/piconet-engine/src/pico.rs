//! The Raspberry Pi Pico W's GPIO map.

use crate::board::PinKind;

/// GPIO numbers of the RP2040 (0–29).
pub const GPIO_COUNT: u32 = 30;

/// What GPIO `pin` is on a Pico W: 0–22 and 26–28 are on the header;
/// 23, 24, 25 and 29 are wired to the CYW43 WiFi chip, and driving them
/// would knock the radio (and with it every network client) off.
///
/// ```
/// use piconet_engine::{pico::pin_kind, PinKind};
/// assert_eq!(pin_kind(2), PinKind::Usable);
/// assert!(matches!(pin_kind(23), PinKind::Reserved(_)));
/// assert_eq!(pin_kind(30), PinKind::Absent);
/// ```
pub const fn pin_kind(pin: u32) -> PinKind {
    match pin {
        0..=22 | 26..=28 => PinKind::Usable,
        23 => PinKind::Reserved("it powers the WiFi chip (CYW43 WL_ON)"),
        24 => PinKind::Reserved("it is the WiFi chip's SPI data line (CYW43)"),
        25 => PinKind::Reserved("it is the WiFi chip's SPI chip select (CYW43)"),
        29 => PinKind::Reserved("it is the WiFi chip's SPI clock (CYW43)"),
        _ => PinKind::Absent,
    }
}

/// The usable GPIO numbers, ascending.
pub fn usable_pins() -> impl Iterator<Item = u32> {
    (0..GPIO_COUNT).filter(|&p| matches!(pin_kind(p), PinKind::Usable))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twenty_six_usable_pins() {
        assert_eq!(usable_pins().count(), 26);
        assert!(usable_pins().eq(piconet_protocol::PICO_W_HEADER_PINS));
        for p in [23, 24, 25, 29] {
            assert!(matches!(pin_kind(p), PinKind::Reserved(_)), "{p}");
        }
    }
}
