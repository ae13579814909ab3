//! Command-line flags, parsed by hand (no argument-parsing crate for a dozen flags).
//!
//! Every mistake a user can make on the command line comes back as a [`UsageError`]
//! naming the flag and the value, which `main` prints and turns into exit code 2.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

pub const USAGE: &str = "usage: face-rtsp (--input [NAME=]SRC | --launch [NAME=]LINE)... [options]

  --input [NAME=]SRC   a camera: a video file (paced at its own frame rate), a V4L2 device, or an
                       RTSP URL; repeat with a NAME for each camera (served at /NAME)
  --launch [NAME=]LINE a camera given as a launch line that ends in raw video (e.g.
                       \"nvarguscamerasrc ! nvvidconv\"), supervised like --input
  --address ADDR       address to listen on (default 0.0.0.0)
  --port N             port to listen on (default 8554; 0 = any free port, printed at start)
  --path /P            mount point of a single unnamed camera (default /faces)
  --gallery DIR|FILE   faceid's gallery: a folder of <Name>/*.jpg|png or a face-enrol file
  --detect-opts S      prop=value pairs appended to facedetect (e.g. \"interval=1 working-size=960\")
  --id-opts S          ... to faceid
  --emotion-opts S     ... to faceemotion
  --annotate-opts S    ... to faceannotate
  --json PATTERN       write each camera's face events (facejson) to PATTERN, {source} replaced
                       by the camera's name (e.g. out/{source}.jsonl; - = standard output)
  --json-mode M        events (default), frames or both
  --source-timeout S   seconds without a frame after which a camera counts as lost (default 5)
  --loop               file inputs start again at their end (default: a file plays once)
  --size WxH           scale every camera to this size before the analysis
  --encoder E          auto (default), x264, nvv4l2, va, vaapi or v4l2
  --bitrate KBPS       H.264 bitrate in kbit/s (default 2000)
  --keyframe-interval N  frames between keyframes (default 30: late joiners start within ~1 s)
  --rtsp-latency MS    jitterbuffer of an rtsp:// input, in ms (default 200)
  --stats S            print each camera's frame rates and the process's memory every S seconds
                       (default 60; 0 = never)
  --stamp              write the wall-clock time into each source frame (for face-rtsp-probe)
  --no-check           do not wait at start-up for the first frame of files, devices and launch lines
  --help               this text

A camera that fails (an error, an end of stream, no frame for --source-timeout) is
reconnected for ever, 1 s after the failure and then at doubling intervals up to 30 s;
meanwhile its viewers get the last frame under a \"no signal\" banner at the stream's rate.
Prints `serving rtsp://ADDRESS:PORT/PATH` on standard output for each camera once listening.
Exit status: 0 after SIGINT/SIGTERM or once every (unlooped) file has ended, 1 when the
analysis or a file, device or launch line cannot start, 2 on a bad flag.";

/// What a camera's frames come from.
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
    /// A launch line that ends in raw video (the user's own source).
    Launch(String),
}

impl Source {
    /// Whether the source is a camera that may not be there yet at start-up (waited for
    /// instead of failing).
    pub fn may_be_absent(&self) -> bool {
        matches!(self, Source::Input(Input::Rtsp(_)))
    }

    /// Whether an end of stream is the end (a file), rather than a failure to recover from.
    pub fn ends(&self, looping: bool) -> bool {
        matches!(self, Source::Input(Input::File(_))) && !looping
    }

    /// For the log: the source with any password in a URL masked.
    pub fn describe(&self) -> String {
        match self {
            Source::Input(Input::File(p)) => p.display().to_string(),
            Source::Input(Input::Device(d)) => d.clone(),
            Source::Input(Input::Rtsp(url)) => mask_credentials(url),
            Source::Launch(line) => mask_credentials(line),
        }
    }
}

/// `rtsp://user:secret@host/...` → `rtsp://user:***@host/...`, wherever such a URL appears.
pub fn mask_credentials(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c == '/' || c.is_whitespace() || c == '"')
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(at) => {
                let user = authority[..at].split(':').next().unwrap_or("");
                out.push_str(user);
                out.push_str(":***");
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// One camera: its name (in events, JSON and the log), where it is served, and its source.
#[derive(Debug, Clone, PartialEq)]
pub struct Camera {
    pub name: String,
    /// Mount point, e.g. `/faces` or `/door`.
    pub mount: String,
    pub source: Source,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum JsonMode {
    #[default]
    Events,
    Frames,
    Both,
}

impl JsonMode {
    /// facejson's `mode` value.
    pub fn nick(self) -> &'static str {
        match self {
            Self::Events => "events",
            Self::Frames => "frames",
            Self::Both => "both",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub cameras: Vec<Camera>,
    pub address: String,
    pub port: u16,
    pub gallery: Option<PathBuf>,
    pub detect_opts: String,
    pub id_opts: String,
    pub emotion_opts: String,
    pub annotate_opts: String,
    /// facejson's location per camera, `{source}` standing for the camera's name.
    pub json: Option<String>,
    pub json_mode: JsonMode,
    pub source_timeout: Duration,
    pub looping: bool,
    pub size: Option<(u32, u32)>,
    pub encoder: String,
    pub bitrate_kbps: u32,
    pub keyframe_interval: u32,
    pub rtsp_latency_ms: u32,
    pub stats: Option<Duration>,
    pub stamp: bool,
    pub check: bool,
}

impl Options {
    /// facejson's location for `camera`, if events or frames are written at all.
    pub fn json_location(&self, camera: &Camera) -> Option<String> {
        self.json.as_ref().map(|p| p.replace("{source}", &camera.name))
    }
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
            Some(v) => write!(f, "{} {:?}: {}", self.flag, mask_credentials(v), self.reason),
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

fn seconds(flag: &str, value: &str) -> Result<Duration, UsageError> {
    let s: f64 = number(flag, value)?;
    if !(0.0..=86_400.0).contains(&s) {
        return Err(UsageError::new(flag, Some(value), "expected seconds, 0 to 86400"));
    }
    Ok(Duration::from_secs_f64(s))
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

/// A camera name: letters, digits, `_`, `-` and `.`, starting with a letter or digit.
fn is_name(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// `NAME=SRC` → (Some(NAME), SRC); anything else (a URL or path holding `=`, a launch
/// line's `prop=value`) is all source. A value that is an existing file is a file.
fn named(value: &str) -> (Option<&str>, &str) {
    if std::path::Path::new(value).is_file() {
        return (None, value);
    }
    match value.split_once('=') {
        Some((name, src)) if is_name(name) && !src.is_empty() => (Some(name), src),
        _ => (None, value),
    }
}

/// Parses the arguments after the program name.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, UsageError> {
    let mut it = args.into_iter();
    let mut sources: Vec<(&'static str, Option<String>, Source)> = Vec::new();
    let mut path: Option<String> = None;
    let mut o = Options {
        cameras: Vec::new(),
        address: "0.0.0.0".into(),
        port: 8554,
        gallery: None,
        detect_opts: String::new(),
        id_opts: String::new(),
        emotion_opts: String::new(),
        annotate_opts: String::new(),
        json: None,
        json_mode: JsonMode::default(),
        source_timeout: Duration::from_secs(5),
        looping: false,
        size: None,
        encoder: "auto".into(),
        bitrate_kbps: 2000,
        keyframe_interval: 30,
        rtsp_latency_ms: 200,
        stats: Some(Duration::from_secs(60)),
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
                    "--input" => {
                        let (name, src) = named(v);
                        sources.push(("--input", name.map(str::to_string), Source::Input(input(src)?)));
                    }
                    "--launch" => {
                        let (name, line) = named(v);
                        if line.trim().is_empty() {
                            return Err(UsageError::new(f, Some(v), "empty launch line"));
                        }
                        sources.push(("--launch", name.map(str::to_string), Source::Launch(line.to_string())));
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
                        path = Some(p);
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
                    "--json" => {
                        if v.is_empty() {
                            return Err(UsageError::new(f, Some(v), "empty file name"));
                        }
                        o.json = Some(v.to_string());
                    }
                    "--json-mode" => {
                        o.json_mode = match v {
                            "events" => JsonMode::Events,
                            "frames" => JsonMode::Frames,
                            "both" => JsonMode::Both,
                            _ => return Err(UsageError::new(f, Some(v), "expected events, frames or both")),
                        }
                    }
                    "--source-timeout" => {
                        o.source_timeout = seconds(f, v)?;
                        if o.source_timeout < Duration::from_millis(100) {
                            return Err(UsageError::new(f, Some(v), "must be at least 0.1 s"));
                        }
                    }
                    "--stats" => {
                        let d = seconds(f, v)?;
                        o.stats = (!d.is_zero()).then_some(d);
                    }
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
    o.cameras = cameras(sources, path)?;
    if o.looping
        && !o
            .cameras
            .iter()
            .any(|c| matches!(c.source, Source::Input(Input::File(_))))
    {
        return Err(UsageError::new("--loop", None, "only a file input can loop"));
    }
    if let Some(json) = &o.json
        && o.cameras.len() > 1
        && json != "-"
        && !json.contains("{source}")
    {
        return Err(UsageError::new(
            "--json",
            Some(json),
            "with several cameras the file name needs {source} (each camera writes its own)",
        ));
    }
    Ok(Command::Serve(Box::new(o)))
}

/// The cameras from the `--input` / `--launch` flags: one unnamed camera is served at
/// `--path` (default /faces) and named after it; several need a name each.
fn cameras(
    sources: Vec<(&'static str, Option<String>, Source)>,
    path: Option<String>,
) -> Result<Vec<Camera>, UsageError> {
    if sources.is_empty() {
        return Err(UsageError::new("--input", None, "required (or --launch)"));
    }
    if sources.len() == 1 && sources[0].1.is_none() {
        let (_, _, source) = sources.into_iter().next().expect("one source");
        let mount = path.unwrap_or_else(|| "/faces".to_string());
        return Ok(vec![Camera {
            name: mount.trim_start_matches('/').replace('/', "-"),
            mount,
            source,
        }]);
    }
    if let Some(p) = path {
        return Err(UsageError::new(
            "--path",
            Some(&p),
            "only for one unnamed camera; a named camera is served at /NAME",
        ));
    }
    let mut out: Vec<Camera> = Vec::new();
    for (flag, name, source) in sources {
        let Some(name) = name else {
            return Err(UsageError::new(
                flag,
                None,
                "with several cameras give each a name: NAME=SOURCE (served at /NAME)",
            ));
        };
        if out.iter().any(|c| c.name == name) {
            return Err(UsageError::new(flag, Some(&name), "two cameras with the same name"));
        }
        out.push(Camera {
            mount: format!("/{name}"),
            name,
            source,
        });
    }
    Ok(out)
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

    fn options(a: &[&str]) -> Options {
        match parse(args(a)).expect("parses") {
            Command::Serve(o) => *o,
            Command::Help => panic!("help"),
        }
    }

    #[test]
    fn defaults_and_values() {
        let o = options(&["--launch", "videotestsrc is-live=true"]);
        assert_eq!((o.address.as_str(), o.port), ("0.0.0.0", 8554));
        assert_eq!(o.encoder, "auto");
        assert_eq!(o.source_timeout, Duration::from_secs(5));
        assert_eq!(o.cameras.len(), 1);
        assert_eq!(
            (o.cameras[0].name.as_str(), o.cameras[0].mount.as_str()),
            ("faces", "/faces")
        );
        assert_eq!(o.cameras[0].source, Source::Launch("videotestsrc is-live=true".into()));
        let o = options(&[
            "--input",
            "rtsp://cam/stream?channel=1",
            "--port=0",
            "--path",
            "cam1",
            "--size",
            "1280x720",
            "--source-timeout",
            "2.5",
            "--stats",
            "0",
        ]);
        assert_eq!(
            o.cameras[0].source,
            Source::Input(Input::Rtsp("rtsp://cam/stream?channel=1".into()))
        );
        assert_eq!(
            (o.cameras[0].name.as_str(), o.cameras[0].mount.as_str()),
            ("cam1", "/cam1")
        );
        assert_eq!((o.port, o.size), (0, Some((1280, 720))));
        assert_eq!((o.source_timeout, o.stats), (Duration::from_millis(2500), None));
    }

    #[test]
    fn several_named_cameras_each_get_a_mount() {
        let o = options(&[
            "--input",
            "door=rtsp://10.0.0.5/s",
            "--launch",
            "desk=videotestsrc is-live=true pattern=ball",
            "--json",
            "out/{source}.jsonl",
        ]);
        let mounts: Vec<_> = o.cameras.iter().map(|c| (c.name.as_str(), c.mount.as_str())).collect();
        assert_eq!(mounts, [("door", "/door"), ("desk", "/desk")]);
        assert_eq!(
            o.cameras[1].source,
            Source::Launch("videotestsrc is-live=true pattern=ball".into())
        );
        assert_eq!(o.json_location(&o.cameras[0]).as_deref(), Some("out/door.jsonl"));
        // A launch line's own prop=value is not a name.
        let o = options(&["--launch", "videotestsrc pattern=ball"]);
        assert_eq!(o.cameras[0].source, Source::Launch("videotestsrc pattern=ball".into()));
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
        assert_eq!(
            err(&["--launch", "x", "--source-timeout", "0"]).flag,
            "--source-timeout"
        );
        assert_eq!(err(&["--launch", "x", "--json-mode", "all"]).flag, "--json-mode");
        // Several cameras: names, no --path, one file each.
        assert_eq!(err(&["--input", "rtsp://a/s", "--input", "rtsp://b/s"]).flag, "--input");
        assert_eq!(
            err(&["--input", "a=rtsp://a/s", "--input", "a=rtsp://b/s"]).flag,
            "--input"
        );
        assert_eq!(err(&["--input", "a=rtsp://a/s", "--path", "/x"]).flag, "--path");
        assert_eq!(
            err(&[
                "--input",
                "a=rtsp://a/s",
                "--input",
                "b=rtsp://b/s",
                "--json",
                "x.jsonl"
            ])
            .flag,
            "--json"
        );
    }

    #[test]
    fn passwords_never_reach_the_log() {
        assert_eq!(
            mask_credentials("rtspsrc location=rtsp://admin:hunter2@10.0.0.5:554/s1 latency=0"),
            "rtspsrc location=rtsp://admin:***@10.0.0.5:554/s1 latency=0"
        );
        assert_eq!(mask_credentials("rtsp://10.0.0.5/s"), "rtsp://10.0.0.5/s");
        let e = UsageError::new("--input", Some("rtsp://u:pw@h/s"), "bad");
        assert!(!e.to_string().contains("pw"), "{e}");
        let s = Source::Input(Input::Rtsp("rtsp://u:pw@h/s".into()));
        assert_eq!(s.describe(), "rtsp://u:***@h/s");
    }
}
