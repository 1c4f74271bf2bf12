//! The CYW43 radio: its driver task, and the control task that joins WiFi,
//! drives the status LED (CYW43 GPIO 0), applies power modes and samples
//! the RSSI. Everything that needs `cyw43::Control` happens in that one
//! task; other code talks to it through signals.

use embassy_futures::select::{select4, Either4};
use embassy_net::Stack;
use embassy_rp::gpio::Output;
use embassy_rp::peripherals::PIO0;
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::signal::Signal;
use embassy_time::{Duration, Ticker, Timer};
use piconet_engine::settings::RadioPower;
use portable_atomic::{AtomicI32, AtomicU32, AtomicU8, Ordering};

use crate::SHARED;

/// The LED level wanted (latest wins).
pub static LED: Signal<CriticalSectionRawMutex, bool> = Signal::new();
/// Radio requests from the power task.
pub static RADIO: Signal<CriticalSectionRawMutex, RadioRequest> = Signal::new();
/// Last RSSI in dBm, 0 when unknown.
pub static RSSI: AtomicI32 = AtomicI32::new(0);
/// Current IPv4 address (big-endian u32), 0 when none.
pub static IPV4: AtomicU32 = AtomicU32::new(0);

/// The provisioned radio power mode (`set_radio_power`), set once at boot
/// before the radio starts; its code is the index in [`RadioPower::ALL`].
static AWAKE: AtomicU8 = AtomicU8::new(0);

/// Use `mode` while the board is awake (at boot, from the settings).
pub fn set_awake_power(mode: RadioPower) {
    let code = RadioPower::ALL.iter().position(|&m| m == mode).unwrap_or(0);
    AWAKE.store(code as u8, Ordering::Relaxed);
}

/// The CYW43's power mode while the board is awake: by default `None`,
/// latency first. In `PowerSave` (the chip driver's default) the radio
/// sleeps between beacons and peers measured up to ≈ 200 ms added to a
/// packet (cyw43-driver#126), which would swamp a lease's timing or an
/// event's latency; `None` keeps it listening, for more current drawn
/// (tens of mA rather than a few; not measured here: that needs the
/// board). A board provisioned with `set_radio_power` trades latency for
/// current as it chose; light `sleep` uses `SuperSave` whatever it is.
pub fn awake_power() -> cyw43::PowerManagementMode {
    let mode = RadioPower::ALL
        .get(usize::from(AWAKE.load(Ordering::Relaxed)))
        .copied()
        .unwrap_or_default();
    match mode {
        RadioPower::None => cyw43::PowerManagementMode::None,
        RadioPower::Performance => cyw43::PowerManagementMode::Performance,
        RadioPower::PowerSave => cyw43::PowerManagementMode::PowerSave,
        RadioPower::Aggressive => cyw43::PowerManagementMode::Aggressive,
    }
}

/// What the power task asks of the radio.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RadioRequest {
    /// Normal operation ([`awake_power`]).
    Awake,
    /// Light sleep: the CYW43's deepest power-save that still keeps the
    /// association, so a command still arrives (with more latency).
    LightSleep,
    /// Deep sleep: leave the network.
    Off,
}

type Spi = cyw43_pio::PioSpi<'static, PIO0, 0>;

#[embassy_executor::task]
pub async fn cyw43_task(runner: cyw43::Runner<'static, cyw43::SpiBus<Output<'static>, Spi>>) -> ! {
    runner.run().await
}

#[embassy_executor::task]
pub async fn net_task(mut runner: embassy_net::Runner<'static, cyw43::NetDriver<'static>>) -> ! {
    runner.run().await
}

/// Join WiFi (retrying), keep the link-up flag and address current, and
/// serve LED / power / RSSI requests.
#[embassy_executor::task]
pub async fn control_task(
    mut control: cyw43::Control<'static>,
    stack: Stack<'static>,
    ssid: &'static str,
    password: &'static str,
) -> ! {
    let shared = SHARED.get();
    let mut joined = false;
    let mut rssi = Ticker::every(Duration::from_secs(10));
    let mut off = false;
    loop {
        if !joined && !off {
            shared.set_link_up(false);
            IPV4.store(0, Ordering::Relaxed);
            let options = if password.is_empty() {
                cyw43::JoinOptions::new_open()
            } else {
                cyw43::JoinOptions::new(password.as_bytes())
            };
            match control.join(ssid, options).await {
                Ok(()) => {
                    stack.wait_config_up().await;
                    if let Some(cfg) = stack.config_v4() {
                        IPV4.store(u32::from(cfg.address.address()), Ordering::Relaxed);
                    }
                    shared.set_link_up(true);
                    joined = true;
                }
                Err(_) => {
                    // Show the connecting pattern while waiting to retry.
                    let retry = Timer::after(Duration::from_secs(2));
                    let mut retry = core::pin::pin!(retry);
                    loop {
                        match embassy_futures::select::select(&mut retry, LED.wait()).await {
                            embassy_futures::select::Either::First(()) => break,
                            embassy_futures::select::Either::Second(on) => {
                                control.gpio_set(0, on).await
                            }
                        }
                    }
                    continue;
                }
            }
        }
        // Only a joined link can go down; otherwise wait_config_down would
        // return at once and spin.
        let link_lost = async {
            if joined {
                stack.wait_config_down().await
            } else {
                core::future::pending().await
            }
        };
        match select4(LED.wait(), RADIO.wait(), rssi.next(), link_lost).await {
            Either4::First(on) => control.gpio_set(0, on).await,
            Either4::Second(req) => match req {
                RadioRequest::Awake => {
                    off = false;
                    control.set_power_management(awake_power()).await
                }
                RadioRequest::LightSleep => {
                    control
                        .set_power_management(cyw43::PowerManagementMode::SuperSave)
                        .await
                }
                RadioRequest::Off => {
                    off = true;
                    joined = false;
                    control.gpio_set(0, false).await;
                    control.leave().await;
                    shared.set_link_up(false);
                }
            },
            Either4::Third(()) => {
                if joined {
                    RSSI.store(control.get_rssi().await, Ordering::Relaxed);
                }
            }
            Either4::Fourth(()) => {
                // Lost the address (AP gone, DHCP lease lost): rejoin.
                joined = false;
                RSSI.store(0, Ordering::Relaxed);
                control.leave().await;
            }
        }
    }
}
