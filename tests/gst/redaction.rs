//! faceredact through the real chain: which faces come out hidden, on which frames, and
//! that a face stays hidden when the metadata stops saying where it is.

mod util;

use gst::prelude::*;
use gst_video::prelude::*;
use std::ops::Range;
use util::*;

const FRAME_NS: u64 = 40_000_000;

/// The pipeline of `desc`, with its appsrc `src` and appsink `sink`.
fn app_pipeline(desc: &str) -> (gst::Pipeline, gst_app::AppSrc, gst_app::AppSink) {
    let pipeline = launch(desc);
    let (src, sink) = (element(&pipeline, "src"), element(&pipeline, "sink"));
    (pipeline, src, sink)
}

/// The output frames of `frames` copies of `photo` through facedetect ! faceid !
/// faceredact `opts`, with the face metas taken off the frames in `drop_metas` before
/// faceredact (as if the detector and the tracker had lost the face there); and the
/// face's box on the first frame (x0, y0, x1, y1).
fn redact(photo: &str, gallery: &std::path::Path, opts: &str, frames: u64, drop_metas: Range<u64>) -> Run {
    redact_after(
        &format!("faceid gallery=\"{}\"", gallery.display()),
        photo,
        opts,
        frames,
        drop_metas,
    )
}

/// [`redact`] with `naming` (faceid and its options, or `identity` for none) between
/// facedetect and faceredact.
fn redact_after(naming: &str, photo: &str, opts: &str, frames: u64, drop_metas: Range<u64>) -> Run {
    init();
    let (caps, picture) = photo_buffer(&asset(&format!("photos/{photo}")), "RGB");
    let desc = format!(
        "appsrc name=src format=time ! facedetect ! {naming} ! identity name=gap \
         ! faceredact {opts} ! appsink name=sink sync=false"
    );
    let (pipeline, src, sink) = app_pipeline(&desc);
    src.set_caps(Some(&caps));
    let gap = pipeline.by_name("gap").expect("identity");
    gap.static_pad("src")
        .expect("src pad")
        .add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            let Some(buf) = info.buffer_mut() else {
                return gst::PadProbeReturn::Ok;
            };
            let frame = buf.pts().map_or(0, |t| t.nseconds() / FRAME_NS);
            if drop_metas.contains(&frame) {
                buf.make_mut().foreach_meta_mut(|mut m| {
                    if m.downcast_ref::<gst_video::VideoRegionOfInterestMeta>().is_some() {
                        std::ops::ControlFlow::Continue(gst::buffer::BufferMetaForeachAction::Remove)
                    } else {
                        std::ops::ControlFlow::Continue(gst::buffer::BufferMetaForeachAction::Keep)
                    }
                });
            }
            gst::PadProbeReturn::Ok
        });
    pipeline.set_state(gst::State::Playing).expect("plays");
    for i in 0..frames {
        let mut buf = picture.copy();
        let b = buf.get_mut().expect("writable");
        b.set_pts(gst::ClockTime::from_nseconds(i * FRAME_NS));
        b.set_duration(gst::ClockTime::from_nseconds(FRAME_NS));
        src.push_buffer(buf).expect("pushed");
    }
    src.end_of_stream().expect("eos");
    let mut out = Vec::new();
    while let Some(s) = sink.try_pull_sample(gst::ClockTime::from_seconds(120)) {
        out.push(s.buffer().expect("buffer").to_owned());
    }
    let bus = pipeline.bus().expect("bus");
    if let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error]) {
        panic!("pipeline failed: {msg:?}");
    }
    pipeline.set_state(gst::State::Null).expect("stops");
    assert_eq!(out.len() as u64, frames, "every frame comes out");
    let (w, h) = video_size(&caps);
    let first = &out[0];
    let face = first
        .iter_meta::<gst_video::VideoRegionOfInterestMeta>()
        .next()
        .map(|m| m.rect())
        .expect("a face on the first frame");
    let named = out
        .iter()
        .map(|b| {
            b.iter_meta::<gst_video::VideoRegionOfInterestMeta>().any(|m| {
                m.param("face-id")
                    .is_some_and(|f| f.get::<i32>("label_id").is_ok_and(|id| id >= 0))
            })
        })
        .collect();
    let marked = out
        .iter()
        .map(|b| {
            b.iter_meta::<gst_video::VideoRegionOfInterestMeta>().any(|m| {
                m.param("redaction")
                    .is_some_and(|r| r.get::<bool>("hidden") == Ok(true))
            })
        })
        .collect();
    Run {
        picture,
        named,
        marked,
        frames: out,
        width: w as usize,
        height: h as usize,
        face: [
            face.0 as usize,
            face.1 as usize,
            (face.0 + face.2) as usize,
            (face.1 + face.3) as usize,
        ],
    }
}

struct Run {
    picture: gst::Buffer,
    /// Per frame: whether a face meta says faceredact hid it.
    marked: Vec<bool>,
    /// Per frame: whether faceid named the face.
    named: Vec<bool>,
    frames: Vec<gst::Buffer>,
    width: usize,
    height: usize,
    face: [usize; 4],
}

impl Run {
    /// How much of the picture's fine detail frame `i` keeps over the middle of the face.
    fn detail_kept(&self, i: usize) -> f64 {
        let (a, b) = (
            self.picture.map_readable().expect("readable"),
            self.frames[i].map_readable().expect("readable"),
        );
        detail_kept(&a, &b, self.width, self.height, self.face)
    }

    fn hidden(&self, i: usize) -> bool {
        self.detail_kept(i) < 0.15
    }

    fn shown(&self, i: usize) -> bool {
        self.detail_kept(i) > 0.95
    }
}

#[test]
fn a_stranger_is_hidden_on_every_frame_and_an_enrolled_face_once_named() {
    let gallery = gallery_of("Barack_Obama", "obama.jpg");
    let stranger = redact("biden.jpg", &gallery, "", 20, 0..0);
    for i in 0..20 {
        assert!(
            stranger.hidden(i),
            "frame {i}: the stranger keeps {:.2} of his detail",
            stranger.detail_kept(i)
        );
        assert!(stranger.marked[i], "frame {i}: the stranger's meta says he is hidden");
    }
    // The enrolled face is hidden on every frame faceid has not named it, and shows on
    // every frame it has.
    let known = redact("obama2.jpg", &gallery, "", 20, 0..0);
    for i in 0..20 {
        if known.named[i] {
            assert!(
                known.shown(i),
                "frame {i}: the named face keeps only {:.2}",
                known.detail_kept(i)
            );
            assert!(!known.marked[i]);
        } else {
            assert!(known.hidden(i), "frame {i}: not named, yet shows");
        }
    }
    assert!(
        known.named[5..].iter().all(|&n| n),
        "faceid names the face within five frames"
    );
}

#[test]
fn a_face_nothing_has_named_yet_is_hidden() {
    // No faceid at all: no face has a name, so none may show.
    let run = redact_after("identity", "obama2.jpg", "", 10, 0..0);
    assert!((0..10).all(|i| run.hidden(i) && run.marked[i]));
}

#[test]
fn a_face_the_metadata_loses_for_a_few_frames_stays_hidden() {
    let gallery = gallery_of("Barack_Obama", "obama.jpg");
    let run = redact("biden.jpg", &gallery, "method=pixelate hold=10", 24, 6..12);
    for i in 0..24 {
        assert!(run.hidden(i), "frame {i}: keeps {:.2}", run.detail_kept(i));
    }
    // Past `hold`, a face with no metadata is no longer hidden: the hold is what hid it.
    let run = redact("biden.jpg", &gallery, "method=fill hold=2", 12, 4..12);
    assert!(run.hidden(5), "held while the metadata is away");
    assert!(
        run.shown(10),
        "let go after hold frames: keeps {:.2}",
        run.detail_kept(10)
    );
}

#[test]
fn who_all_hides_the_enrolled_too_and_who_known_shows_strangers() {
    let gallery = gallery_of("Barack_Obama", "obama.jpg");
    let all = redact("obama2.jpg", &gallery, "who=all", 15, 0..0);
    assert!((0..15).all(|i| all.hidden(i)));
    let known = redact("obama2.jpg", &gallery, "who=known", 15, 0..0);
    assert!((0..15).all(|i| known.hidden(i)));
    let stranger = redact("biden.jpg", &gallery, "who=known settle=5", 15, 0..0);
    assert!(stranger.hidden(0), "unsettled: hidden");
    assert!(stranger.shown(14), "a settled stranger shows with who=known");
    let listed = redact("obama2.jpg", &gallery, "who=listed hide=Barack_Obama", 15, 0..0);
    assert!((0..15).all(|i| listed.hidden(i)));
}

#[test]
fn every_format_is_redacted_without_conversion() {
    init();
    for format in FORMATS {
        let (caps, picture) = photo_buffer(&asset("photos/biden.jpg"), format);
        let desc =
            "appsrc name=src format=time ! facedetect ! faceredact who=all method=fill ! appsink name=sink sync=false";
        let (pipeline, src, sink) = app_pipeline(desc);
        src.set_caps(Some(&caps));
        pipeline.set_state(gst::State::Playing).expect("plays");
        src.push_buffer(picture.clone()).expect("pushed");
        src.end_of_stream().expect("eos");
        let out = sink.try_pull_sample(gst::ClockTime::from_seconds(60)).expect("a frame");
        pipeline.set_state(gst::State::Null).expect("stops");
        assert_eq!(
            out.caps()
                .expect("caps")
                .structure(0)
                .and_then(|s| s.get::<&str>("format").ok()),
            Some(format)
        );
        let buf = out.buffer().expect("buffer");
        let (x, y, w, h) = buf
            .iter_meta::<gst_video::VideoRegionOfInterestMeta>()
            .next()
            .map(|m| m.rect())
            .expect("a face");
        let info = gst_video::VideoInfo::from_caps(&caps).expect("info");
        let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buf, &info).expect("map");
        // The first plane at the face's centre is black: Y 16 or RGB 0.
        let (cx, cy) = ((x + w / 2) as usize, (y + h / 2) as usize);
        let stride = frame.plane_stride()[0] as usize;
        let pixel = info.format_info().pixel_stride()[0] as usize;
        let v = frame.plane_data(0).expect("plane")[cy * stride + cx * pixel];
        assert!(v <= 16, "{format}: the face's centre reads {v}");
    }
}
