//! Face events through the real elements: a person entering and leaving a video gives
//! `appeared`, `identified` and `left` with the right times, as JSON lines and as bus
//! messages.

mod util;

use gst::prelude::*;
use util::*;

const FPS: u64 = 25;
const FRAME_NS: u64 = 1_000_000_000 / FPS;

/// The face chain from an appsrc of `caps` to facejson (`json_opts`, e.g. "mode=both"),
/// playing.
struct Chain {
    pipeline: gst::Pipeline,
    src: gst_app::AppSrc,
}

impl Chain {
    fn start(caps: &gst::Caps, gallery: &std::path::Path, json_opts: &str, json: &std::path::Path) -> Chain {
        init();
        let desc = format!(
            "appsrc name=src format=time ! facedetect ! faceid gallery=\"{}\" ! faceemotion \
             ! facejson {json_opts} location=\"{}\" ! fakesink",
            gallery.display(),
            json.display()
        );
        let pipeline = launch(&desc);
        let src: gst_app::AppSrc = element(&pipeline, "src");
        src.set_caps(Some(caps));
        pipeline.set_state(gst::State::Playing).expect("plays");
        Chain { pipeline, src }
    }

    /// `picture` as frame `i` (25 fps).
    fn push(&self, picture: &gst::Buffer, i: u64) {
        let mut buf = picture.copy();
        let b = buf.get_mut().expect("writable");
        b.set_pts(gst::ClockTime::from_nseconds(i * FRAME_NS));
        b.set_duration(gst::ClockTime::from_nseconds(FRAME_NS));
        self.src.push_buffer(buf).expect("pushed");
    }

    /// Ends the stream; the face messages posted on the bus, and the JSON lines written.
    fn finish(self, json: &std::path::Path) -> (Vec<serde_json::Value>, Vec<gst::Structure>) {
        self.src.end_of_stream().expect("eos");
        let bus = self.pipeline.bus().expect("bus");
        let mut messages = Vec::new();
        for msg in bus.iter_timed(gst::ClockTime::from_seconds(300)) {
            match msg.view() {
                gst::MessageView::Element(e) => {
                    if let Some(s) = e.structure()
                        && s.name().starts_with("face-")
                    {
                        messages.push(s.to_owned());
                    }
                }
                gst::MessageView::Eos(_) => break,
                gst::MessageView::Error(e) => panic!("{} ({:?})", e.error(), e.debug()),
                _ => {}
            }
        }
        self.pipeline.set_state(gst::State::Null).expect("stops");
        let text = std::fs::read_to_string(json).expect("json written");
        let lines = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("each line is JSON"))
            .collect();
        (lines, messages)
    }
}

/// Pushes `blank` black frames, `person` frames of the photo, `blank` black frames at
/// 25 fps through the chain (facejson `mode=both` and `json_opts`); returns the JSON
/// lines written and the element messages.
fn visit(
    photo: &str,
    gallery: &std::path::Path,
    (blank, person): (u64, u64),
    json_opts: &str,
    json: &std::path::Path,
) -> (Vec<serde_json::Value>, Vec<gst::Structure>) {
    init();
    let (caps, picture) = photo_buffer(&asset(&format!("photos/{photo}")), "RGB");
    let black = gst::Buffer::from_mut_slice(vec![0u8; picture.size()]);
    let chain = Chain::start(&caps, gallery, &format!("mode=both {json_opts}"), json);
    for i in 0..(2 * blank + person) {
        let frame = if (blank..blank + person).contains(&i) {
            &picture
        } else {
            &black
        };
        chain.push(frame, i);
    }
    chain.finish(json)
}

#[test]
fn a_person_entering_and_leaving_gives_appeared_identified_and_left() {
    let gallery = gallery_of("Barack_Obama", "obama.jpg");
    let json = temp_dir("events").join("out.jsonl");
    // One second of nothing, two seconds of the person, one second of nothing.
    let (lines, messages) = visit("obama2.jpg", &gallery, (25, 50), "", &json);

    let frames = lines
        .iter()
        .filter(|l| l.get("frame").is_some() && l.get("event").is_none())
        .count();
    assert_eq!(frames, 100, "mode=both keeps a line per frame");
    let events: Vec<&serde_json::Value> = lines.iter().filter(|l| l.get("event").is_some()).collect();
    let kinds: Vec<&str> = events.iter().map(|e| e["event"].as_str().expect("kind")).collect();
    assert_eq!(kinds, ["appeared", "identified", "left"], "{events:?}");
    let track = events[0]["track_id"].as_u64().expect("track id");
    assert!(events.iter().all(|e| e["track_id"] == track), "one track: {events:?}");

    // The detector runs on every other frame, so the face shows up within a frame.
    let appeared = events[0]["time"].as_f64().expect("time");
    assert!((1.0..=1.05).contains(&appeared), "appeared at {appeared} s");
    let identified = events[1]["time"].as_f64().expect("time");
    assert_eq!(events[1]["name"], "Barack_Obama");
    assert!(
        identified >= appeared && identified <= appeared + 0.25,
        "identified at {identified} s"
    );

    let left = events[2];
    assert_eq!(left["name"], "Barack_Obama");
    assert_eq!(left["reason"], "gone");
    let last = left["last_seen"].as_f64().expect("last seen");
    assert!((2.9..=3.05).contains(&last), "last seen at {last} s");
    let duration = left["duration"].as_f64().expect("duration");
    assert!((1.9..=2.1).contains(&duration), "in view for {duration} s");
    let shares: f64 = left["emotions"]
        .as_object()
        .expect("emotion shares")
        .values()
        .map(|v| v.as_f64().expect("share"))
        .sum();
    assert!((shares - 1.0).abs() < 0.01, "emotion shares sum to {shares}");

    let names: Vec<&str> = messages.iter().map(|s| s.name().as_str()).collect();
    assert_eq!(names, ["face-appeared", "face-identified", "face-left"]);
    assert!(messages.iter().all(|s| s.get::<u64>("track-id") == Ok(track)));
    assert_eq!(messages[1].get::<String>("name").as_deref(), Ok("Barack_Obama"));
    let d = messages[2].get::<f64>("duration").expect("duration field");
    assert!((d - duration).abs() < 1e-9);
    let pts = messages[0].get::<gst::ClockTime>("pts").expect("pts field");
    assert!((pts.seconds_f64() - appeared).abs() < 0.001);
}

#[test]
fn with_identities_off_no_line_or_message_says_who() {
    let gallery = gallery_of("Barack_Obama", "obama.jpg");
    let json = temp_dir("events-anonymous").join("out.jsonl");
    let (lines, messages) = visit("obama2.jpg", &gallery, (5, 30), "identities=false", &json);
    let kinds: Vec<&str> = lines.iter().filter_map(|l| l["event"].as_str()).collect();
    assert_eq!(kinds, ["appeared", "left"], "{lines:?}");
    // The face is still there, counted and timed, but nobody is named anywhere.
    let with_faces = lines
        .iter()
        .filter(|l| l["faces"].as_array().is_some_and(|f| !f.is_empty()))
        .count();
    assert!(with_faces >= 25, "{with_faces} frame lines with a face");
    for l in &lines {
        let text = l.to_string();
        assert!(
            !text.contains("Barack_Obama") && !text.contains("identity") && !text.contains("\"name\""),
            "{text}"
        );
    }
    let names: Vec<&str> = messages.iter().map(|s| s.name().as_str()).collect();
    assert_eq!(names, ["face-appeared", "face-left"]);
    assert!(
        messages
            .iter()
            .all(|s| !s.has_field("name") && !s.to_string().contains("Barack_Obama"))
    );
}

#[test]
fn a_stranger_is_never_identified_and_leaves_as_unknown() {
    let gallery = gallery_of("Barack_Obama", "obama.jpg");
    let json = temp_dir("events-stranger").join("out.jsonl");
    let (lines, _) = visit("biden.jpg", &gallery, (5, 30), "", &json);
    let kinds: Vec<&str> = lines.iter().filter_map(|l| l["event"].as_str()).collect();
    assert_eq!(kinds, ["appeared", "left"], "{lines:?}");
    let left = lines.iter().find(|l| l["event"] == "left").expect("left");
    assert_eq!(left["name"], "unknown");
    // Nothing of the stranger's face beyond its box: no landmarks, no embedding, in any
    // line (the frame lines carry his box and the similarity that rejected him).
    let faces: Vec<&serde_json::Value> = lines.iter().filter_map(|l| l["faces"].as_array()).flatten().collect();
    assert!(faces.len() >= 25, "{} faces", faces.len());
    for l in &lines {
        let text = l.to_string();
        assert!(!text.contains("landmarks") && !text.contains("embedding"), "{text}");
    }
}

#[test]
fn a_named_face_keeps_its_landmarks_and_landmarks_all_keeps_a_strangers() {
    let gallery = gallery_of("Barack_Obama", "obama.jpg");
    let json = temp_dir("events-landmarks").join("out.jsonl");
    let (lines, _) = visit("obama2.jpg", &gallery, (2, 10), "", &json);
    let named: Vec<&serde_json::Value> = lines
        .iter()
        .filter_map(|l| l["faces"].as_array())
        .flatten()
        .filter(|f| f["identity"]["name"] == "Barack_Obama")
        .collect();
    assert!(!named.is_empty());
    assert!(named.iter().all(|f| f["landmarks"].as_array().map(Vec::len) == Some(5)));
    let (lines, _) = visit("biden.jpg", &gallery, (2, 10), "landmarks=all", &json);
    let faces: Vec<&serde_json::Value> = lines.iter().filter_map(|l| l["faces"].as_array()).flatten().collect();
    assert!(!faces.is_empty() && faces.iter().all(|f| f["landmarks"].as_array().map(Vec::len) == Some(5)));
}

#[test]
fn a_lost_source_ends_the_visit_and_its_return_starts_a_new_one() {
    init();
    let gallery = gallery_of("Barack_Obama", "obama.jpg");
    let json = temp_dir("events-outage").join("out.jsonl");
    let (caps, picture) = photo_buffer(&asset("photos/obama2.jpg"), "RGB");
    let chain = Chain::start(&caps, &gallery, "mode=events source=door", &json);
    // The person for 1.2 s, the camera gone for 10 s, the same person for 1.2 s.
    for i in 0..30 {
        chain.push(&picture, i);
    }
    assert!(chain.src.send_event(gstface::source::lost("no frame for 5.0 s")));
    assert!(chain.src.send_event(gstface::source::restored()));
    for i in 280..310 {
        chain.push(&picture, i);
    }
    let (lines, messages) = chain.finish(&json);
    let kinds: Vec<&str> = lines.iter().filter_map(|l| l["event"].as_str()).collect();
    assert_eq!(
        kinds,
        [
            "appeared",
            "identified",
            "left",
            "source-lost",
            "source-restored",
            "appeared",
            "identified",
            "left"
        ],
        "{lines:#?}"
    );
    assert!(lines.iter().all(|l| l["source"] == "door"), "{lines:#?}");
    // The first visit ends at the loss, at its last frame.
    assert_eq!(lines[2]["reason"], "source-lost");
    let last = lines[2]["last_seen"].as_f64().expect("last seen");
    assert!((1.1..=1.17).contains(&last), "last seen at {last} s");
    assert_eq!(lines[3]["reason"], "no frame for 5.0 s");
    assert_eq!(lines[3]["time"], lines[2]["time"]);
    let away = lines[4]["lost_for"].as_f64().expect("lost for");
    assert!((10.0..=10.05).contains(&away), "lost for {away} s");
    // After the outage the face is a new track (and a new visit), named again.
    assert_ne!(lines[5]["track_id"], lines[0]["track_id"]);
    assert_eq!(lines[6]["name"], "Barack_Obama");
    let names: Vec<&str> = messages.iter().map(|s| s.name().as_str()).collect();
    assert_eq!(
        names,
        [
            "face-appeared",
            "face-identified",
            "face-left",
            "face-source-lost",
            "face-source-restored",
            "face-appeared",
            "face-identified",
            "face-left"
        ]
    );
    assert!(
        messages
            .iter()
            .all(|m| m.get::<String>("source").as_deref() == Ok("door"))
    );
    let lost_for = messages[4].get::<f64>("lost-for").expect("lost-for field");
    assert!((lost_for - away).abs() < 1e-9);
}
