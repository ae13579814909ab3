//! Command-line flags, parsed by hand (no argument-parsing crate for a dozen flags).
//!
//! Every mistake a user can make on the command line comes back as a [`UsageError`]
//! naming the flag and the value, which `main` prints and turns into exit code 2.

use std::fmt;
use std::path::PathBuf;

pub const USAGE: &str = "usage: face-rtsp (--input FILE|/dev/videoN|rtsp://URL | --launch LINE) [options]

  --input SRC          a video file (paced at its own frame rate), a V4L2 device, or an RTSP URL
  --launch LINE        the whole media pipeline instead; it must have an element named pay0
  --address ADDR       address to listen on (default 0.0.0.0)
  --port N             port to listen on (default 8554; 0 = any free port, printed at start)
  --path /P            mount point (default /faces)
  --gallery DIR|FILE   faceid's gallery: a folder of <Name>/*.jpg|png or a face-enrol file
  --detect-opts S      prop=value pairs appended to facedetect (e.g. \"interval=1 working-size=960\")
  --id-opts S          ... to faceid
  --emotion-opts S     ... to faceemotion
  --annotate-opts S    ... to faceannotate
  --loop               a file input starts again at its end (default: EOS ends the stream)
  --size WxH           scale the source to this size before the analysis
  --encoder E          auto (default), x264, nvv4l2, va, vaapi or v4l2
  --bitrate KBPS       H.264 bitrate in kbit/s (default 2000)
  --keyframe-interval N  frames between keyframes (default 30: late joiners start within ~1 s)
  --rtsp-latency MS    jitterbuffer of an rtsp:// input, in ms (default 200)
  --stamp              write the wall-clock time into each source frame (for face-rtsp-probe)
  --no-check           skip preparing the pipeline once at start-up
  --help               this text

Prints `serving rtsp://ADDRESS:PORT/PATH` on standard output once listening.
Exit status: 0 after SIGINT/SIGTERM, 1 when the pipeline cannot start, 2 on a bad flag.";

/// What the media pipeline reads.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    File(PathBuf),
    /// A V4L2 device node such as /dev/video0.
    Device(String),
    /// An rtsp:// or rtsps:// URL (an IP camera, another server).
    Rtsp(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Input(Input),
    /// A whole launch line for the media (the user's own pipeline).
    Launch(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub source: Source,
    pub address: String,
    pub port: u16,
    pub path: String,
    pub gallery: Option<PathBuf>,
    pub detect_opts: String,
    pub id_opts: String,
    pub emotion_opts: String,
    pub annotate_opts: String,
    pub looping: bool,
    pub size: Option<(u32, u32)>,
    pub encoder: String,
    pub bitrate_kbps: u32,
    pub keyframe_interval: u32,
    pub rtsp_latency_ms: u32,
    pub stamp: bool,
    pub check: bool,
}

/// A bad command line: which flag, what was given, and what is wrong with it.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageError {
    pub flag: String,
    pub value: Option<String>,
    pub reason: String,
}

impl UsageError {
    pub fn new(flag: &str, value: Option<&str>, reason: impl Into<String>) -> Self {
        Self {
            flag: flag.to_string(),
            value: value.map(str::to_string),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(v) => write!(f, "{} {:?}: {}", self.flag, v, self.reason),
            None => write!(f, "{}: {}", self.flag, self.reason),
        }
    }
}

impl std::error::Error for UsageError {}

/// What the command line asks for: serve, or print the usage.
#[derive(Debug)]
pub enum Command {
    Serve(Box<Options>),
    Help,
}

fn number<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T, UsageError> {
    value
        .parse()
        .map_err(|_| UsageError::new(flag, Some(value), "not a valid number"))
}

fn size(flag: &str, value: &str) -> Result<(u32, u32), UsageError> {
    let bad = || UsageError::new(flag, Some(value), "expected WIDTHxHEIGHT, e.g. 1280x720");
    let (w, h) = value.split_once('x').ok_or_else(bad)?;
    let (w, h): (u32, u32) = (w.parse().map_err(|_| bad())?, h.parse().map_err(|_| bad())?);
    // I420 needs even sizes; 16 px is the smallest frame a model could use anyway.
    if w < 16 || h < 16 || w % 2 == 1 || h % 2 == 1 {
        return Err(UsageError::new(
            flag,
            Some(value),
            "width and height must be even and at least 16",
        ));
    }
    Ok((w, h))
}

fn input(value: &str) -> Result<Input, UsageError> {
    const FLAG: &str = "--input";
    let lower = value.to_ascii_lowercase();
    if lower.starts_with("rtsp://") || lower.starts_with("rtsps://") || lower.starts_with("rtspt://") {
        return Ok(Input::Rtsp(value.to_string()));
    }
    if value.contains("://") {
        return Err(UsageError::new(
            FLAG,
            Some(value),
            "only rtsp:// URLs, files and /dev/video* devices",
        ));
    }
    let path = PathBuf::from(value);
    if value.starts_with("/dev/") {
        if !path.exists() {
            return Err(UsageError::new(FLAG, Some(value), "no such device"));
        }
        return Ok(Input::Device(value.to_string()));
    }
    if !path.is_file() {
        let reason = if path.exists() { "not a file" } else { "no such file" };
        return Err(UsageError::new(FLAG, Some(value), reason));
    }
    Ok(Input::File(path))
}

/// Parses the arguments after the program name.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, UsageError> {
    let mut it = args.into_iter();
    let mut input_arg = None;
    let mut launch = None;
    let mut o = Options {
        source: Source::Launch(String::new()),
        address: "0.0.0.0".into(),
        port: 8554,
        path: "/faces".into(),
        gallery: None,
        detect_opts: String::new(),
        id_opts: String::new(),
        emotion_opts: String::new(),
        annotate_opts: String::new(),
        looping: false,
        size: None,
        encoder: "auto".into(),
        bitrate_kbps: 2000,
        keyframe_interval: 30,
        rtsp_latency_ms: 200,
        stamp: false,
        check: true,
    };
    while let Some(arg) = it.next() {
        // `--flag=value` is accepted as well as `--flag value`.
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        match flag.as_str() {
            "--help" | "-h" => return Ok(Command::Help),
            "--loop" => o.looping = true,
            "--stamp" => o.stamp = true,
            "--no-check" => o.check = false,
            f if f.starts_with("--") => {
                let value = match inline {
                    Some(v) => v,
                    None => it.next().ok_or_else(|| UsageError::new(f, None, "needs a value"))?,
                };
                let v = value.as_str();
                match f {
                    "--input" => input_arg = Some(input(v)?),
                    "--launch" => {
                        if v.trim().is_empty() {
                            return Err(UsageError::new(f, Some(v), "empty launch line"));
                        }
                        launch = Some(v.to_string());
                    }
                    "--address" => {
                        if v.is_empty() {
                            return Err(UsageError::new(f, Some(v), "empty address"));
                        }
                        o.address = v.to_string();
                    }
                    "--port" => o.port = number(f, v)?,
                    "--path" => {
                        let p = if v.starts_with('/') {
                            v.to_string()
                        } else {
                            format!("/{v}")
                        };
                        if p.len() < 2 || p.contains(char::is_whitespace) {
                            return Err(UsageError::new(f, Some(v), "expected a mount point such as /faces"));
                        }
                        o.path = p;
                    }
                    "--gallery" => {
                        let p = PathBuf::from(v);
                        if !p.exists() {
                            return Err(UsageError::new(f, Some(v), "no such file or folder"));
                        }
                        o.gallery = Some(p);
                    }
                    "--detect-opts" => o.detect_opts = v.to_string(),
                    "--id-opts" => o.id_opts = v.to_string(),
                    "--emotion-opts" => o.emotion_opts = v.to_string(),
                    "--annotate-opts" => o.annotate_opts = v.to_string(),
                    "--size" => o.size = Some(size(f, v)?),
                    "--encoder" => o.encoder = v.to_string(),
                    "--bitrate" => {
                        o.bitrate_kbps = number(f, v)?;
                        if o.bitrate_kbps == 0 {
                            return Err(UsageError::new(f, Some(v), "must be above 0"));
                        }
                    }
                    "--keyframe-interval" => {
                        o.keyframe_interval = number(f, v)?;
                        if o.keyframe_interval == 0 {
                            return Err(UsageError::new(f, Some(v), "must be above 0"));
                        }
                    }
                    "--rtsp-latency" => o.rtsp_latency_ms = number(f, v)?,
                    _ => return Err(UsageError::new(f, None, "unknown flag (see --help)")),
                }
            }
            _ => return Err(UsageError::new(&arg, None, "unexpected argument (see --help)")),
        }
    }
    o.source = match (input_arg, launch) {
        (Some(i), None) => Source::Input(i),
        (None, Some(l)) => Source::Launch(l),
        (Some(_), Some(_)) => return Err(UsageError::new("--launch", None, "give either --input or --launch")),
        (None, None) => return Err(UsageError::new("--input", None, "required (or --launch)")),
    };
    if let Source::Launch(_) = o.source {
        // These flags shape the pipeline face-rtsp builds; with --launch the user owns it.
        for (set, flag) in [
            (o.gallery.is_some(), "--gallery"),
            (!o.detect_opts.is_empty(), "--detect-opts"),
            (!o.id_opts.is_empty(), "--id-opts"),
            (!o.emotion_opts.is_empty(), "--emotion-opts"),
            (!o.annotate_opts.is_empty(), "--annotate-opts"),
            (o.size.is_some(), "--size"),
            (o.looping, "--loop"),
        ] {
            if set {
                return Err(UsageError::new(flag, None, "cannot be used with --launch"));
            }
        }
    }
    if o.looping && !matches!(o.source, Source::Input(Input::File(_))) {
        return Err(UsageError::new("--loop", None, "only a file input can loop"));
    }
    Ok(Command::Serve(Box::new(o)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    fn err(a: &[&str]) -> UsageError {
        parse(args(a)).expect_err("should be refused")
    }

    #[test]
    fn defaults_and_values() {
        let Command::Serve(o) = parse(args(&["--launch", "videotestsrc ! x264enc ! rtph264pay name=pay0"])).unwrap()
        else {
            panic!("not serve")
        };
        assert_eq!(
            (o.address.as_str(), o.port, o.path.as_str()),
            ("0.0.0.0", 8554, "/faces")
        );
        assert_eq!(o.encoder, "auto");
        let Command::Serve(o) = parse(args(&[
            "--input",
            "rtsp://cam/stream",
            "--port=0",
            "--path",
            "cam1",
            "--size",
            "1280x720",
        ]))
        .unwrap() else {
            panic!("not serve")
        };
        assert_eq!(o.source, Source::Input(Input::Rtsp("rtsp://cam/stream".into())));
        assert_eq!((o.port, o.path.as_str(), o.size), (0, "/cam1", Some((1280, 720))));
    }

    #[test]
    fn mistakes_name_the_flag() {
        assert_eq!(err(&["--input", "/no/such.mp4"]).flag, "--input");
        assert_eq!(err(&["--launch", "x", "--port", "http"]).flag, "--port");
        assert_eq!(err(&["--launch", "x", "--port", "70000"]).flag, "--port");
        assert_eq!(err(&["--launch", "x", "--size", "big"]).flag, "--size");
        assert_eq!(err(&["--launch", "x", "--bogus", "1"]).flag, "--bogus");
        assert_eq!(err(&["--launch", "x", "--loop"]).flag, "--loop");
        assert_eq!(err(&["--input", "rtsp://cam/s", "--loop"]).flag, "--loop");
        assert_eq!(err(&["--launch"]).flag, "--launch");
        assert_eq!(err(&[]).flag, "--input");
        assert_eq!(err(&["--input", "http://x/y"]).flag, "--input");
    }
}
