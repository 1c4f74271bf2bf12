//! [`Lines`] in memory. It records every request; a line requested with
//! edge detection gets its [`LineEdges`] in [`FakeLines::kernel`], where a
//! test plays the kernel and delivers edge events, as `CdevLines`' reader
//! does with the events the real kernel reports.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use piconet_engine::Pull;

use super::{LineConfig, Lines};
use crate::edges::{EdgeSender, KernelEdge, LineEdges};

/// The lines with edge detection on, by offset.
pub(crate) type Kernel = Arc<Mutex<HashMap<u32, LineEdges>>>;

#[derive(Default)]
pub(crate) struct FakeLines {
    /// Each held line's config and level.
    pub(crate) held: HashMap<u32, (LineConfig, bool)>,
    /// Every request: offset, config, and whether the line was held then.
    pub(crate) requests: Vec<(u32, LineConfig, bool)>,
    /// Requests fail.
    pub(crate) fail: bool,
    /// Levels driven and releases, in order.
    pub(crate) events: Vec<(&'static str, u32, bool)>,
    edges: Option<EdgeSender>,
    pub(crate) kernel: Kernel,
}

impl FakeLines {
    /// Lines whose edges go to `edges`; `kernel` is where the test finds
    /// the lines with edge detection on.
    pub(crate) fn with_edges(edges: EdgeSender, kernel: Kernel) -> Self {
        FakeLines {
            edges: Some(edges),
            kernel,
            ..FakeLines::default()
        }
    }
}

/// Deliver `edge` as the kernel would: panics when its line has no edge
/// detection (so a test sees a request that did not happen).
pub(crate) fn kernel_edge(kernel: &Kernel, edge: KernelEdge) -> bool {
    kernel
        .lock()
        .unwrap()
        .get_mut(&edge.offset)
        .unwrap_or_else(|| panic!("line {} has no edge detection", edge.offset))
        .deliver(edge)
}

impl Lines for FakeLines {
    fn num_lines(&self) -> u32 {
        28
    }
    fn label(&self) -> &str {
        "fake"
    }
    fn request(&mut self, offset: u32, cfg: LineConfig) -> Result<(), String> {
        if self.fail {
            return Err("EINVAL".into());
        }
        let was_held = self.held.contains_key(&offset);
        self.requests.push((offset, cfg, was_held));
        self.held
            .insert(offset, (cfg, cfg.output.unwrap_or(cfg.pull == Pull::Up)));
        let mut kernel = self.kernel.lock().unwrap();
        if cfg.edges && cfg.output.is_none() {
            let edges = self.edges.as_ref().ok_or("no edge sender")?;
            kernel.entry(offset).or_insert_with(|| edges.line(offset));
        } else {
            kernel.remove(&offset);
        }
        Ok(())
    }
    fn is_requested(&self, offset: u32) -> bool {
        self.held.contains_key(&offset)
    }
    fn release(&mut self, offset: u32) {
        if let Some((_, high)) = self.held.remove(&offset) {
            self.events.push(("released", offset, high));
        }
        self.kernel.lock().unwrap().remove(&offset);
    }
    fn release_all(&mut self) {
        for (offset, (_, high)) in &self.held {
            self.events.push(("released", *offset, *high));
        }
        self.held.clear();
        self.kernel.lock().unwrap().clear();
    }
    fn set(&mut self, offset: u32, high: bool) -> Result<(), String> {
        let l = self.held.get_mut(&offset).ok_or("not held")?;
        l.1 = high;
        self.events.push(("set", offset, high));
        Ok(())
    }
    fn get(&mut self, offset: u32) -> Result<bool, String> {
        self.held
            .get(&offset)
            .map(|l| l.1)
            .ok_or_else(|| "not held".into())
    }
}
