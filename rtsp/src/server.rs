//! The RTSP server: one mount per camera, each a shared media fed by the camera's relay.

use crate::pipeline;
use crate::relay::Relay;
use gst::glib;
use gst::prelude::*;
use gst_rtsp_server::prelude::*;
use std::sync::Arc;

/// Sessions whose client stopped answering are dropped after the session timeout
/// (60 s); this is how often the pool looks for them.
const SESSION_CLEANUP_SECS: u32 = 2;

/// Prints the media pipeline's errors and warnings to stderr. The media's own bus watch
/// (gst-rtsp-server's) only logs them at debug level.
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

/// Called for every new media (a pipeline shared by all of a mount's viewers until the
/// last leaves): its appsrc joins the relay, and leaves it with the media.
fn configure(media: &gst_rtsp_server::RTSPMedia, relay: &Arc<Relay>) {
    log_bus(media);
    let Some(src) = media
        .element()
        .downcast::<gst::Bin>()
        .ok()
        .and_then(|bin| bin.by_name(pipeline::SRC))
        .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
    else {
        eprintln!("face-rtsp: the media has no appsrc named {}", pipeline::SRC);
        return;
    };
    relay.attach(src.clone());
    let relay = relay.clone();
    media.connect_unprepared(move |_| relay.detach(&src));
}

/// The RTSP server, listening, with one mount per camera.
pub struct Server {
    server: gst_rtsp_server::RTSPServer,
    source: Option<glib::SourceId>,
    cleanup: Option<glib::SourceId>,
}

impl Server {
    /// Listens on `address:port` (on the default main context) and mounts `launch` at
    /// each `(mount, relay)`. Prints `serving rtsp://ADDRESS:PORT/MOUNT` per mount.
    pub fn start(address: &str, port: u16, launch: &str, mounts: &[(String, Arc<Relay>)]) -> Result<Server, String> {
        let server = gst_rtsp_server::RTSPServer::new();
        server.set_address(address);
        // "0" lets the system pick a free port; bound_port() says which.
        server.set_service(&port.to_string());
        let points = server
            .mount_points()
            .ok_or_else(|| "the RTSP server has no mount points".to_string())?;
        for (mount, relay) in mounts {
            let factory = gst_rtsp_server::RTSPMediaFactory::new();
            factory.set_launch(launch);
            // One encoder for all of a mount's viewers: the CPU cost does not grow with
            // the audience, and a viewer that leaves only takes its own transport out of
            // the media, never the pipeline the others watch.
            factory.set_shared(true);
            let relay = relay.clone();
            factory.connect_media_configure(move |_, media| configure(media, &relay));
            points.add_factory(mount, factory);
        }
        server.connect_client_connected(|_, client| {
            eprintln!("face-rtsp: client connected");
            client.connect_closed(|_| eprintln!("face-rtsp: client left"));
        });
        let source = server.attach(None).map_err(|_| {
            format!("--port {port}: cannot listen on {address}:{port} (in use, or not an address here?)")
        })?;
        let bound = server.bound_port();
        for (mount, _) in mounts {
            println!("serving rtsp://{address}:{bound}{mount}");
        }
        let _ = std::io::Write::flush(&mut std::io::stdout());
        let pool = server.session_pool();
        let cleanup = glib::timeout_add_seconds_local(SESSION_CLEANUP_SECS, move || {
            if let Some(pool) = &pool {
                pool.cleanup();
            }
            glib::ControlFlow::Continue
        });
        Ok(Server {
            server,
            source: Some(source),
            cleanup: Some(cleanup),
        })
    }

    /// Stops accepting and closes every client, so each media is torn down in order.
    pub fn stop(&mut self) {
        if let Some(s) = self.source.take() {
            s.remove();
        }
        if let Some(c) = self.cleanup.take() {
            c.remove();
        }
        self.server
            .client_filter(Some(&mut |_, _| gst_rtsp_server::RTSPFilterResult::Remove));
    }
}
