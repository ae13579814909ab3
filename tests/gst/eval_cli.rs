//! face-eval end to end on tiny data sets laid out like ../shared/data, with answers
//! known by construction.

#[path = "../common/mod.rs"]
mod common;

use std::process::Command;

fn last_line(out: &std::process::Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn wider_ap_is_one_on_a_hand_checked_photo() {
    let dir = std::env::temp_dir().join(format!("face-eval-wider-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("images/group")).expect("dirs");
    std::fs::copy(
        common::asset("photos/sample4.jpg"),
        dir.join("images/group/sample4.jpg"),
    )
    .expect("copy");
    let faces: Vec<serde_json::Value> = common::expected_faces()
        .into_iter()
        .find(|(n, _)| n == "sample4.jpg")
        .expect("sample4 in expected-faces.json")
        .1
        .iter()
        .map(|b| serde_json::json!({"box": b, "invalid": false, "easy": true, "medium": true, "hard": true}))
        .collect();
    let gt = serde_json::json!({"format": "test", "images": [{"image": "images/group/sample4.jpg", "faces": faces}]});
    std::fs::write(dir.join("gt.json"), gt.to_string()).expect("gt");
    let out = Command::new(env!("CARGO_BIN_EXE_face-eval"))
        .args(["wider", "--data"])
        .arg(&dir)
        .output()
        .expect("runs");
    assert_eq!(last_line(&out), "easy=1.0000 medium=1.0000 hard=1.0000 images=1");
    // MTCNN finds the same four people, each above anything else it reports.
    let dump = dir.join("mtcnn.json");
    let out = Command::new(env!("CARGO_BIN_EXE_face-eval"))
        .args(["wider", "--model", "mtcnn", "--data"])
        .arg(&dir)
        .arg("--dump")
        .arg(&dump)
        .output()
        .expect("runs");
    assert_eq!(last_line(&out), "easy=1.0000 medium=1.0000 hard=1.0000 images=1");
    let dets: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&dump).expect("dump")).expect("json");
    let rows = dets["images/group/sample4.jpg"]
        .as_array()
        .expect("detections of the image");
    assert!(rows.len() >= 4 && rows.iter().all(|r| r.as_array().is_some_and(|r| r.len() == 5)));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn fer_reads_a_sad_and_a_laughing_face_crop() {
    let dir = std::env::temp_dir().join(format!("face-eval-fer-{}", std::process::id()));
    // Grey face crops of the Pexels stills in FER's folder layout: the detector's box
    // for each still, squared about its centre.
    for (class, still, bx) in [
        ("sad", "video/pexels-02s.png", [299, 38, 288, 288]),
        ("happy", "video/pexels-15s.png", [313, 33, 306, 306]),
    ] {
        std::fs::create_dir_all(dir.join(class)).expect("dir");
        let img = image::open(common::asset(still)).expect("still");
        img.crop_imm(bx[0], bx[1], bx[2], bx[3])
            .grayscale()
            .save(dir.join(class).join("face.png"))
            .expect("crop");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_face-eval"))
        .args(["fer", "--labels", "happy,sad", "--data"])
        .arg(&dir)
        .output()
        .expect("runs");
    assert_eq!(last_line(&out), "accuracy=1.0000 images=2");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn gallery_names_the_enrolled_and_leaves_the_stranger_unknown() {
    let dir = std::env::temp_dir().join(format!("face-eval-gallery-{}", std::process::id()));
    // Obama: three photos, the first two enrolled, the third a probe. Biden: one photo,
    // a stranger. Someone with two photos is neither (nothing left to probe with).
    for (person, photos) in [
        ("Barack_Obama", &["obama.jpg", "obama2.jpg", "obama3.jpg"][..]),
        ("Joe_Biden", &["biden.jpg"][..]),
        ("Two_Photos", &["sample1.jpg", "sample2.jpg"][..]),
    ] {
        std::fs::create_dir_all(dir.join(person)).expect("dir");
        for p in photos {
            std::fs::copy(common::asset(&format!("photos/{p}")), dir.join(person).join(p)).expect("copy");
        }
    }
    let out = Command::new(env!("CARGO_BIN_EXE_face-eval"))
        .args(["gallery", "--data"])
        .arg(&dir)
        .output()
        .expect("runs");
    assert_eq!(
        last_line(&out),
        "rank1=1.0000 identified=1.0000 stranger_rejection=1.0000 probes=2"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("1 people enrolled") && stdout.contains("(1 people unused)"),
        "{stdout}"
    );
    // Enrolling three leaves Obama nothing to probe with: only the stranger remains.
    let out = Command::new(env!("CARGO_BIN_EXE_face-eval"))
        .args(["gallery", "--enrol", "3", "--data"])
        .arg(&dir)
        .output()
        .expect("runs");
    assert_eq!(
        last_line(&out),
        "rank1=0.0000 identified=0.0000 stranger_rejection=1.0000 probes=1"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn face_eval(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_face-eval"))
        .args(args)
        .output()
        .expect("runs");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn bad_arguments_are_clear_errors() {
    // Refused while reading the command line: no data or model is touched.
    let (code, stderr) = face_eval(&["wider"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--data"), "{stderr}");
    let (code, stderr) = face_eval(&["nope", "--data", "/tmp"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("unrecognized subcommand 'nope'"), "{stderr}");
    let (code, stderr) = face_eval(&[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("gallery"), "{stderr}");
    let (code, stderr) = face_eval(&["gallery", "--data", "/no/such/people", "--enrol", "0"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--enrol"), "{stderr}");
    let (code, stderr) = face_eval(&["fer", "--data", "/no/such/fer", "--labels", "happy,glum"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--labels") && stderr.contains("glum"), "{stderr}");
    let (code, stderr) = face_eval(&["lfw", "--data", "/no/such/lfw", "--backend", "gpu"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--backend") && stderr.contains("gpu"), "{stderr}");
}

#[test]
fn a_misspelt_option_is_refused_not_ignored() {
    // Issue 25: `--treshold 0.5` used to run the whole evaluation at the default.
    let (code, stderr) = face_eval(&["gallery", "--treshold", "0.5", "--data", "/no/such/people"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--treshold"), "{stderr}");
    assert!(stderr.contains("--threshold"), "the fix is suggested: {stderr}");
    // An option of another subcommand is refused too.
    let (code, stderr) = face_eval(&["fer", "--pairs", "10", "--data", "/no/such/fer"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--pairs"), "{stderr}");
    // A value that is not a number names the option.
    let (code, stderr) = face_eval(&["gallery", "--threshold", "high", "--data", "/no/such/people"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--threshold") && stderr.contains("high"), "{stderr}");
}

#[test]
fn every_subcommand_has_help() {
    for sub in ["wider", "lfw", "gallery", "fer"] {
        let out = Command::new(env!("CARGO_BIN_EXE_face-eval"))
            .args([sub, "--help"])
            .output()
            .expect("runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{sub}: {stdout}");
        assert!(
            stdout.contains("--data") && stdout.contains("--backend"),
            "{sub}: {stdout}"
        );
    }
}

#[test]
fn video_writes_one_line_per_frame_with_the_face_in_it() {
    let out = Command::new(env!("CARGO_BIN_EXE_face-eval"))
        .arg("video")
        .arg(common::asset("video/single_face.mp4"))
        .output()
        .expect("face-eval runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert!(lines.len() > 50, "{} lines", lines.len());
    for (n, l) in lines.iter().enumerate() {
        assert_eq!(l["frame"], n as u64);
        let faces = l["faces"].as_array().expect("faces");
        assert_eq!(faces.len(), 1, "frame {n}: {l}");
        assert!(
            faces[0]["track_id"].is_u64() && faces[0].get("identity").is_none(),
            "{l}"
        );
    }
    let out = Command::new(env!("CARGO_BIN_EXE_face-eval"))
        .args(["video", "/no/such/video.mp4"])
        .output()
        .expect("face-eval runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/such/video.mp4"));
}
