//! TLS entropy: a ChaCha20 CSPRNG seeded from many noise bits.
//!
//! The RP2040 has no TRNG. Its ring oscillator's RANDOMBIT is a physical
//! noise source of unknown, possibly low, entropy per bit and with
//! correlation between close reads. It is never used directly: the seed is
//! SHA-256 over [`NOISE_BYTES`] bytes (8 × that many raw bits) plus the
//! caller's extra input (e.g. the flash unique id, so two boards with the
//! same noise never share a seed), and only the ChaCha20 stream keyed by
//! that hash reaches MbedTLS. Even at 0.05 bit of entropy per raw bit the
//! input carries over 3,000 bits, more than the 256-bit key.

use rand_chacha::ChaCha20Rng;
use rand_core::{SeedableRng, TryCryptoRng, TryRng};
use sha2::{Digest, Sha256};

/// Raw noise bytes hashed into the seed.
pub const NOISE_BYTES: usize = 8 * 1024;

/// A domain-separation label hashed first.
const LABEL: &[u8] = b"piconet-firmware entropy v1";

/// The CSPRNG handed to MbedTLS: ChaCha20 keyed by conditioned noise.
/// Implements rand_core 0.10's `CryptoRng`, which `mbedtls_rs::Tls::new`
/// takes.
pub struct Csprng(ChaCha20Rng);

impl Csprng {
    /// Seed from `noise` (called [`NOISE_BYTES`] times, one raw byte
    /// each) and `extra` (board-specific, not secret).
    pub fn from_noise(mut noise: impl FnMut() -> u8, extra: &[u8]) -> Self {
        let mut h = Sha256::new();
        h.update(LABEL);
        h.update((extra.len() as u32).to_le_bytes());
        h.update(extra);
        let mut block = [0u8; 64];
        for _ in 0..NOISE_BYTES / block.len() {
            block.iter_mut().for_each(|b| *b = noise());
            h.update(block);
        }
        let seed: [u8; 32] = h.finalize().into();
        Csprng(ChaCha20Rng::from_seed(seed))
    }
}

impl TryRng for Csprng {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        self.0.try_next_u32()
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        self.0.try_next_u64()
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        self.0.try_fill_bytes(dst)
    }
}

impl TryCryptoRng for Csprng {}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::Rng;

    fn assert_crypto<R: rand_core::CryptoRng + Send>(_: &R) {}

    #[test]
    fn constant_noise_still_differs_by_extra_and_is_not_the_noise() {
        let mut a = Csprng::from_noise(|| 0, b"board-a");
        let mut b = Csprng::from_noise(|| 0, b"board-b");
        assert_crypto(&a);
        let (x, y) = (a.next_u64(), b.next_u64());
        assert_ne!(x, y);
        assert_ne!(x, 0);
    }

    #[test]
    fn every_noise_byte_is_used() {
        let mut n = 0usize;
        let _ = Csprng::from_noise(
            || {
                n += 1;
                n as u8
            },
            b"",
        );
        assert_eq!(n, NOISE_BYTES);
    }
}
