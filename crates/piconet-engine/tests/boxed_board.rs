//! `Box<dyn Board>` forwards every capability of the board inside it.

use piconet_engine::{Board, Instant};
use piconet_sim::sim_flash::{sim_image, SimFlash};
use piconet_sim::SimBoard;

#[test]
fn a_boxed_board_keeps_its_capabilities() {
    let board = SimBoard::new().with_settings().with_flash(SimFlash::new(
        4,
        &sim_image("1.0.0", false, 0),
        [7; 32],
    ));
    let mut boxed: Box<dyn Board> = Box::new(board);
    assert!(boxed.update_slot().is_some());
    assert!(boxed.settings().is_some());
    let t = Instant::from_millis(3);
    assert_eq!(boxed.timestamp_ns(t), SimBoard::new().timestamp_ns(t));
}
