//! face-rtsp-camera: serves a video file over RTSP as an IP camera would (looped, in real
//! time, H.264), to try face-rtsp without a camera, and for its tests and benchmarks.
//!
//!   face-rtsp-camera FILE [--address 127.0.0.1] [--port 8554] [--path /camera]
//!
//! Every viewer shares one decode and one encode. Kill it and start it again on the same
//! port to play a camera that reboots. Prints `serving rtsp://ADDRESS:PORT/PATH`.

use face_rtsp::{looping, pipeline};
use gst::glib;
use gst::prelude::*;
use gst_rtsp_server::prelude::*;
use std::process::ExitCode;

const USAGE: &str =
    "usage: face-rtsp-camera FILE [--address ADDR (127.0.0.1)] [--port N (8554; 0 = any)] [--path /P (/camera)]";

struct Args {
    file: String,
    address: String,
    port: u16,
    path: String,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        file: String::new(),
        address: "127.0.0.1".into(),
        port: 8554,
        path: "/camera".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |flag: &str| it.next().ok_or_else(|| format!("{flag} needs a value\n{USAGE}"));
        match arg.as_str() {
            "--address" => a.address = value("--address")?,
            "--port" => {
                let v = value("--port")?;
                a.port = v.parse().map_err(|_| format!("--port {v:?}: not a port number"))?;
            }
            "--path" => {
                let v = value("--path")?;
                a.path = if v.starts_with('/') { v } else { format!("/{v}") };
            }
            "--help" | "-h" => return Err(USAGE.into()),
            f if f.starts_with("--") => return Err(format!("unknown flag {f}\n{USAGE}")),
            f if a.file.is_empty() => a.file = f.to_string(),
            f => return Err(format!("unexpected argument {f:?}\n{USAGE}")),
        }
    }
    if a.file.is_empty() {
        return Err(USAGE.into());
    }
    if !std::path::Path::new(&a.file).is_file() {
        return Err(format!("{}: no such file", a.file));
    }
    Ok(a)
}

fn main() -> ExitCode {
    let a = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("face-rtsp-camera: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = gst::init() {
        eprintln!("face-rtsp-camera: GStreamer does not initialise: {e}");
        return ExitCode::from(1);
    }
    let server = gst_rtsp_server::RTSPServer::new();
    server.set_address(&a.address);
    server.set_service(&a.port.to_string());
    let factory = gst_rtsp_server::RTSPMediaFactory::new();
    factory.set_launch(&format!(
        "( filesrc location={} ! decodebin ! videoconvert name={} ! clocksync ! videoconvert \
         ! x264enc tune=zerolatency speed-preset=ultrafast bitrate=1500 key-int-max=25 \
         ! rtph264pay name=pay0 pt=96 config-interval=-1 )",
        pipeline::quote(&a.file),
        pipeline::CONVERT
    ));
    factory.set_shared(true);
    factory.connect_media_configure(|_, media| {
        if let Some(pad) = media
            .element()
            .downcast::<gst::Bin>()
            .ok()
            .and_then(|b| b.by_name(pipeline::CONVERT))
            .and_then(|c| c.static_pad("src"))
        {
            looping::install(&pad);
        }
    });
    let Some(mounts) = server.mount_points() else {
        eprintln!("face-rtsp-camera: the RTSP server has no mount points");
        return ExitCode::from(1);
    };
    mounts.add_factory(&a.path, factory);
    let Ok(_source) = server.attach(None) else {
        eprintln!("face-rtsp-camera: cannot listen on {}:{}", a.address, a.port);
        return ExitCode::from(1);
    };
    println!("serving rtsp://{}:{}{}", a.address, server.bound_port(), a.path);
    let _ = std::io::Write::flush(&mut std::io::stdout());
    let main_loop = glib::MainLoop::new(None, false);
    for signum in [2, 15] {
        let main_loop = main_loop.clone();
        glib_unix::unix_signal_add_local(signum, move || {
            main_loop.quit();
            glib::ControlFlow::Break
        });
    }
    main_loop.run();
    ExitCode::SUCCESS
}
