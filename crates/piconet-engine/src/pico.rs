//! The Raspberry Pi Pico W's GPIO map.

use crate::board::{I2cLine, PinKind, PwmChannel};

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

/// The RP2040's PWM channel of `pin`: slice `(pin / 2) % 8`, output A
/// for even pins and B for odd ones (datasheet 4.5.2), so GPIO 0 and 16
/// share slice 0's output A.
pub const fn pwm_channel(pin: u32) -> Option<PwmChannel> {
    if pin >= GPIO_COUNT {
        return None;
    }
    Some(PwmChannel {
        slice: ((pin / 2) % 8) as u16,
        output: (pin % 2) as u8,
    })
}

/// True for the RP2040's ADC pins, GPIO 26–28 (ADC0–2; ADC3 is GPIO 29,
/// the Pico W's WiFi clock, and ADC4 the temperature sensor).
pub const fn has_adc(pin: u32) -> bool {
    matches!(pin, 26..=28)
}

/// The ADC input number of `pin`, if it has one.
pub const fn adc_input(pin: u32) -> Option<u8> {
    match pin {
        26..=28 => Some((pin - 26) as u8),
        _ => None,
    }
}

/// The RP2040's I2C buses.
pub const I2C_BUSES: u8 = 2;

/// What `pin` is on I2C `bus` of the RP2040 (datasheet 2.19.2): GPIO `n`
/// serves bus `(n / 2) % 2`, as SDA when `n` is even and SCL when odd.
pub const fn i2c_line(bus: u8, pin: u32) -> Option<I2cLine> {
    if pin >= GPIO_COUNT || bus >= I2C_BUSES || (pin / 2) % 2 != bus as u32 {
        return None;
    }
    Some(if pin % 2 == 0 {
        I2cLine::Sda
    } else {
        I2cLine::Scl
    })
}

/// The 12-bit conversion an ideal ADC against 3.3 V gives for `volts`
/// (clamped to 0–4095): what the simulated boards read back after
/// `sim_input` volts.
pub fn raw_from_volts(volts: f32) -> u16 {
    let raw = (volts / crate::board::ADC_VREF * 4095.0 + 0.5) as u32;
    raw.min(4095) as u16
}

/// The RP2040's temperature sensor reading (ADC input 4) in degrees
/// Celsius: `27 - (V - 0.706) / 0.001721` (datasheet 4.9.5), with `raw`
/// a 12-bit conversion against 3.3 V.
pub fn celsius_from_raw(raw: u16) -> f32 {
    let volts = f32::from(raw) * crate::board::ADC_VREF / 4095.0;
    27.0 - (volts - 0.706) / 0.001721
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rp2040_pin_functions() {
        assert_eq!(
            pwm_channel(0),
            Some(PwmChannel {
                slice: 0,
                output: 0
            })
        );
        assert_eq!(pwm_channel(16), pwm_channel(0));
        assert_eq!(
            pwm_channel(15),
            Some(PwmChannel {
                slice: 7,
                output: 1
            })
        );
        assert_eq!(pwm_channel(30), None);
        assert!(has_adc(26) && has_adc(28) && !has_adc(25) && !has_adc(29));
        assert_eq!(adc_input(27), Some(1));
        assert_eq!(i2c_line(0, 4), Some(I2cLine::Sda));
        assert_eq!(i2c_line(0, 5), Some(I2cLine::Scl));
        assert_eq!(i2c_line(1, 2), Some(I2cLine::Sda));
        assert_eq!(i2c_line(1, 27), Some(I2cLine::Scl));
        assert_eq!(i2c_line(0, 2), None);
        assert_eq!(i2c_line(2, 0), None);
        // 0.706 V is 27 degrees by definition (876 of 4095 is 0.7059 V).
        assert!((celsius_from_raw(876) - 27.0).abs() < 0.1);
    }

    #[test]
    fn twenty_six_usable_pins() {
        assert_eq!(usable_pins().count(), 26);
        assert!(usable_pins().eq(piconet_protocol::PICO_W_HEADER_PINS));
        for p in [23, 24, 25, 29] {
            assert!(matches!(pin_kind(p), PinKind::Reserved(_)), "{p}");
        }
    }
}
