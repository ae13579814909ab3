//! A whole gst-launch-1.0 pipeline, as a user runs it: the plugin loaded from its .so,
//! a real video in, a playable MP4 with every frame out, one JSON line per frame.

mod util;

use std::path::PathBuf;
use std::process::Command;
use util::*;

/// A folder holding only the libgstface.so cargo built alongside this test (in
/// target/<profile>/deps/), so gst-launch-1.0 loads exactly this build.
/// Made once per test process: the tests run in parallel and share it.
fn plugin_dir() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(make_plugin_dir).clone()
}

fn make_plugin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let deps = exe.parent().expect("deps folder");
    let so = [deps.join("libgstface.so"), deps.join("../libgstface.so")]
        .into_iter()
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("libgstface.so not found next to {}", exe.display()));
    let dir = temp_dir("plugin");
    std::os::unix::fs::symlink(so.canonicalize().expect("plugin path"), dir.join("libgstface.so")).expect("symlink");
    dir
}

/// gst-launch-1.0 with only this build's plugin added, and a private registry.
fn gst_command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let dir = plugin_dir();
    let mut c = Command::new(program);
    c.env("GST_PLUGIN_PATH", &dir)
        .env("GST_REGISTRY", dir.join("registry.bin"));
    c
}

/// Frames in a video file, counted by decoding it (which also proves it plays).
fn count_frames(path: &std::path::Path) -> usize {
    let samples = run_to_eos(&format!(
        "filesrc location=\"{}\" ! decodebin ! videoconvert ! appsink name=sink",
        path.display()
    ))
    .unwrap_or_else(|e| panic!("{} does not play: {e}", path.display()));
    samples.len()
}

#[test]
fn gst_launch_turns_a_video_into_an_annotated_mp4_and_json_lines() {
    init();
    let input = asset("video/single_face.mp4");
    let dir = temp_dir("launch");
    let (mp4, jsonl) = (dir.join("out.mp4"), dir.join("out.jsonl"));
    let gallery = gallery_of("Barack_Obama", "obama.jpg");
    let out = gst_command("gst-launch-1.0")
        .arg("-e")
        .args(format!("filesrc location={} ! decodebin ! videoconvert ! facedetect ! faceid gallery={} ! faceemotion ! facejson location={} ! faceannotate ! videoconvert ! x264enc speed-preset=ultrafast ! h264parse ! mp4mux ! filesink location={}",
            input.display(), gallery.display(), jsonl.display(), mp4.display()).split(' '))
        .output()
        .expect("gst-launch-1.0 runs");
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let frames_in = count_frames(&input);
    let frames_out = count_frames(&mp4);
    assert!(frames_in > 50);
    assert_eq!(frames_out, frames_in, "every frame must reach the MP4");

    let text = std::fs::read_to_string(&jsonl).expect("jsonl written");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), frames_in, "one JSON line per frame");
    let mut with_face = 0;
    let mut last_pts = None;
    let mut track_ids = Vec::new();
    let mut marked_as_run = 0;
    for (i, line) in lines.iter().enumerate() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("line {i} is not JSON ({e}): {line}"));
        assert_eq!(v["frame"].as_u64(), Some(i as u64));
        assert_eq!((v["width"].as_u64(), v["height"].as_u64()), (Some(640), Some(360)));
        let pts = v["pts"].as_u64().expect("pts");
        assert!(last_pts.is_none_or(|p| pts > p), "pts must increase");
        last_pts = Some(pts);
        let faces = v["faces"].as_array().expect("faces array");
        for f in faces {
            let b: Vec<f64> = f["box"]
                .as_array()
                .expect("box")
                .iter()
                .map(|x| x.as_f64().expect("number"))
                .collect();
            assert!(
                b.len() == 4 && b[0] >= 0.0 && b[1] >= 0.0 && b[0] + b[2] <= 640.01 && b[1] + b[3] <= 360.01,
                "{line}"
            );
            assert!(f["confidence"].as_f64().is_some_and(|c| (0.0..=1.0).contains(&c)));
            // A stranger to the gallery (below): nothing of his face's shape is written.
            assert!(f.get("landmarks").is_none(), "a stranger's landmarks: {line}");
            track_ids.push(f["track_id"].as_u64().expect("tracking is on by default: a track id"));
            // Detection runs on every other frame by default: the frames between carry
            // the face, and say so.
            let detected = f["detected"]
                .as_bool()
                .expect("a tracked face says whether it was detected");
            if detected == (i % 2 == 0) {
                marked_as_run += 1;
            }
            // A stranger to this gallery: named unknown, with the similarity it got.
            assert_eq!(f["identity"]["name"].as_str(), Some("unknown"), "{line}");
            assert!(f["identity"]["similarity"].as_f64().is_some());
            let e = &f["emotion"];
            assert_eq!(e["scores"].as_object().map(|m| m.len()), Some(7));
            assert!(e["scores"][e["label"].as_str().expect("label")].as_f64() == e["confidence"].as_f64());
        }
        if faces.len() == 1 {
            with_face += 1;
        }
    }
    assert!(
        marked_as_run as f64 >= 0.9 * track_ids.len() as f64,
        "only {marked_as_run} of {} faces marked detected on the detection frames, carried on the others",
        track_ids.len()
    );
    // The clip shows one person the whole time: one track.
    track_ids.dedup();
    assert_eq!(track_ids.len(), 1, "track ids {track_ids:?}");
    assert!(
        with_face as f64 >= 0.95 * frames_in as f64,
        "one face in only {with_face} of {frames_in} frames"
    );
}

#[test]
fn annotate_file_script_runs_as_documented() {
    init();
    let dir = temp_dir("script");
    let out = dir.join("annotated.mp4");
    let status = gst_command(root().join("pipelines/annotate-file.sh"))
        .arg(asset("video/single_face.mp4"))
        .arg(&out)
        .arg(root().join("assets/demo-gallery"))
        .output()
        .expect("script runs");
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    assert_eq!(count_frames(&out), count_frames(&asset("video/single_face.mp4")));
    assert!(dir.join("annotated.jsonl").is_file());
}

/// Every frame of a video file as packed RGB.
fn rgb_frames(path: &std::path::Path) -> (Vec<gst::Buffer>, usize, usize) {
    let samples = run_to_eos(&format!(
        "filesrc location=\"{}\" ! decodebin ! videoconvert ! video/x-raw,format=RGB ! appsink name=sink",
        path.display()
    ))
    .unwrap_or_else(|e| panic!("{} does not play: {e}", path.display()));
    let (w, h) = video_size(samples[0].caps().expect("caps"));
    let frames = samples.iter().map(|s| s.buffer().expect("buffer").to_owned()).collect();
    (frames, w as usize, h as usize)
}

#[test]
fn annotate_file_script_redacts_with_redact() {
    init();
    let dir = temp_dir("script-redact");
    let out = dir.join("hidden.mp4");
    let input = asset("video/single_face.mp4");
    let status = gst_command(root().join("pipelines/annotate-file.sh"))
        .args(["--redact", "all"])
        .arg(&input)
        .arg(&out)
        .output()
        .expect("script runs");
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let (original, w, h) = rgb_frames(&input);
    let (hidden, _, _) = rgb_frames(&out);
    assert_eq!(hidden.len(), original.len(), "every frame is written");
    // The face is where the JSON lines say it is; on every tenth frame it keeps hardly
    // any of its detail (the box drawn around it lies outside the face's middle).
    let text = std::fs::read_to_string(dir.join("hidden.jsonl")).expect("jsonl written");
    let mut checked = 0;
    for (i, line) in text.lines().enumerate().step_by(10) {
        let v: serde_json::Value = serde_json::from_str(line).expect("JSON");
        let Some(b) = v["faces"][0]["box"].as_array() else {
            continue;
        };
        let b: Vec<usize> = b.iter().map(|x| x.as_f64().expect("number") as usize).collect();
        let face = [b[0], b[1], (b[0] + b[2]).min(w), (b[1] + b[3]).min(h)];
        let (a, o) = (
            original[i].map_readable().expect("map"),
            hidden[i].map_readable().expect("map"),
        );
        let kept = detail_kept(&a, &o, w, h, face);
        assert!(kept < 0.2, "frame {i}: the face keeps {kept:.2} of its detail");
        checked += 1;
    }
    assert!(checked >= 5, "faces checked on only {checked} frames");
}
