//! face-rtsp: serves a face-annotated video over RTSP. See `face-rtsp --help`.

use face_rtsp::args::{self, Command, Input, Source};
use face_rtsp::check::{self, CheckError};
use face_rtsp::pipeline::{self, Encoder};
use face_rtsp::server::{self, MediaSetup};
use std::process::ExitCode;

fn usage_error(e: &args::UsageError) -> ExitCode {
    eprintln!("face-rtsp: {e}\n(face-rtsp --help lists the flags)");
    ExitCode::from(2)
}

fn failure(what: &str) -> ExitCode {
    eprintln!("face-rtsp: {what}");
    ExitCode::from(1)
}

fn main() -> ExitCode {
    let opts = match args::parse(std::env::args().skip(1)) {
        Ok(Command::Serve(o)) => o,
        Ok(Command::Help) => {
            println!("{}", args::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(e) => return usage_error(&e),
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
    let launch = pipeline::launch_line(&opts, encoder);
    if opts.stamp && !launch.contains(&format!("name={}", pipeline::LEAK)) {
        return usage_error(&args::UsageError::new(
            "--stamp",
            None,
            format!(
                "needs an element named {} (with --launch: the queue before the analysis)",
                pipeline::LEAK
            ),
        ));
    }
    if opts.check {
        // A camera need not deliver during the check; a file or a launch line should.
        let wait_for_frame = !matches!(opts.source, Source::Input(Input::Device(_) | Input::Rtsp(_)));
        let flag = if matches!(opts.source, Source::Launch(_)) {
            "--launch"
        } else {
            "--input"
        };
        match check::check(&launch, wait_for_frame) {
            Ok(()) => {}
            Err(CheckError::Launch(e)) => {
                return usage_error(&args::UsageError::new(flag, None, format!("bad pipeline: {e}")));
            }
            Err(CheckError::Media(e)) => return failure(&format!("the pipeline does not start: {e}")),
        }
    }
    let setup = MediaSetup {
        looping: opts.looping,
        stamp: opts.stamp,
    };
    match server::serve(&opts.address, opts.port, &opts.path, &launch, setup) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => failure(&e),
    }
}
