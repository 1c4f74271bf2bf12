//! The whole update path over RAM flash: JSON lines through the engine,
//! embassy-boot's signature check, swap and revert, and power cuts.

use super::*;
use crate::SimBoard;
use ed25519_dalek::{Signer, SigningKey};
use piconet_engine::{After, Config, Engine, Instant};
use serde_json::Value;
use sha2::{Digest, Sha256, Sha512};
use std::format;
use std::string::{String, ToString};
use std::vec::Vec;

const PAGES: usize = 8;

fn key() -> SigningKey {
    SigningKey::from_bytes(&[42; 32])
}

/// What `piconet firmware sign` produces: the signature of the SHA-512
/// digest of the image (what embassy-boot verifies).
fn sign(key: &SigningKey, image: &[u8]) -> [u8; 64] {
    key.sign(&Sha512::digest(image)).to_bytes()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn engine() -> Engine<SimBoard> {
    let flash = SimFlash::new(
        PAGES,
        &sim_image("1.0.0", false, 5000),
        key().verifying_key().to_bytes(),
    );
    Engine::new(SimBoard::new().with_flash(flash), Config::default())
}

fn send(e: &mut Engine<SimBoard>, line: &str) -> (Value, After) {
    let mut out = Vec::new();
    let after = e.handle(Instant::ZERO, line.as_bytes(), &mut out);
    (serde_json::from_slice(&out).unwrap(), after)
}

fn begin_line(size: usize, sha: &[u8], sig: &[u8; 64], version: &str) -> String {
    format!(
        r#"{{"action": "update_begin", "size": {size}, "sha256": "{}", "signature": "{}", "version": "{version}"}}"#,
        hex(sha),
        hex(sig)
    )
}

fn chunk_line(offset: usize, data: &[u8]) -> String {
    use base64::Engine as _;
    format!(
        r#"{{"action": "update_chunk", "offset": {offset}, "data": "{}"}}"#,
        base64::engine::general_purpose::STANDARD.encode(data)
    )
}

/// Send `image` whole; the answers to begin, every chunk and finish.
fn upload(e: &mut Engine<SimBoard>, image: &[u8], sig: &[u8; 64]) -> Vec<(Value, After)> {
    let mut answers = Vec::new();
    answers.push(send(
        e,
        &begin_line(image.len(), &Sha256::digest(image), sig, "x"),
    ));
    for (i, c) in image.chunks(1024).enumerate() {
        answers.push(send(e, &chunk_line(i * 1024, c)));
    }
    answers.push(send(e, r#"{"action": "update_finish"}"#));
    answers
}

fn version(e: &mut Engine<SimBoard>) -> String {
    send(e, r#"{"action": "get_version"}"#).0["version"]
        .as_str()
        .unwrap()
        .to_string()
}

fn status(e: &mut Engine<SimBoard>) -> Value {
    send(e, r#"{"action": "update_status"}"#).0["update"].clone()
}

fn error(v: &Value) -> &str {
    v["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error in {v}"))
}

#[test]
fn a_full_update_swaps_in_the_new_image_which_confirms_itself() {
    let mut e = engine();
    assert_eq!(version(&mut e), "1.0.0");
    let image = sim_image("2.0.0", false, 9000);
    let answers = upload(&mut e, &image, &sign(&key(), &image));
    for (a, _) in &answers {
        assert!(a.get("error").is_none(), "{a}");
    }
    let (finish, after) = answers.last().unwrap();
    assert_eq!(finish["update"]["state"], "ready");
    assert_eq!(*after, After::Reset);
    e.after_reply(After::Reset);
    // The first command after the swap confirms the new image.
    assert_eq!(version(&mut e), "2.0.0");
    assert_eq!(status(&mut e)["last"], "confirmed");
    assert_eq!(
        &e.board().flash().unwrap().active()[..image.len()],
        &image[..]
    );
    // Confirmed: a plain reset keeps it.
    e.after_reply(After::Reset);
    assert_eq!(version(&mut e), "2.0.0");
    assert_eq!(status(&mut e)["last"], "none");
}

#[test]
fn an_image_that_never_confirms_is_rolled_back_at_the_next_reset() {
    let mut e = engine();
    let image = sim_image("2.0.0", false, 3000);
    upload(&mut e, &image, &sign(&key(), &image));
    e.after_reply(After::Reset);
    // The new image runs but serves nothing before the next reset.
    assert_eq!(
        e.board_mut().flash_mut().unwrap().slot().running_version(),
        "2.0.0"
    );
    e.after_reply(After::Reset);
    assert_eq!(version(&mut e), "1.0.0");
    let s = status(&mut e);
    assert_eq!(s["last"], "rolled_back");
    assert_eq!(s["running_version"], "1.0.0");
}

#[test]
fn an_image_that_crashes_at_boot_is_rolled_back() {
    let mut e = engine();
    let image = sim_image("2.0.0-broken", true, 3000);
    upload(&mut e, &image, &sign(&key(), &image));
    e.after_reply(After::Reset);
    assert_eq!(version(&mut e), "1.0.0");
    assert_eq!(status(&mut e)["last"], "rolled_back");
    // And a good update still works afterwards.
    let good = sim_image("2.0.1", false, 100);
    upload(&mut e, &good, &sign(&key(), &good));
    e.after_reply(After::Reset);
    assert_eq!(version(&mut e), "2.0.1");
}

#[test]
fn a_bad_signature_or_hash_is_refused_and_nothing_is_marked() {
    let mut e = engine();
    let image = sim_image("2.0.0", false, 3000);
    let other_key = SigningKey::from_bytes(&[7; 32]);
    let (finish, after) = upload(&mut e, &image, &sign(&other_key, &image))
        .pop()
        .unwrap();
    assert!(
        error(&finish).contains("signature does not verify"),
        "{finish}"
    );
    assert_eq!(after, After::Nothing);

    // Right signature, but the data sent differs from the declared hash.
    let sig = sign(&key(), &image);
    send(
        &mut e,
        &begin_line(image.len(), &Sha256::digest(&image), &sig, "2"),
    );
    let mut corrupted = image.clone();
    corrupted[2000] ^= 0x40;
    for (i, c) in corrupted.chunks(1024).enumerate() {
        send(&mut e, &chunk_line(i * 1024, c));
    }
    let (finish, _) = send(&mut e, r#"{"action": "update_finish"}"#);
    assert!(error(&finish).contains("SHA-256 differs"), "{finish}");

    // A declared hash that matches corrupted data: the signature catches it.
    send(
        &mut e,
        &begin_line(corrupted.len(), &Sha256::digest(&corrupted), &sig, "2"),
    );
    for (i, c) in corrupted.chunks(1024).enumerate() {
        send(&mut e, &chunk_line(i * 1024, c));
    }
    let (finish, _) = send(&mut e, r#"{"action": "update_finish"}"#);
    assert!(
        error(&finish).contains("signature does not verify"),
        "{finish}"
    );

    e.after_reply(After::Reset);
    assert_eq!(version(&mut e), "1.0.0");
    assert_eq!(status(&mut e)["last"], "none");
}

#[test]
fn a_wrong_size_or_out_of_order_chunks_are_refused_and_the_upload_resumes() {
    let mut e = engine();
    let capacity = PAGES * PAGE;
    let too_big = vec![0u8; capacity + 1];
    let (a, _) = send(&mut e, &begin_line(too_big.len(), &[0; 32], &[0; 64], "2"));
    assert!(error(&a).contains("holds at most 32768"), "{a}");

    let image = sim_image("2.0.0", false, 4000);
    let sig = sign(&key(), &image);
    send(
        &mut e,
        &begin_line(image.len(), &Sha256::digest(&image), &sig, "2.0.0"),
    );
    let (a, _) = send(&mut e, &chunk_line(1024, &image[1024..2048]));
    assert!(error(&a).contains("would leave a gap"), "{a}");
    send(&mut e, &chunk_line(0, &image[..1024]));
    let (a, _) = send(&mut e, &chunk_line(0, &image[..1024]));
    assert!(error(&a).contains("was already received"), "{a}");
    // The connection drops here; the client asks where to resume.
    let s = status(&mut e);
    assert_eq!(s["state"], "receiving");
    assert_eq!(s["next_offset"], 1024);
    assert_eq!(s["sha256"], hex(&Sha256::digest(&image)));
    assert_eq!(s["version"], "2.0.0");
    for (i, c) in image.chunks(1024).enumerate().skip(1) {
        let (a, _) = send(&mut e, &chunk_line(i * 1024, c));
        assert!(a.get("error").is_none(), "{a}");
    }
    let (a, after) = send(&mut e, r#"{"action": "update_finish"}"#);
    assert!(a.get("error").is_none(), "{a}");
    e.after_reply(after);
    assert_eq!(version(&mut e), "2.0.0");
}

/// Cut the power after `n` flash writes or erases counted from the start
/// of the upload, through the reset that follows it; then power on and
/// boot again. Returns the version that runs and whether the cut
/// happened at all (else the update ran to its end).
fn update_with_power_cut(n: u64, image: &[u8], sig: &[u8; 64]) -> (String, bool) {
    let mut e = engine();
    version(&mut e); // the factory image confirms itself first
    e.board().flash().unwrap().cut_power_after(n);
    let answers = upload(&mut e, image, sig);
    let marked = answers.last().unwrap().1 == After::Reset;
    // The board resets whether or not the upload got through: a power
    // cut is a reset too. The bootloader's swap may itself be cut short.
    e.after_reply(After::Reset);
    let flash = e.board_mut().flash_mut().unwrap();
    let cut = flash.power_lost();
    if cut {
        flash.restore_power();
        e.after_reply(After::Reset);
    }
    let running = version(&mut e);
    // Whatever runs is one of the two images, byte for byte.
    let active = e.board().flash().unwrap().active();
    let old = sim_image("1.0.0", false, 5000);
    assert!(
        active.starts_with(image) || active.starts_with(&old),
        "n = {n}: ACTIVE holds neither image"
    );
    // A marked image runs, unless the power failed after the swap and
    // before it could confirm itself: then the bootloader rolled it back,
    // and says so.
    if marked && running != "2.0.0" {
        assert_eq!(status(&mut e)["last"], "rolled_back", "n = {n}");
    }
    (running, cut)
}

#[test]
fn an_update_cut_at_every_flash_write_still_boots_a_valid_image() {
    let image = sim_image("2.0.0", false, 6000);
    let sig = sign(&key(), &image);
    let mut outcomes = [0usize; 2];
    let mut n = 0;
    loop {
        let (running, cut) = update_with_power_cut(n, &image, &sig);
        assert!(
            running == "1.0.0" || running == "2.0.0",
            "n = {n}: {running}"
        );
        outcomes[usize::from(running == "2.0.0")] += 1;
        if !cut {
            break;
        }
        n += 1;
    }
    // Every cut point was tried, up to one past the last operation.
    assert!(n > 20, "only {n} flash operations in an update?");
    assert!(outcomes[0] > 0 && outcomes[1] > 0, "{outcomes:?}");
}
