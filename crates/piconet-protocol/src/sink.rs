//! Where responses are written: a byte buffer the transport then sends.
//!
//! The firmware writes into a fixed buffer and the host into a `Vec`; the
//! engine is generic over both so the hot path never allocates on its own.

/// The response did not fit in the sink's capacity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Full;

impl core::fmt::Display for Full {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("response buffer full")
    }
}

/// An append-only byte buffer that can roll back to an earlier length.
///
/// Rolling back lets a writer replace a response that did not fit with a
/// short error instead of sending half a JSON object.
pub trait Sink {
    /// Bytes written so far.
    fn len(&self) -> usize;
    /// True when nothing was written.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Drop everything after the first `len` bytes.
    fn truncate(&mut self, len: usize);
    /// Append `bytes` whole, or nothing and `Err(Full)`.
    fn extend(&mut self, bytes: &[u8]) -> Result<(), Full>;
}

impl<const N: usize> Sink for heapless::Vec<u8, N> {
    fn len(&self) -> usize {
        self.as_slice().len()
    }
    fn truncate(&mut self, len: usize) {
        heapless::Vec::truncate(self, len)
    }
    fn extend(&mut self, bytes: &[u8]) -> Result<(), Full> {
        // Punctuation ("{", "}", "\n") is most writes: no copy loop for it.
        if let [b] = bytes {
            return self.push(*b).map_err(|_| Full);
        }
        self.extend_from_slice(bytes).map_err(|_| Full)
    }
}

/// A borrowed sink is a sink: the firmware's connections write into
/// buffers they borrow from a static pool rather than own.
impl<S: Sink + ?Sized> Sink for &mut S {
    fn len(&self) -> usize {
        (**self).len()
    }
    fn truncate(&mut self, len: usize) {
        (**self).truncate(len)
    }
    fn extend(&mut self, bytes: &[u8]) -> Result<(), Full> {
        (**self).extend(bytes)
    }
}

/// A [`Sink`] over a borrowed slice.
///
/// ```
/// use piconet_protocol::sink::{Sink, SliceSink};
/// let mut buf = [0u8; 4];
/// let mut s = SliceSink::new(&mut buf);
/// s.extend(b"ab").unwrap();
/// assert!(s.extend(b"cde").is_err());
/// assert_eq!(s.as_bytes(), b"ab");
/// ```
pub struct SliceSink<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> SliceSink<'a> {
    /// An empty sink writing into `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        SliceSink { buf, len: 0 }
    }
    /// What was written.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Sink for SliceSink<'_> {
    fn len(&self) -> usize {
        self.len
    }
    fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }
    fn extend(&mut self, bytes: &[u8]) -> Result<(), Full> {
        let end = self.len.checked_add(bytes.len()).ok_or(Full)?;
        let dst = self.buf.get_mut(self.len..end).ok_or(Full)?;
        dst.copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }
}

#[cfg(feature = "alloc")]
impl Sink for alloc::vec::Vec<u8> {
    fn len(&self) -> usize {
        alloc::vec::Vec::len(self)
    }
    fn truncate(&mut self, len: usize) {
        alloc::vec::Vec::truncate(self, len)
    }
    fn extend(&mut self, bytes: &[u8]) -> Result<(), Full> {
        self.extend_from_slice(bytes);
        Ok(())
    }
}
