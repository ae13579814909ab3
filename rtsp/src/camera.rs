//! One camera: its analysis pipeline, the feed into it, the relay out of it, and the
//! supervisor of its source (see `crate::pipeline` for the three pipelines).

use crate::args::{Camera, Options};
use crate::feed::Feed;
use crate::relay::{self, Relay};
use crate::supervise::Supervisor;
use crate::{pipeline, stamp};
use gst::prelude::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, sync_channel};
use std::time::Duration;

/// How long stopping waits for the analysis to write its last events.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Running {
    pub camera: Camera,
    pub analysis: gst::Pipeline,
    pub feed: Arc<Feed>,
    pub relay: Arc<Relay>,
    analysed: Arc<AtomicU64>,
    supervisor: Option<Supervisor>,
    filler: Option<std::thread::JoinHandle<()>>,
    stopped: bool,
}

/// Why a camera could not start.
#[derive(Debug)]
pub enum StartError {
    /// The analysis pipeline's line is wrong (a bad `--*-opts`): exit 2.
    Launch(String),
    /// An element failed to start (a model, the gallery, the JSON file): exit 1.
    Analysis(String),
}

/// The first error message on `bus`, as one line.
pub fn first_error(bus: &gst::Bus) -> Option<String> {
    let msg = bus.timed_pop_filtered(gst::ClockTime::from_mseconds(200), &[gst::MessageType::Error])?;
    let gst::MessageView::Error(e) = msg.view() else {
        return None;
    };
    let source = msg.src().map(|s| s.path_string().to_string()).unwrap_or_default();
    let debug = e.debug().map(|d| format!(" ({d})")).unwrap_or_default();
    Some(format!("{source}: {}{debug}", e.error()))
}

impl Running {
    /// Builds and plays the camera's analysis (the elements load their models and the
    /// gallery here, so their errors come out now), then starts the relay.
    pub fn start_analysis(camera: &Camera, options: &Options) -> Result<Running, StartError> {
        let line = pipeline::analysis_line(camera, options);
        let analysis = gst::parse::launch(&line)
            .map_err(|e| StartError::Launch(e.to_string()))?
            .downcast::<gst::Pipeline>()
            .map_err(|_| StartError::Launch("not a pipeline".into()))?;
        let by_name = |n: &str| {
            analysis
                .by_name(n)
                .ok_or_else(|| StartError::Launch(format!("no element named {n}")))
        };
        let src = by_name(pipeline::SRC)?
            .downcast::<gst_app::AppSrc>()
            .map_err(|_| StartError::Launch("src is not an appsrc".into()))?;
        let out = by_name(pipeline::OUT)?
            .downcast::<gst_app::AppSink>()
            .map_err(|_| StartError::Launch("out is not an appsink".into()))?;
        let size = options.size.unwrap_or(relay::DEFAULT_SIZE);
        let relay = Relay::new(&camera.name, size);
        let analysed = Arc::new(AtomicU64::new(0));
        {
            let (relay, analysed) = (relay.clone(), analysed.clone());
            out.set_callbacks(
                gst_app::AppSinkCallbacks::builder()
                    .new_sample(move |s| {
                        let sample = s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                        analysed.fetch_add(1, Ordering::Relaxed);
                        // The appsrc stamped it with this pipeline's running time on arrival.
                        let captured = sample
                            .buffer()
                            .and_then(|b| b.pts())
                            .zip(s.base_time())
                            .map(|(pts, base)| pts + base);
                        relay.frame(&sample, captured);
                        Ok(gst::FlowSuccess::Ok)
                    })
                    .build(),
            );
        }
        // The loss and the end travel through the analysis in order with the frames, so
        // the relay switches to the slate after the last frame from before the outage.
        if let Some(pad) = out.static_pad("sink") {
            let relay = relay.clone();
            pad.add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, move |_, info| {
                if let Some(event) = info.event() {
                    match gstface::source::change(event) {
                        Some(gstface::source::Change::Lost { reason }) => relay.lost(&reason),
                        _ if matches!(event.view(), gst::EventView::Eos(_)) => relay.ended(),
                        _ => {}
                    }
                }
                gst::PadProbeReturn::Ok
            });
        }
        if options.stamp
            && let Some(p) = analysis.by_name(pipeline::LEAK).and_then(|e| e.static_pad("sink"))
        {
            stamp::install(&p);
        }
        if analysis.set_state(gst::State::Playing).is_err() {
            let why = analysis
                .bus()
                .and_then(|b| first_error(&b))
                .unwrap_or_else(|| "the analysis pipeline does not start".into());
            let _ = analysis.set_state(gst::State::Null);
            return Err(StartError::Analysis(why));
        }
        let filler = relay.spawn_filler();
        Ok(Running {
            camera: camera.clone(),
            analysis,
            feed: Arc::new(Feed::new(&camera.name, src)),
            relay,
            analysed,
            supervisor: None,
            filler: Some(filler),
            stopped: false,
        })
    }

    /// Starts supervising the source. With `wait_first`, returns a channel that says how
    /// the first try went (see `Supervisor::start`).
    pub fn start_source(&mut self, options: Arc<Options>, wait_first: bool) -> Option<Receiver<Result<(), String>>> {
        let (tx, rx) = if wait_first {
            let (tx, rx) = sync_channel(1);
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        self.supervisor = Some(Supervisor::start(self.camera.clone(), options, self.feed.clone(), tx));
        rx
    }

    /// The count of frames analysed so far.
    pub fn analysed_counter(&self) -> Arc<AtomicU64> {
        self.analysed.clone()
    }

    /// Stops the source, lets the analysis finish (facejson writes the faces still in
    /// view as `left`), and stops everything.
    pub fn stop(&mut self) {
        if std::mem::replace(&mut self.stopped, true) {
            return;
        }
        if let Some(mut s) = self.supervisor.take() {
            s.stop();
        }
        if !self.relay.has_ended() {
            self.feed.ended();
            if let Some(bus) = self.analysis.bus() {
                let _ = bus.timed_pop_filtered(
                    gst::ClockTime::from_nseconds(DRAIN_TIMEOUT.as_nanos() as u64),
                    &[gst::MessageType::Eos, gst::MessageType::Error],
                );
            }
        }
        let _ = self.analysis.set_state(gst::State::Null);
        self.relay.stop();
        if let Some(f) = self.filler.take() {
            let _ = f.join();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}
