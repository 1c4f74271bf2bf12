//! The upload state machine against a slot that records what it is told.

use super::*;
use std::vec::Vec;

/// A slot in RAM whose signature check accepts one fixed signature.
struct MockSlot {
    data: Vec<u8>,
    capacity: u32,
    good_signature: [u8; 64],
    marked: Option<u32>,
    prepared: u32,
}

impl MockSlot {
    fn new(capacity: u32) -> Self {
        MockSlot {
            data: std::vec![0xff; capacity as usize],
            capacity,
            good_signature: [7; 64],
            marked: None,
            prepared: 0,
        }
    }
}

impl UpdateSlot for MockSlot {
    fn capacity(&self) -> u32 {
        self.capacity
    }
    fn prepare(&mut self, _size: u32) -> Result<(), UpdateError> {
        self.prepared += 1;
        Ok(())
    }
    fn write(&mut self, offset: u32, data: &[u8]) -> Result<(), UpdateError> {
        self.data[offset as usize..offset as usize + data.len()].copy_from_slice(data);
        Ok(())
    }
    fn verify_and_mark(&mut self, signature: &[u8; 64], size: u32) -> Result<(), UpdateError> {
        if *signature != self.good_signature {
            return Err(UpdateError::BadSignature);
        }
        self.marked = Some(size);
        Ok(())
    }
    fn confirm_boot(&mut self) -> Result<(), UpdateError> {
        Ok(())
    }
    fn running_version(&self) -> &str {
        "1.0.0"
    }
    fn last_update(&self) -> LastUpdate {
        LastUpdate::None
    }
}

fn image(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

fn hex(bytes: &[u8]) -> Vec<u8> {
    let mut out = std::vec![0u8; bytes.len() * 2];
    write_hex(bytes, &mut out);
    out
}

/// Begin an upload of `img` with the declared hash of `declared`.
fn begin(
    up: &mut Upload,
    slot: &mut MockSlot,
    img: &[u8],
    signature: [u8; 64],
) -> Result<(), UpdateError> {
    let sha = hex(&Sha256::digest(img));
    let sig = hex(&signature);
    up.begin(
        slot,
        img.len() as u32,
        Sha256Hex::parse(&sha).unwrap(),
        SignatureHex::parse(&sig).unwrap(),
        Some("2.0.0"),
    )
}

fn send_all(up: &mut Upload, slot: &mut MockSlot, img: &[u8]) {
    for (i, chunk) in img.chunks(1024).enumerate() {
        up.chunk(slot, (i * 1024) as u32, chunk).unwrap();
    }
}

#[test]
fn a_whole_image_is_written_hashed_and_marked() {
    let (mut up, mut slot) = (Upload::default(), MockSlot::new(8192));
    let img = image(5000);
    begin(&mut up, &mut slot, &img, [7; 64]).unwrap();
    send_all(&mut up, &mut slot, &img);
    up.finish(&mut slot).unwrap();
    assert_eq!(slot.marked, Some(5000));
    assert_eq!(&slot.data[..5000], &img[..]);
    assert_eq!(up.phase, Phase::Ready);
}

#[test]
fn chunks_out_of_order_duplicated_or_overlapping_are_refused_and_the_upload_continues() {
    let (mut up, mut slot) = (Upload::default(), MockSlot::new(8192));
    let img = image(3000);
    begin(&mut up, &mut slot, &img, [7; 64]).unwrap();
    assert_eq!(
        up.chunk(&mut slot, 1024, &img[1024..2048]),
        Err(UpdateError::WrongOffset {
            got: 1024,
            expected: 0
        })
    );
    up.chunk(&mut slot, 0, &img[..1024]).unwrap();
    // The same chunk again (a retry after a lost answer): refused, harmless.
    assert_eq!(
        up.chunk(&mut slot, 0, &img[..1024]),
        Err(UpdateError::WrongOffset {
            got: 0,
            expected: 1024
        })
    );
    // Overlapping the received part.
    assert_eq!(
        up.chunk(&mut slot, 768, &img[768..1792]),
        Err(UpdateError::WrongOffset {
            got: 768,
            expected: 1024
        })
    );
    // A short chunk that does not end the image.
    assert_eq!(
        up.chunk(&mut slot, 1024, &img[1024..1100]),
        Err(UpdateError::ShortChunk { len: 76 })
    );
    assert_eq!(up.next, 1024, "refusals change nothing");
    up.chunk(&mut slot, 1024, &img[1024..2048]).unwrap();
    // Past the declared size.
    let mut long = img[2048..].to_vec();
    long.extend_from_slice(&[0; 256]);
    assert_eq!(
        up.chunk(&mut slot, 2048, &long),
        Err(UpdateError::PastEnd {
            end: 3256,
            size: 3000
        })
    );
    assert_eq!(
        up.finish(&mut slot),
        Err(UpdateError::Incomplete {
            received: 2048,
            size: 3000
        })
    );
    up.chunk(&mut slot, 2048, &img[2048..]).unwrap();
    up.finish(&mut slot).unwrap();
    assert_eq!(slot.marked, Some(3000));
}

#[test]
fn a_wrong_hash_is_refused_before_the_signature_and_nothing_is_marked() {
    let (mut up, mut slot) = (Upload::default(), MockSlot::new(8192));
    let img = image(2000);
    begin(&mut up, &mut slot, &img, [7; 64]).unwrap();
    let mut corrupted = img.clone();
    corrupted[1500] ^= 1;
    send_all(&mut up, &mut slot, &corrupted);
    assert_eq!(up.finish(&mut slot), Err(UpdateError::HashMismatch));
    assert_eq!(slot.marked, None);
    assert_eq!(up.phase, Phase::Idle, "a fresh upload is needed");
    assert_eq!(up.finish(&mut slot), Err(UpdateError::NotStarted));
}

#[test]
fn a_bad_signature_is_refused_and_nothing_is_marked() {
    let (mut up, mut slot) = (Upload::default(), MockSlot::new(8192));
    let img = image(2000);
    begin(&mut up, &mut slot, &img, [8; 64]).unwrap();
    send_all(&mut up, &mut slot, &img);
    assert_eq!(up.finish(&mut slot), Err(UpdateError::BadSignature));
    assert_eq!(slot.marked, None);
    assert_eq!(up.phase, Phase::Idle);
}

#[test]
fn an_image_larger_than_the_slot_is_refused_at_begin() {
    let (mut up, mut slot) = (Upload::default(), MockSlot::new(4096));
    let img = image(4097);
    assert_eq!(
        begin(&mut up, &mut slot, &img, [7; 64]),
        Err(UpdateError::TooLarge {
            size: 4097,
            capacity: 4096
        })
    );
    assert_eq!(slot.prepared, 0);
    assert_eq!(
        up.chunk(&mut slot, 0, &img[..1024]),
        Err(UpdateError::NotStarted)
    );
}

#[test]
fn a_new_begin_restarts_the_upload() {
    let (mut up, mut slot) = (Upload::default(), MockSlot::new(8192));
    let first = image(3000);
    begin(&mut up, &mut slot, &first, [7; 64]).unwrap();
    up.chunk(&mut slot, 0, &first[..1024]).unwrap();
    let second: Vec<u8> = image(2500).iter().map(|b| b ^ 0x55).collect();
    begin(&mut up, &mut slot, &second, [7; 64]).unwrap();
    assert_eq!(up.next, 0);
    send_all(&mut up, &mut slot, &second);
    up.finish(&mut slot).unwrap();
    assert_eq!(&slot.data[..2500], &second[..]);
    assert_eq!(slot.prepared, 2);
}

#[test]
fn the_status_reports_progress_and_the_declared_hash() {
    let (mut up, mut slot) = (Upload::default(), MockSlot::new(8192));
    let img = image(3000);
    begin(&mut up, &mut slot, &img, [7; 64]).unwrap();
    up.chunk(&mut slot, 0, &img[..1024]).unwrap();
    let mut out = Vec::new();
    let mut w = ObjectWriter::open(&mut out).unwrap();
    up.write_status(&slot, &mut w).unwrap();
    w.close().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["state"], "receiving");
    assert_eq!(v["size"], 3000);
    assert_eq!(v["next_offset"], 1024);
    assert_eq!(
        v["sha256"].as_str().unwrap().as_bytes(),
        &hex(&Sha256::digest(&img))[..]
    );
    assert_eq!(v["version"], "2.0.0");
    assert_eq!(v["running_version"], "1.0.0");
    assert_eq!(v["last"], "none");
}

#[test]
fn semver_precedence() {
    use crate::update::is_older;
    assert_eq!(is_older("1.0.0", "1.2.0"), Some(true));
    assert_eq!(is_older("1.10.0", "1.9.9"), Some(false));
    assert_eq!(is_older("2.0.0", "2.0.0"), Some(false));
    assert_eq!(is_older("2.0.0-rc.1", "2.0.0"), Some(true));
    assert_eq!(is_older("2.0.0", "2.0.0-rc.1"), Some(false));
    assert_eq!(is_older("2.0.0-rc.2", "2.0.0-rc.10"), Some(true));
    assert_eq!(is_older("2.0.0-alpha", "2.0.0-1"), Some(false));
    assert_eq!(is_older("2.0.0-rc", "2.0.0-rc.1"), Some(true));
    assert_eq!(is_older("1.0.0+build.5", "1.0.0"), Some(false));
    for bad in ["1.2", "1.2.3.4", "v1.2.3", "1..3", "1.2.3-", "1.2.x"] {
        assert_eq!(is_older(bad, "1.0.0"), None, "{bad}");
    }
}
