//! face-rtsp: serves face-annotated cameras over RTSP. See `face-rtsp --help`.

use face_rtsp::args::{self, Command, Options};
use face_rtsp::camera::{Running, StartError};
use face_rtsp::pipeline::{self, Encoder};
use face_rtsp::server::Server;
use face_rtsp::{check, memory, stats};
use gst::glib;
use gst::prelude::*;
use std::cell::Cell;
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

/// POSIX signal numbers (the same on every Unix GLib runs on).
const SIGINT: i32 = 2;
const SIGTERM: i32 = 15;

/// How long start-up waits for the first frame of a file, device or launch line.
const FIRST_FRAME_TIMEOUT: Duration = Duration::from_secs(60);

/// How often the allocator's free pages are handed back (`memory::trim`).
const TRIM_EVERY: Duration = Duration::from_secs(60);

fn usage_error(e: &args::UsageError) -> ExitCode {
    eprintln!("face-rtsp: {e}\n(face-rtsp --help lists the flags)");
    ExitCode::from(2)
}

fn failure(what: &str) -> ExitCode {
    eprintln!("face-rtsp: {}", args::mask_credentials(what));
    ExitCode::from(1)
}

fn main() -> ExitCode {
    memory::tune();
    let opts = match args::parse(std::env::args().skip(1)) {
        Ok(Command::Serve(o)) => Arc::new(*o),
        Ok(Command::Help) => {
            println!("{}", args::help());
            return ExitCode::SUCCESS;
        }
        Err(args::Error::Usage(e)) => return usage_error(&e),
        // clap's own message (with the usage), passwords masked as everywhere else.
        Err(args::Error::Clap(e)) => {
            eprint!("{}", args::mask_credentials(&e.to_string()));
            return ExitCode::from(2);
        }
    };
    if let Err(e) = gst::init() {
        return failure(&format!("GStreamer does not initialise: {e}"));
    }
    // Our elements, compiled in: no GST_PLUGIN_PATH needed.
    if let Err(e) = gstface::register_static() {
        return failure(&format!("the face elements do not register: {e}"));
    }
    let encoder = match Encoder::resolve(&opts.encoder) {
        Ok(e) => e,
        Err(e) => return usage_error(&e),
    };
    if let Err(e) = check::element_options(&pipeline::element_options(&opts)) {
        return usage_error(&e);
    }
    for camera in &opts.cameras {
        let line = pipeline::ingest_line(camera, &opts, opts.size);
        if let Err(e) = gst::parse::launch(&line) {
            let flag = match camera.source {
                args::Source::Launch(_) => "--launch",
                args::Source::Input(_) => "--input",
            };
            return usage_error(&args::UsageError::new(
                flag,
                Some(&camera.source.describe()),
                format!("bad pipeline: {e}"),
            ));
        }
    }
    let media = pipeline::media_line(&opts, encoder);
    if opts.check
        && let Err(e) = check::encoder(&media)
    {
        return failure(&format!("--encoder {}: {e}", encoder.factory()));
    }
    serve(&opts, &media).unwrap_or_else(|code| code)
}

/// Starts every camera and the server, runs until a signal or until every file has
/// ended, and stops it all in order.
fn serve(opts: &Arc<Options>, media: &str) -> Result<ExitCode, ExitCode> {
    let mut cameras: Vec<Running> = Vec::new();
    for camera in &opts.cameras {
        match Running::start_analysis(camera, opts) {
            Ok(r) => cameras.push(r),
            Err(StartError::Launch(e)) => {
                return Err(usage_error(&args::UsageError::new(
                    "--detect-opts/--id-opts/--emotion-opts/--annotate-opts",
                    None,
                    format!("bad pipeline: {e}"),
                )));
            }
            Err(StartError::Analysis(e)) => return Err(failure(&format!("the analysis does not start: {e}"))),
        }
    }
    for r in &mut cameras {
        // A camera on the network may be down now and come later; a file, a device or a
        // launch line of this machine's should work now.
        let must_work = opts.check && !r.camera.source.may_be_absent();
        if let Some(first) = r.start_source(opts.clone(), must_work) {
            // No answer in time (a slow start): it is supervised like any camera.
            if let Ok(Err(e)) = first.recv_timeout(FIRST_FRAME_TIMEOUT) {
                return Err(failure(&format!(
                    "{}: {} does not start: {e}",
                    r.camera.name,
                    r.camera.source.describe()
                )));
            }
        }
    }
    let mounts: Vec<_> = cameras
        .iter()
        .map(|r| (r.camera.mount.clone(), r.relay.clone()))
        .collect();
    let mut server = Server::start(&opts.address, opts.port, media, &mounts).map_err(|e| failure(&e))?;

    let main_loop = glib::MainLoop::new(None, false);
    let exit = Rc::new(Cell::new(0u8));
    for signum in [SIGINT, SIGTERM] {
        let main_loop = main_loop.clone();
        glib_unix::unix_signal_add_local(signum, move || {
            main_loop.quit();
            glib::ControlFlow::Break
        });
    }
    // The analyses' errors end face-rtsp (a JSON file that cannot be written, say);
    // their warnings (a gallery photo skipped) are printed. Files that all ended end it.
    let buses: Vec<(gst::Bus, std::sync::Arc<face_rtsp::relay::Relay>)> = cameras
        .iter()
        .filter_map(|r| r.analysis.bus().map(|b| (b, r.relay.clone())))
        .collect();
    {
        let (main_loop, exit) = (main_loop.clone(), exit.clone());
        glib::timeout_add_local(Duration::from_millis(200), move || {
            for (bus, _) in &buses {
                while let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error, gst::MessageType::Warning]) {
                    let source = msg.src().map(|s| s.path_string().to_string()).unwrap_or_default();
                    match msg.view() {
                        gst::MessageView::Error(e) => {
                            eprintln!("face-rtsp: error from {source}: {}", e.error());
                            exit.set(1);
                            main_loop.quit();
                        }
                        gst::MessageView::Warning(w) => eprintln!("face-rtsp: warning from {source}: {}", w.error()),
                        _ => {}
                    }
                }
            }
            if buses.iter().all(|(_, relay)| relay.has_ended()) {
                eprintln!("face-rtsp: every input has ended");
                main_loop.quit();
            }
            glib::ControlFlow::Continue
        });
    }
    let trim = glib::timeout_add_local(TRIM_EVERY, || {
        memory::trim();
        glib::ControlFlow::Continue
    });
    let report = opts.stats.map(|every| {
        let mut stats = stats::Stats::new(&cameras);
        let counters: Vec<_> = cameras.iter().map(stats::Counters::of).collect();
        glib::timeout_add_local(every, move || {
            eprintln!("face-rtsp: {}", stats.report(&counters));
            glib::ControlFlow::Continue
        })
    });

    main_loop.run();

    if let Some(r) = report {
        r.remove();
    }
    trim.remove();
    server.stop();
    for r in &mut cameras {
        r.stop();
    }
    eprintln!("face-rtsp: stopped");
    Ok(ExitCode::from(exit.get()))
}
