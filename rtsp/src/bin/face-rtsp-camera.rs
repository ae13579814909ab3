//! face-rtsp-camera: serves a video file over RTSP as an IP camera would (looped, in real
//! time, H.264), to try face-rtsp without a camera, and for its tests and benchmarks.
//!
//!   face-rtsp-camera FILE [--address 127.0.0.1] [--port 8554] [--path /camera]
//!
//! Every viewer shares one decode and one encode. Kill it and start it again on the same
//! port to play a camera that reboots. Prints `serving rtsp://ADDRESS:PORT/PATH`.

use clap::Parser;
use face_rtsp::{looping, pipeline};
use gst::glib;
use gst::prelude::*;
use gst_rtsp_server::prelude::*;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "face-rtsp-camera",
    about = "Serves a video file over RTSP as an IP camera would (looped, real time, H.264)",
    args_override_self = true
)]
struct Args {
    /// The video file
    #[arg(value_name = "FILE", value_parser = file)]
    file: String,
    /// Address to listen on
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
    address: String,
    /// Port to listen on (0 = any free port, printed at start)
    #[arg(long, value_name = "N", default_value_t = 8554)]
    port: u16,
    /// Mount point
    #[arg(long, value_name = "/P", default_value = "/camera", value_parser = mount_point)]
    path: String,
}

fn file(v: &str) -> Result<String, String> {
    if !std::path::Path::new(v).is_file() {
        return Err("no such file".into());
    }
    Ok(v.to_string())
}

fn mount_point(v: &str) -> Result<String, String> {
    Ok(if v.starts_with('/') {
        v.to_string()
    } else {
        format!("/{v}")
    })
}

fn main() -> ExitCode {
    // A bad command line: clap's message and exit status 2.
    let a = Args::parse();
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
