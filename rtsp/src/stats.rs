//! `--stats`: each camera's frame rates (received, analysed, served to viewers), its
//! outages, and the process's memory, printed every few seconds.

use crate::camera::Running;
use crate::feed::Feed;
use crate::relay::Relay;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// What the statistics read of one camera.
pub struct Counters {
    name: String,
    feed: Arc<Feed>,
    relay: Arc<Relay>,
    analysed: Arc<AtomicU64>,
}

impl Counters {
    pub fn of(r: &Running) -> Counters {
        Counters {
            name: r.camera.name.clone(),
            feed: r.feed.clone(),
            relay: r.relay.clone(),
            analysed: r.analysed_counter(),
        }
    }

    /// Frames received, analysed and served so far.
    fn totals(&self) -> [u64; 3] {
        [
            self.feed.counts().0,
            self.analysed.load(Ordering::Relaxed),
            self.relay.served().0,
        ]
    }
}

/// The counts at the previous report.
pub struct Stats {
    at: Instant,
    before: Vec<[u64; 3]>,
}

impl Stats {
    pub fn new(cameras: &[Running]) -> Stats {
        Stats {
            at: Instant::now(),
            before: vec![[0; 3]; cameras.len()],
        }
    }

    /// One line: per camera the rates since the last report, then the process's memory.
    pub fn report(&mut self, cameras: &[Counters]) -> String {
        let secs = self.at.elapsed().as_secs_f64().max(1e-3);
        self.at = Instant::now();
        let mut parts = Vec::new();
        let mut total = 0.0;
        for (c, before) in cameras.iter().zip(self.before.iter_mut()) {
            let now = c.totals();
            let rate = |i: usize| (now[i] - before[i]) as f64 / secs;
            total += rate(1);
            let (_, outages) = c.feed.counts();
            let (_, media) = c.relay.served();
            parts.push(format!(
                "{} in {:.1} fps, analysed {:.1} fps, served {:.1} fps, {outages} outage(s), {media} media",
                c.name,
                rate(0),
                rate(1),
                rate(2)
            ));
            *before = now;
        }
        let rss = rss_mb().map(|m| format!("; RSS {m:.0} MB")).unwrap_or_default();
        format!("stats: {}; analysed in all {total:.1} fps{rss}", parts.join("; "))
    }
}

/// This process's resident memory in MB (Linux: /proc/self/status).
pub fn rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}
