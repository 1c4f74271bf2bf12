//! [`UpdateSlot`] over embassy-boot: the DFU partition and the
//! bootloader state of any `embedded-storage` NOR flash. The firmware
//! uses it over the RP2040's flash, the simulated board over RAM.
//!
//! Signatures are checked by embassy-boot's own
//! `BlockingFirmwareUpdater::verify_and_mark_updated`: ed25519 over the
//! SHA-512 digest of the image as stored in the DFU partition.

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use embassy_boot::{
    BlockingFirmwareState, BlockingFirmwareUpdater, FirmwareUpdaterConfig, FirmwareUpdaterError,
    State,
};
use embedded_storage::nor_flash::NorFlash;

use piconet_engine::update::{FlashOp, LastUpdate, UpdateError, UpdateSlot};

/// Largest flash write granularity supported (embassy-boot's own bound).
const MAX_WRITE_SIZE: usize = 32;

/// An update slot over embassy-boot's DFU and STATE partitions.
///
/// `V` is the running image's version (`&'static str` in a firmware, an
/// owned string in the simulator).
pub struct BootSlot<DFU, STATE, V> {
    dfu: DFU,
    state: STATE,
    public_key: [u8; 32],
    version: V,
    last: LastUpdate,
    /// DFU bytes erased for the upload under way: sectors are erased as
    /// chunks reach them, not all at once, so a board never stalls for
    /// the seconds a whole-slot erase takes.
    erased_to: u32,
}

impl<DFU: NorFlash, STATE: NorFlash, V: AsRef<str>> BootSlot<DFU, STATE, V> {
    /// A slot trusting `public_key`, for the image that runs as `version`.
    /// Reads the bootloader state to learn how this boot came about.
    pub fn new(dfu: DFU, state: STATE, public_key: [u8; 32], version: V) -> Self {
        let mut slot = BootSlot {
            dfu,
            state,
            public_key,
            version,
            last: LastUpdate::None,
            erased_to: 0,
        };
        slot.rebooted_keep_version();
        slot
    }

    /// The key images must be signed with.
    pub fn public_key(&self) -> [u8; 32] {
        self.public_key
    }

    /// The partitions, for the bootloader's run at a simulated reset.
    pub fn partitions_mut(&mut self) -> (&mut DFU, &mut STATE) {
        (&mut self.dfu, &mut self.state)
    }

    /// After a reset: `version` runs now, and the bootloader state tells
    /// how it came to run.
    pub fn rebooted(&mut self, version: V) {
        self.version = version;
        self.rebooted_keep_version();
    }

    fn rebooted_keep_version(&mut self) {
        self.erased_to = 0;
        self.last = match self.boot_state() {
            Ok(State::Swap) => LastUpdate::Unconfirmed,
            Ok(State::Revert) => LastUpdate::RolledBack,
            _ => LastUpdate::None,
        };
    }

    fn with_state<R>(
        &mut self,
        f: impl FnOnce(&mut BlockingFirmwareState<'_, &mut STATE>) -> Result<R, FirmwareUpdaterError>,
    ) -> Result<R, UpdateError> {
        assert!(STATE::WRITE_SIZE <= MAX_WRITE_SIZE);
        let mut aligned = [0u8; MAX_WRITE_SIZE];
        let mut state =
            BlockingFirmwareState::new(&mut self.state, &mut aligned[..STATE::WRITE_SIZE]);
        f(&mut state).map_err(|e| map_error(e, FlashOp::State))
    }

    fn boot_state(&mut self) -> Result<State, UpdateError> {
        self.with_state(|s| s.get_state())
    }
}

fn map_error(e: FirmwareUpdaterError, op: FlashOp) -> UpdateError {
    match e {
        FirmwareUpdaterError::Signature(_) => UpdateError::BadSignature,
        FirmwareUpdaterError::BadState => UpdateError::NotConfirmed,
        FirmwareUpdaterError::Flash(_) => UpdateError::Flash(op),
    }
}

impl<DFU: NorFlash, STATE: NorFlash, V: AsRef<str>> UpdateSlot for BootSlot<DFU, STATE, V> {
    fn capacity(&self) -> u32 {
        // The swap needs one spare page in DFU beyond the ACTIVE size.
        (self.dfu.capacity() - DFU::ERASE_SIZE) as u32
    }

    fn prepare(&mut self, _size: u32) -> Result<(), UpdateError> {
        if self.boot_state()? == State::Swap {
            return Err(UpdateError::NotConfirmed);
        }
        self.erased_to = 0;
        Ok(())
    }

    fn write(&mut self, offset: u32, data: &[u8]) -> Result<(), UpdateError> {
        let end = offset as usize + data.len();
        while (self.erased_to as usize) < end {
            let from = self.erased_to;
            let to = from + DFU::ERASE_SIZE as u32;
            self.dfu
                .erase(from, to)
                .map_err(|_| UpdateError::Flash(FlashOp::Erase))?;
            self.erased_to = to;
        }
        // Chunks start aligned (multiples of 256); only the image's last
        // chunk may end off the write granularity: pad it with the erased
        // value, which the signature check never reads (it stops at size).
        let whole = data.len() - data.len() % DFU::WRITE_SIZE;
        let (body, tail) = data.split_at(whole);
        let write_err = |_| UpdateError::Flash(FlashOp::Write);
        self.dfu.write(offset, body).map_err(write_err)?;
        if !tail.is_empty() {
            assert!(DFU::WRITE_SIZE <= MAX_WRITE_SIZE);
            let mut padded = [0xFFu8; MAX_WRITE_SIZE];
            padded[..tail.len()].copy_from_slice(tail);
            self.dfu
                .write(offset + whole as u32, &padded[..DFU::WRITE_SIZE])
                .map_err(write_err)?;
        }
        Ok(())
    }

    fn verify_and_mark(&mut self, signature: &[u8; 64], size: u32) -> Result<(), UpdateError> {
        let mut aligned = [0u8; MAX_WRITE_SIZE];
        let config = FirmwareUpdaterConfig {
            dfu: &mut self.dfu,
            state: &mut self.state,
        };
        let mut updater = BlockingFirmwareUpdater::new(config, &mut aligned[..STATE::WRITE_SIZE]);
        updater
            .verify_and_mark_updated(&self.public_key, signature, size)
            .map_err(|e| map_error(e, FlashOp::Read))
    }

    fn confirm_boot(&mut self) -> Result<(), UpdateError> {
        if self.boot_state()? == State::Swap {
            self.with_state(|s| s.mark_booted())?;
            self.last = LastUpdate::Confirmed;
        }
        Ok(())
    }

    fn running_version(&self) -> &str {
        self.version.as_ref()
    }

    fn last_update(&self) -> LastUpdate {
        self.last
    }
}
