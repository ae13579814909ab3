//! The RTSP server: one shared media at one mount point, run on a GLib main loop.

use crate::{looping, pipeline, stamp};
use gst::glib;
use gst::prelude::*;
use gst_rtsp_server::prelude::*;
use std::io::Write;

/// What each new media pipeline needs besides its launch line.
#[derive(Debug, Clone, Copy)]
pub struct MediaSetup {
    pub looping: bool,
    pub stamp: bool,
}

/// POSIX signal numbers (the same on every Unix GLib runs on).
const SIGINT: i32 = 2;
const SIGTERM: i32 = 15;

/// Sessions whose client stopped answering are dropped after the session timeout
/// (60 s); this is how often the pool looks for them.
const SESSION_CLEANUP_SECS: u32 = 2;

/// Prints the media pipeline's errors and warnings to stderr. The media's own bus watch
/// (gst-rtsp-server's) only logs them at debug level, so a gallery or model failure
/// would otherwise leave the client with nothing and the user with no reason.
fn log_bus(media: &gst_rtsp_server::RTSPMedia) {
    let Some(bus) = media
        .element()
        .parent()
        .and_then(|p| p.downcast::<gst::Pipeline>().ok())
        .and_then(|p| p.bus())
    else {
        return;
    };
    // The server owns the bus watch, and a bus has only one sync handler; sync-message
    // signals can be added beside both.
    bus.enable_sync_message_emission();
    bus.connect_sync_message(None, |_, msg| {
        let source = msg.src().map(|s| s.path_string().to_string()).unwrap_or_default();
        match msg.view() {
            gst::MessageView::Error(e) => {
                let debug = e.debug().map(|d| format!(" ({d})")).unwrap_or_default();
                eprintln!("face-rtsp: error from {source}: {}{debug}", e.error());
            }
            gst::MessageView::Warning(w) => {
                let debug = w.debug().map(|d| format!(" ({d})")).unwrap_or_default();
                eprintln!("face-rtsp: warning from {source}: {}{debug}", w.error());
            }
            _ => {}
        }
    });
}

/// Called for every new media (a pipeline shared by all clients until the last leaves).
fn configure(media: &gst_rtsp_server::RTSPMedia, setup: MediaSetup) {
    log_bus(media);
    let Ok(bin) = media.element().downcast::<gst::Bin>() else {
        return;
    };
    let pad = |name: &str, pad: &str| bin.by_name(name).and_then(|e| e.static_pad(pad));
    if setup.looping
        && let Some(p) = pad(pipeline::CONVERT, "src")
    {
        looping::install(&p);
    }
    if setup.stamp
        && let Some(p) = pad(pipeline::LEAK, "sink")
    {
        stamp::install(&p);
    }
    media.connect_prepared(|_| eprintln!("face-rtsp: media pipeline started"));
    media.connect_unprepared(|_| eprintln!("face-rtsp: media pipeline stopped"));
}

/// Listens on `address:port`, serves `launch` at `path` until SIGINT or SIGTERM.
/// Prints `serving rtsp://ADDRESS:PORT/PATH` on stdout once listening.
pub fn serve(address: &str, port: u16, path: &str, launch: &str, setup: MediaSetup) -> Result<(), String> {
    let server = gst_rtsp_server::RTSPServer::new();
    server.set_address(address);
    // "0" lets the system pick a free port; bound_port() says which.
    server.set_service(&port.to_string());
    let factory = gst_rtsp_server::RTSPMediaFactory::new();
    factory.set_launch(launch);
    // One pipeline (one decode, one analysis, one encode) for every client: the CPU cost
    // does not grow with the audience, and a client that leaves only takes its own
    // transport out of the media, never the pipeline the others watch.
    factory.set_shared(true);
    factory.connect_media_configure(move |_, media| configure(media, setup));
    let mounts = server
        .mount_points()
        .ok_or_else(|| "the RTSP server has no mount points".to_string())?;
    mounts.add_factory(path, factory);

    server.connect_client_connected(|_, client| {
        eprintln!("face-rtsp: client connected");
        client.connect_closed(|_| eprintln!("face-rtsp: client left"));
    });

    let main_loop = glib::MainLoop::new(None, false);
    let source = server
        .attach(None)
        .map_err(|_| format!("--port {port}: cannot listen on {address}:{port} (in use, or not an address here?)"))?;
    let bound = server.bound_port();
    println!("serving rtsp://{address}:{bound}{path}");
    let _ = std::io::stdout().flush();

    let pool = server.session_pool();
    let cleanup = glib::timeout_add_seconds_local(SESSION_CLEANUP_SECS, move || {
        if let Some(pool) = &pool {
            pool.cleanup();
        }
        glib::ControlFlow::Continue
    });
    for signum in [SIGINT, SIGTERM] {
        let main_loop = main_loop.clone();
        glib_unix::unix_signal_add_local(signum, move || {
            main_loop.quit();
            glib::ControlFlow::Break
        });
    }

    main_loop.run();

    // Stop accepting, then close every client so each media is torn down in order.
    source.remove();
    cleanup.remove();
    server.client_filter(Some(&mut |_, _| gst_rtsp_server::RTSPFilterResult::Remove));
    eprintln!("face-rtsp: stopped");
    Ok(())
}
