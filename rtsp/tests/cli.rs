//! The command lines of face-rtsp, face-rtsp-probe and face-rtsp-camera: a mistake is
//! refused with exit status 2 and a message naming it, before anything starts (no
//! GStreamer pipeline, no model, no data), and `--help` lists every option.

use std::process::Command;

const SERVER: &str = env!("CARGO_BIN_EXE_face-rtsp");
const PROBE: &str = env!("CARGO_BIN_EXE_face-rtsp-probe");
const CAMERA: &str = env!("CARGO_BIN_EXE_face-rtsp-camera");

fn run(bin: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(bin).args(args).output().expect("runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn an_unknown_or_misspelt_flag_exits_2_naming_it() {
    let (code, _, stderr) = run(SERVER, &["--launch", "videotestsrc", "--bogus", "1"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--bogus"), "{stderr}");
    let (code, _, stderr) = run(SERVER, &["--launch", "videotestsrc", "--sise", "640x360"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--sise") && stderr.contains("--size"), "{stderr}");
    // A bad value names its flag, negative numbers included.
    for (args, flag) in [
        (&["--launch", "x", "--port", "http"][..], "--port"),
        (&["--launch", "x", "--stats", "-1"][..], "--stats"),
        (&["--launch", "x", "--size", "1281x720"][..], "--size"),
        (&["--launch", "x", "--json-mode", "all"][..], "--json-mode"),
        (&["--launch"][..], "--launch"),
        (&[][..], "--input"),
    ] {
        let (code, _, stderr) = run(SERVER, args);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(flag), "{args:?}: {stderr}");
    }
}

#[test]
fn a_password_in_a_refused_argument_is_masked() {
    let (code, _, stderr) = run(SERVER, &["rtsp://admin:hunter2@10.0.0.5/s"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
    let (code, _, stderr) = run(SERVER, &["--input", "http://admin:hunter2@10.0.0.5/s"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--input") && !stderr.contains("hunter2"), "{stderr}");
}

#[test]
fn the_probe_and_the_camera_refuse_bad_arguments() {
    for (bin, args, named) in [
        (PROBE, &["rtsp://127.0.0.1:1/x", "--secs", "5"][..], "--secs"),
        (PROBE, &["rtsp://127.0.0.1:1/x", "--seconds", "-5"][..], "--seconds"),
        (PROBE, &["http://127.0.0.1/x"][..], "rtsp://"),
        (PROBE, &[][..], "<URL>"),
        (CAMERA, &["/no/such/clip.mp4"][..], "no such file"),
        (CAMERA, &["--port", "99999", "/no/such/clip.mp4"][..], "--port"),
        (CAMERA, &["--bogus"][..], "--bogus"),
    ] {
        let (code, _, stderr) = run(bin, args);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(named), "{args:?}: {stderr}");
    }
}

#[test]
fn help_lists_every_option() {
    let cases: [(&str, &[&str]); 3] = [
        (
            SERVER,
            &[
                "--input",
                "--launch",
                "--address",
                "--port",
                "--path",
                "--gallery",
                "--detect-opts",
                "--id-opts",
                "--emotion-opts",
                "--annotate-opts",
                "--json",
                "--json-mode",
                "--source-timeout",
                "--loop",
                "--size",
                "--encoder",
                "--bitrate",
                "--keyframe-interval",
                "--rtsp-latency",
                "--stats",
                "--stamp",
                "--no-check",
            ],
        ),
        (PROBE, &["--seconds", "--warmup", "--latency"]),
        (CAMERA, &["--address", "--port", "--path"]),
    ];
    for (bin, options) in cases {
        for help in ["--help", "-h"] {
            let (code, stdout, stderr) = run(bin, &[help]);
            assert_eq!(code, Some(0), "{bin} {help}: {stderr}");
            for o in options {
                assert!(stdout.contains(&format!("{o} ")), "{bin} {help} lacks {o}:\n{stdout}");
            }
        }
    }
}
