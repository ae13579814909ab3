//! The three pipelines behind each camera, as launch lines.
//!
//! - **ingest**: the camera, decoded to I420 into an appsink named `frames`. It is the
//!   only part that fails when the camera does, so it is the only part the supervisor
//!   (`crate::supervise`) tears down and builds again.
//! - **analysis**: an appsrc named `src` fed with the camera's frames, the face chain
//!   (facedetect, faceid, faceemotion, optionally facejson, faceannotate) and an appsink
//!   named `out`. It runs from start to exit, so tracks, events and models outlive any
//!   outage.
//! - **media**: what gst-rtsp-server builds for the viewers: an appsrc named `src` fed
//!   by the camera's relay (`crate::relay`), the H.264 encoder and the payloader `pay0`.
//!   It exists only while someone watches.
//!
//! Elements the supervisor and the server look up by name: `convert` (after the decoder,
//! where `--loop` restarts a file), `leak` (the leaky queue in front of the analysis,
//! where `--stamp` writes), `frames`, `src` and `out`.

use crate::args::{Camera, Input, Options, Source, UsageError};

/// Element names (see the module docs).
pub const CONVERT: &str = "convert";
pub const LEAK: &str = "leak";
pub const FRAMES: &str = "frames";
pub const SRC: &str = "src";
pub const OUT: &str = "out";

/// A value for a launch line, in double quotes (paths and URLs may hold spaces or `!`).
pub fn quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

/// The H.264 encoders face-rtsp knows how to configure for low latency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoder {
    X264,
    /// Jetson: takes NVMM memory, so nvvidconv copies the annotated frame there first.
    Nvv4l2,
    /// The `va` plugin (gst-plugins-bad, VA-API on Intel/AMD).
    Va,
    /// The older gstreamer-vaapi plugin.
    Vaapi,
    /// V4L2 memory-to-memory encoders (Raspberry Pi and other SoCs).
    V4l2,
}

impl Encoder {
    /// Hardware first: `auto` takes the first of these whose element is installed.
    const AUTO_ORDER: [Encoder; 5] = [Self::Nvv4l2, Self::Va, Self::Vaapi, Self::V4l2, Self::X264];

    pub fn factory(self) -> &'static str {
        match self {
            Self::X264 => "x264enc",
            Self::Nvv4l2 => "nvv4l2h264enc",
            Self::Va => "vah264enc",
            Self::Vaapi => "vaapih264enc",
            Self::V4l2 => "v4l2h264enc",
        }
    }

    fn installed(self) -> bool {
        gst::ElementFactory::find(self.factory()).is_some()
    }

    /// `--encoder` to an encoder whose element is installed (GStreamer must be initialised).
    pub fn resolve(name: &str) -> Result<Encoder, UsageError> {
        const FLAG: &str = "--encoder";
        let named = match name {
            "auto" => {
                return Self::AUTO_ORDER.into_iter().find(|e| e.installed()).ok_or_else(|| {
                    UsageError::new(
                        FLAG,
                        Some(name),
                        "no H.264 encoder is installed (x264enc is in gstreamer1.0-plugins-ugly)",
                    )
                });
            }
            "x264" | "x264enc" => Self::X264,
            "nvv4l2" | "nvv4l2h264enc" => Self::Nvv4l2,
            "va" | "vah264enc" => Self::Va,
            "vaapi" | "vaapih264enc" => Self::Vaapi,
            "v4l2" | "v4l2h264enc" => Self::V4l2,
            _ => {
                return Err(UsageError::new(
                    FLAG,
                    Some(name),
                    "unknown encoder (auto, x264, nvv4l2, va, vaapi or v4l2)",
                ));
            }
        };
        if named.installed() {
            Ok(named)
        } else {
            Err(UsageError::new(
                FLAG,
                Some(name),
                format!("element {} is not installed", named.factory()),
            ))
        }
    }

    /// The encoder's part of the launch line, from I420 system memory to H.264.
    /// Every one is set for latency: no B-frames, and a keyframe every `key_int` frames
    /// so that a client joining the shared stream can start decoding within about a second.
    pub fn launch(self, bitrate_kbps: u32, key_int: u32) -> String {
        let bps = u64::from(bitrate_kbps) * 1000;
        match self {
            // zerolatency: no lookahead, no B-frames, sliced threads; ultrafast keeps the
            // CPU for the analysis.
            Self::X264 => {
                format!("x264enc tune=zerolatency speed-preset=ultrafast bitrate={bitrate_kbps} key-int-max={key_int}")
            }
            Self::Nvv4l2 => format!(
                "nvvidconv ! video/x-raw(memory:NVMM),format=I420 ! nvv4l2h264enc bitrate={bps} \
                 iframeinterval={key_int} idrinterval={key_int} insert-sps-pps=true maxperf-enable=true"
            ),
            Self::Va => format!("vah264enc bitrate={bitrate_kbps} key-int-max={key_int} b-frames=0"),
            Self::Vaapi => format!("vaapih264enc bitrate={bitrate_kbps} keyframe-period={key_int} max-bframes=0"),
            Self::V4l2 => format!(
                "v4l2h264enc extra-controls=\"controls,video_bitrate={bps},h264_i_frame_period={key_int}\" \
                 ! video/x-h264,level=(string)4"
            ),
        }
    }
}

/// The camera up to its decoded frames, before any conversion.
fn source(source: &Source, rtsp_latency_ms: u32) -> String {
    match source {
        // clocksync releases each decoded frame at its timestamp: a file then behaves like
        // a camera. Without it the decoder would run as fast as the CPU allows and the
        // leaky queue in front of the analysis would throw most frames away.
        Source::Input(Input::File(path)) => format!(
            "filesrc location={} ! decodebin ! videoconvert name={CONVERT} ! clocksync",
            quote(&path.to_string_lossy())
        ),
        // decodebin passes raw formats through and decodes MJPEG/H.264 cameras.
        Source::Input(Input::Device(dev)) => format!(
            "v4l2src device={} ! decodebin ! videoconvert name={CONVERT}",
            quote(dev)
        ),
        // latency: the jitterbuffer's delay (ms), the floor of what this input adds;
        // drop-on-latency: packets that arrive later than that are dropped instead of
        // letting the delay grow.
        Source::Input(Input::Rtsp(url)) => format!(
            "rtspsrc location={} latency={rtsp_latency_ms} drop-on-latency=true ! decodebin ! videoconvert name={CONVERT}",
            quote(url)
        ),
        Source::Launch(line) => format!("{line} ! videoconvert name={CONVERT}"),
    }
}

/// The ingest pipeline: the camera as I420 frames of `size` (when known) into `frames`.
///
/// After the first connection the size is the first connection's, so that a camera that
/// comes back at another resolution does not change the stream under the viewers (its
/// frames are scaled, with borders where the shape differs).
pub fn ingest_line(camera: &Camera, o: &Options, size: Option<(u32, u32)>) -> String {
    let caps = match size {
        Some((w, h)) => format!("video/x-raw,format=I420,width={w},height={h},pixel-aspect-ratio=1/1"),
        None => "video/x-raw,format=I420".to_string(),
    };
    format!(
        "{} ! videoscale ! {caps} ! appsink name={FRAMES} sync=false max-buffers=2 drop=true",
        source(&camera.source, o.rtsp_latency_ms)
    )
}

fn with_opts(element: &str, opts: &str) -> String {
    let opts = opts.trim();
    if opts.is_empty() {
        element.to_string()
    } else {
        format!("{element} {opts}")
    }
}

/// The element and options given for one analysis element, to check on their own.
pub fn element_options(o: &Options) -> [(&'static str, &'static str, String); 6] {
    [
        ("--detect-opts", "facedetect", o.detect_opts.clone()),
        ("--id-opts", "faceid", o.id_opts.clone()),
        ("--emotion-opts", "faceemotion", o.emotion_opts.clone()),
        ("--redact-opts", "faceredact", o.redact_opts.clone()),
        ("--annotate-opts", "faceannotate", o.annotate_opts.clone()),
        ("--json-opts", "facejson", o.json_opts.clone()),
    ]
}

/// The analysis pipeline of `camera`: frames in at `src`, annotated frames out at `out`.
pub fn analysis_line(camera: &Camera, o: &Options) -> String {
    let gallery = o
        .gallery
        .as_ref()
        .map(|g| format!(" gallery={}", quote(&g.to_string_lossy())))
        .unwrap_or_default();
    // The leaky queue is what keeps the stream live when the analysis is slower than
    // the source: it holds at most two frames and drops the oldest when a third comes,
    // so frames are skipped rather than delayed, and the delay stays bounded at about
    // two frames plus the processing time however long the stream runs. The small queue
    // between detection and identification lets the two run in parallel on two cores.
    // It is not leaky: it only pushes back to the leaky one.
    // With redaction, a face is detected on the frame it enters, not on the next
    // detection frame: between two, a new face has no track to hide it. --detect-opts
    // come after, so a user's interval still wins.
    let detect = if o.redact.is_some() {
        "facedetect interval=1"
    } else {
        "facedetect"
    };
    let mut stages = vec![
        format!("appsrc name={SRC} is-live=true format=time do-timestamp=true"),
        format!("queue name={LEAK} leaky=downstream max-size-buffers=2 max-size-bytes=0 max-size-time=0"),
        with_opts(detect, &o.detect_opts),
        "queue max-size-buffers=2 max-size-bytes=0 max-size-time=0".to_string(),
        with_opts(&format!("faceid{gallery}"), &o.id_opts),
        with_opts("faceemotion", &o.emotion_opts),
    ];
    if let Some(location) = o.json_location(camera) {
        let json = format!(
            "facejson location={} mode={} source={}",
            quote(&location),
            o.json_mode.nick(),
            quote(&camera.name)
        );
        stages.push(with_opts(&json, &o.json_opts));
    }
    // Before the drawing and the appsink: no frame reaches the encoder, and so no
    // viewer, with a face faceredact is there to hide.
    if let Some(who) = &o.redact {
        stages.push(with_opts(&format!("faceredact {who}"), &o.redact_opts));
    }
    stages.push(with_opts("faceannotate", &o.annotate_opts));
    stages.push(format!("appsink name={OUT} sync=false"));
    stages.join(" ! ")
}

/// The media's launch line, in parentheses as gst-rtsp-server expects: the relay's
/// frames, encoded. The leaky queue keeps a slow encoder from holding up the relay.
pub fn media_line(o: &Options, encoder: Encoder) -> String {
    [
        format!("( appsrc name={SRC} is-live=true format=time do-timestamp=true"),
        "queue leaky=downstream max-size-buffers=2 max-size-bytes=0 max-size-time=0".to_string(),
        encoder.launch(o.bitrate_kbps, o.keyframe_interval),
        // config-interval=-1: SPS/PPS go with every keyframe, so a late joiner needs nothing else.
        "h264parse ! rtph264pay name=pay0 pt=96 config-interval=-1 )".to_string(),
    ]
    .join(" ! ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Command, parse};

    fn options(a: &[&str]) -> Options {
        match parse(a.iter().map(|s| s.to_string())).unwrap() {
            Command::Serve(o) => *o,
            Command::Help => panic!("help"),
        }
    }

    fn in_order(line: &str, parts: &[&str]) {
        let mut at = 0;
        for part in parts {
            let found = line[at..]
                .find(part)
                .unwrap_or_else(|| panic!("{part} missing in order: {line}"));
            at += found + part.len();
        }
    }

    #[test]
    fn quoting_escapes_quotes_and_backslashes() {
        assert_eq!(quote(r#"a "b"\c"#), r#""a \"b\"\\c""#);
    }

    #[test]
    fn each_pipeline_has_its_stages_in_order() {
        let o = options(&[
            "--input",
            "door=rtsp://cam:554/s",
            "--input",
            "desk=rtsp://cam:554/t",
            "--detect-opts",
            "interval=1",
            "--size",
            "1280x720",
            "--json",
            "/tmp/{source}.jsonl",
        ]);
        let door = &o.cameras[0];
        in_order(
            &ingest_line(door, &o, o.size),
            &[
                "rtspsrc location=\"rtsp://cam:554/s\" latency=200 drop-on-latency=true",
                "videoconvert name=convert",
                "videoscale ! video/x-raw,format=I420,width=1280,height=720",
                "appsink name=frames",
            ],
        );
        in_order(
            &analysis_line(door, &o),
            &[
                "appsrc name=src is-live=true",
                "queue name=leak leaky=downstream max-size-buffers=2",
                "facedetect interval=1",
                "faceid",
                "faceemotion",
                "facejson location=\"/tmp/door.jsonl\" mode=events source=\"door\"",
                "faceannotate",
                "appsink name=out",
            ],
        );
        in_order(
            &media_line(&o, Encoder::X264),
            &[
                "( appsrc name=src is-live=true",
                "x264enc tune=zerolatency",
                "rtph264pay name=pay0 pt=96 config-interval=-1 )",
            ],
        );
    }

    #[test]
    fn redaction_comes_before_the_drawing() {
        let o = options(&[
            "--launch",
            "videotestsrc is-live=true",
            "--redact",
            "all",
            "--redact-opts",
            "margin=0.5",
        ]);
        in_order(
            &analysis_line(&o.cameras[0], &o),
            &[
                "facedetect interval=1",
                "faceid",
                "faceemotion",
                "faceredact who=all margin=0.5",
                "faceannotate",
                "appsink",
            ],
        );
        let plain = options(&["--launch", "videotestsrc is-live=true"]);
        assert!(!analysis_line(&plain.cameras[0], &plain).contains("faceredact"));
    }

    #[test]
    fn a_launch_line_is_the_source_and_the_rest_is_ours() {
        let o = options(&["--launch", "videotestsrc is-live=true"]);
        assert_eq!(
            ingest_line(&o.cameras[0], &o, None),
            "videotestsrc is-live=true ! videoconvert name=convert ! videoscale ! video/x-raw,format=I420 \
             ! appsink name=frames sync=false max-buffers=2 drop=true"
        );
        assert!(!analysis_line(&o.cameras[0], &o).contains("facejson"));
    }
}
