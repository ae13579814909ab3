//! Command-line flags (clap), and the checks clap cannot make alone.
//!
//! A mistake clap sees (an unknown flag, a value that is not a number, a bad size) comes
//! back as its own error; one that needs the whole command line or the file system (a
//! missing file, two cameras of one name) as a [`UsageError`] naming the flag and the
//! value. `main` prints either and turns it into exit code 2.

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, ValueEnum};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

const AFTER_HELP: &str = "A camera that fails (an error, an end of stream, no frame for --source-timeout) is
reconnected for ever, 1 s after the failure and then at doubling intervals up to 30 s;
meanwhile its viewers get the last frame under a \"no signal\" banner at the stream's rate.
Prints `serving rtsp://ADDRESS:PORT/PATH` on standard output for each camera once listening.
Exit status: 0 after SIGINT/SIGTERM or once every (unlooped) file has ended, 1 when the
analysis or a file, device or launch line cannot start, 2 on a bad flag.";

/// The command line as clap reads it; [`parse`] checks the rest and builds [`Options`].
#[derive(Parser, Debug)]
#[command(
    name = "face-rtsp",
    about = "Serves cameras over RTSP with every face boxed, named and labelled",
    override_usage = "face-rtsp (--input [NAME=]SRC | --launch [NAME=]LINE)... [OPTIONS]",
    after_help = AFTER_HELP,
    args_override_self = true,
    // `--stats -1` is a bad value of --stats, not an unknown flag -1.
    allow_negative_numbers = true
)]
struct Cli {
    /// A camera: a video file (paced at its own rate), a V4L2 device or an RTSP URL; repeat with NAME= for several (served at /NAME)
    #[arg(long, value_name = "[NAME=]SRC")]
    input: Vec<String>,
    /// A camera given as a launch line that ends in raw video (e.g. "nvarguscamerasrc ! nvvidconv"), supervised like --input
    #[arg(long, value_name = "[NAME=]LINE")]
    launch: Vec<String>,
    /// Address to listen on
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0", value_parser = address)]
    address: String,
    /// Port to listen on (0 = any free port, printed at start)
    #[arg(long, value_name = "N", default_value_t = 8554)]
    port: u16,
    /// Mount point of a single unnamed camera (named cameras are served at /NAME)
    #[arg(long, value_name = "/P", default_value = "/faces", value_parser = mount_point)]
    path: String,
    /// faceid's gallery: a folder of <Name>/*.jpg|png or a face-enrol file
    #[arg(long, value_name = "DIR|FILE", value_parser = gallery)]
    gallery: Option<PathBuf>,
    /// prop=value pairs appended to facedetect (e.g. "interval=1 working-size=960")
    #[arg(long, value_name = "S", default_value = "")]
    detect_opts: String,
    /// prop=value pairs appended to faceid
    #[arg(long, value_name = "S", default_value = "")]
    id_opts: String,
    /// prop=value pairs appended to faceemotion
    #[arg(long, value_name = "S", default_value = "")]
    emotion_opts: String,
    /// prop=value pairs appended to faceannotate
    #[arg(long, value_name = "S", default_value = "")]
    annotate_opts: String,
    /// Hide faces before anything is served: unknown (everyone the gallery does not name), all, known, or a comma-separated list of gallery names (only those)
    #[arg(long, value_name = "WHO", value_parser = redact)]
    redact: Option<String>,
    /// prop=value pairs appended to faceredact (e.g. "method=pixelate margin=0.4")
    #[arg(long, value_name = "S", default_value = "")]
    redact_opts: String,
    /// Write each camera's face events (facejson) to PATTERN, {source} replaced by the camera's name (e.g. out/{source}.jsonl; - = standard output; mqtt://host/faces/{source} publishes to a broker)
    #[arg(long, value_name = "PATTERN", value_parser = json_file)]
    json: Option<String>,
    /// What --json writes
    #[arg(long, value_name = "M", default_value_t = JsonMode::default())]
    json_mode: JsonMode,
    /// prop=value pairs appended to facejson (e.g. "mqtt-ca-file=ca.pem mqtt-username=cam" with an mqtts:// --json; the password from FACE_MQTT_PASSWORD)
    #[arg(long, value_name = "S", default_value = "")]
    json_opts: String,
    /// Seconds without a frame after which a camera counts as lost
    #[arg(long, value_name = "S", default_value = "5", value_parser = source_timeout)]
    source_timeout: Duration,
    /// File inputs start again at their end (default: a file plays once)
    #[arg(long = "loop")]
    looping: bool,
    /// Scale every camera to this size before the analysis
    #[arg(long, value_name = "WxH", value_parser = size)]
    size: Option<(u32, u32)>,
    /// H.264 encoder: auto, x264, nvv4l2, va, vaapi or v4l2
    #[arg(long, value_name = "E", default_value = "auto")]
    encoder: String,
    /// H.264 bitrate in kbit/s
    #[arg(long, value_name = "KBPS", default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..))]
    bitrate: u32,
    /// Frames between keyframes (late joiners start within about one interval)
    #[arg(long, value_name = "N", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..))]
    keyframe_interval: u32,
    /// Jitterbuffer of an rtsp:// input, in ms
    #[arg(long, value_name = "MS", default_value_t = 200)]
    rtsp_latency: u32,
    /// Print each camera's frame rates and the process's memory every S seconds (0 = never)
    #[arg(long, value_name = "S", default_value = "60", value_parser = seconds)]
    stats: Duration,
    /// Write the wall-clock time into each source frame (for face-rtsp-probe)
    #[arg(long)]
    stamp: bool,
    /// Do not wait at start-up for the first frame of files, devices and launch lines
    #[arg(long)]
    no_check: bool,
}

/// The `--help` text.
pub fn help() -> String {
    Cli::command().render_help().to_string()
}

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

/// facejson's `mode`: `--json-mode events|frames|both`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
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

impl fmt::Display for JsonMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.nick())
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
    /// faceredact's `who` (and `hide`) from `--redact`, when faces are hidden.
    pub redact: Option<String>,
    pub redact_opts: String,
    /// facejson's location per camera, `{source}` standing for the camera's name.
    pub json: Option<String>,
    pub json_mode: JsonMode,
    pub json_opts: String,
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

/// A command line refused: by clap (its own message, with the usage), or by the checks
/// after it.
#[derive(Debug)]
pub enum Error {
    Clap(clap::Error),
    Usage(UsageError),
}

impl Error {
    /// The flag the mistake is about (`--port`), where there is one.
    pub fn flag(&self) -> Option<String> {
        match self {
            Error::Usage(e) => Some(e.flag.clone()),
            // clap names the argument with its value name: `--port <N>`.
            Error::Clap(e) => match e.get(ContextKind::InvalidArg) {
                Some(ContextValue::String(s)) => s.split_whitespace().next().map(str::to_string),
                _ => None,
            },
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Clap(e) => write!(f, "{e}"),
            Error::Usage(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<UsageError> for Error {
    fn from(e: UsageError) -> Self {
        Error::Usage(e)
    }
}

impl From<clap::Error> for Error {
    fn from(e: clap::Error) -> Self {
        Error::Clap(e)
    }
}

fn number<T: std::str::FromStr>(value: &str) -> Result<T, String> {
    value.parse().map_err(|_| "not a valid number".to_string())
}

fn seconds(value: &str) -> Result<Duration, String> {
    let s: f64 = number(value)?;
    if !(0.0..=86_400.0).contains(&s) {
        return Err("expected seconds, 0 to 86400".into());
    }
    Ok(Duration::from_secs_f64(s))
}

fn source_timeout(value: &str) -> Result<Duration, String> {
    let d = seconds(value)?;
    if d < Duration::from_millis(100) {
        return Err("must be at least 0.1 s".into());
    }
    Ok(d)
}

fn size(value: &str) -> Result<(u32, u32), String> {
    let bad = || "expected WIDTHxHEIGHT, e.g. 1280x720".to_string();
    let (w, h) = value.split_once('x').ok_or_else(bad)?;
    let (w, h): (u32, u32) = (w.parse().map_err(|_| bad())?, h.parse().map_err(|_| bad())?);
    // I420 needs even sizes; 16 px is the smallest frame a model could use anyway.
    if w < 16 || h < 16 || w % 2 == 1 || h % 2 == 1 {
        return Err("width and height must be even and at least 16".into());
    }
    Ok((w, h))
}

fn address(value: &str) -> Result<String, String> {
    if value.is_empty() {
        return Err("empty address".into());
    }
    Ok(value.to_string())
}

fn mount_point(value: &str) -> Result<String, String> {
    let p = if value.starts_with('/') {
        value.to_string()
    } else {
        format!("/{value}")
    };
    if p.len() < 2 || p.contains(char::is_whitespace) {
        return Err("expected a mount point such as /faces".into());
    }
    Ok(p)
}

fn gallery(value: &str) -> Result<PathBuf, String> {
    let p = PathBuf::from(value);
    if !p.exists() {
        return Err("no such file or folder".into());
    }
    Ok(p)
}

/// `--redact`: faceredact's properties for unknown, all, known, or a list of names.
fn redact(value: &str) -> Result<String, String> {
    match value {
        "unknown" | "all" | "known" => Ok(format!("who={value}")),
        _ => {
            let names: Vec<&str> = value.split(',').map(str::trim).filter(|n| !n.is_empty()).collect();
            if names.is_empty() {
                return Err("expected unknown, all, known or gallery names such as Ada,Bob".into());
            }
            if let Some(bad) = names.iter().find(|n| n.contains(['"', '\\'])) {
                return Err(format!("a name cannot hold quotes or backslashes: {bad}"));
            }
            Ok(format!("who=listed hide=\"{}\"", names.join(",")))
        }
    }
}

fn json_file(value: &str) -> Result<String, String> {
    if value.is_empty() {
        return Err("empty file name".into());
    }
    Ok(value.to_string())
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
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, Error> {
    let argv = std::iter::once("face-rtsp".to_string()).chain(args);
    let mut matches = match Cli::command().try_get_matches_from(argv) {
        Ok(m) => m,
        Err(e) if e.kind() == ErrorKind::DisplayHelp => return Ok(Command::Help),
        Err(e) => return Err(e.into()),
    };
    // Where each --input and --launch stood: the cameras keep the command line's order.
    let at = |id: &str| -> Vec<usize> { matches.indices_of(id).map(Iterator::collect).unwrap_or_default() };
    let (input_at, launch_at) = (at("input"), at("launch"));
    // Only a --path on the command line is refused with several cameras, not its default.
    let path_given = matches.value_source("path") == Some(ValueSource::CommandLine);
    let cli = Cli::from_arg_matches_mut(&mut matches)?;
    let mut given: Vec<(usize, &'static str, String)> = Vec::new();
    given.extend(input_at.into_iter().zip(cli.input).map(|(i, v)| (i, "--input", v)));
    given.extend(launch_at.into_iter().zip(cli.launch).map(|(i, v)| (i, "--launch", v)));
    given.sort_by_key(|(i, _, _)| *i);
    let mut sources: Vec<(&'static str, Option<String>, Source)> = Vec::new();
    for (_, flag, v) in &given {
        let (name, src) = named(v);
        let source = if *flag == "--input" {
            Source::Input(input(src)?)
        } else {
            if src.trim().is_empty() {
                return Err(UsageError::new(flag, Some(v), "empty launch line").into());
            }
            Source::Launch(src.to_string())
        };
        sources.push((flag, name.map(str::to_string), source));
    }
    let o = Options {
        cameras: cameras(sources, cli.path, path_given)?,
        address: cli.address,
        port: cli.port,
        gallery: cli.gallery,
        detect_opts: cli.detect_opts,
        id_opts: cli.id_opts,
        emotion_opts: cli.emotion_opts,
        annotate_opts: cli.annotate_opts,
        redact: cli.redact,
        redact_opts: cli.redact_opts,
        json: cli.json,
        json_mode: cli.json_mode,
        json_opts: cli.json_opts,
        source_timeout: cli.source_timeout,
        looping: cli.looping,
        size: cli.size,
        encoder: cli.encoder,
        bitrate_kbps: cli.bitrate,
        keyframe_interval: cli.keyframe_interval,
        rtsp_latency_ms: cli.rtsp_latency,
        stats: (!cli.stats.is_zero()).then_some(cli.stats),
        stamp: cli.stamp,
        check: !cli.no_check,
    };
    if o.looping
        && !o
            .cameras
            .iter()
            .any(|c| matches!(c.source, Source::Input(Input::File(_))))
    {
        return Err(UsageError::new("--loop", None, "only a file input can loop").into());
    }
    if o.redact.is_none() && !o.redact_opts.trim().is_empty() {
        return Err(UsageError::new("--redact-opts", Some(&o.redact_opts), "needs --redact").into());
    }
    if let Some(who) = &o.redact
        && who.starts_with("who=listed")
        && o.gallery.is_none()
    {
        return Err(UsageError::new(
            "--redact",
            Some(who.trim_start_matches("who=listed hide=").trim_matches('"')),
            "names need --gallery (faceid must know them to hide them)",
        )
        .into());
    }
    if o.json.is_none() && !o.json_opts.trim().is_empty() {
        return Err(UsageError::new("--json-opts", Some(&o.json_opts), "needs --json").into());
    }
    // A broker tells the cameras apart by the "source" of each message (and the default
    // spool is per camera): only files need a name each.
    if let Some(json) = &o.json
        && o.cameras.len() > 1
        && json != "-"
        && !json.contains("{source}")
        && !json.starts_with("mqtt://")
        && !json.starts_with("mqtts://")
    {
        return Err(UsageError::new(
            "--json",
            Some(json),
            "with several cameras the file name needs {source} (each camera writes its own)",
        )
        .into());
    }
    Ok(Command::Serve(Box::new(o)))
}

/// The cameras from the `--input` / `--launch` flags: one unnamed camera is served at
/// `--path` and named after it; several need a name each (and no `--path`).
fn cameras(
    sources: Vec<(&'static str, Option<String>, Source)>,
    path: String,
    path_given: bool,
) -> Result<Vec<Camera>, UsageError> {
    if sources.is_empty() {
        return Err(UsageError::new("--input", None, "required (or --launch)"));
    }
    if sources.len() == 1 && sources[0].1.is_none() {
        let (_, _, source) = sources.into_iter().next().expect("one source");
        let mount = path;
        return Ok(vec![Camera {
            name: mount.trim_start_matches('/').replace('/', "-"),
            mount,
            source,
        }]);
    }
    if path_given {
        return Err(UsageError::new(
            "--path",
            Some(&path),
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

    fn err(a: &[&str]) -> Error {
        parse(args(a)).expect_err("should be refused")
    }

    /// The flag a refused command line is about.
    fn flag(a: &[&str]) -> String {
        let e = err(a);
        e.flag().unwrap_or_else(|| panic!("no flag named: {e}"))
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
        assert_eq!(flag(&["--input", "/no/such.mp4"]), "--input");
        assert_eq!(flag(&["--launch", "x", "--port", "http"]), "--port");
        assert_eq!(flag(&["--launch", "x", "--port", "70000"]), "--port");
        assert_eq!(flag(&["--launch", "x", "--size", "big"]), "--size");
        assert_eq!(flag(&["--launch", "x", "--size", "1281x720"]), "--size");
        assert_eq!(flag(&["--launch", "x", "--bogus", "1"]), "--bogus");
        assert_eq!(flag(&["--launch", "x", "--loop"]), "--loop");
        assert_eq!(flag(&["--input", "rtsp://cam/s", "--loop"]), "--loop");
        assert_eq!(flag(&["--launch"]), "--launch");
        assert_eq!(flag(&["--launch", " "]), "--launch");
        assert_eq!(flag(&[]), "--input");
        assert_eq!(flag(&["--input", "http://x/y"]), "--input");
        assert_eq!(flag(&["--launch", "x", "--source-timeout", "0"]), "--source-timeout");
        assert_eq!(flag(&["--launch", "x", "--source-timeout", "soon"]), "--source-timeout");
        assert_eq!(flag(&["--launch", "x", "--stats", "-1"]), "--stats");
        assert_eq!(flag(&["--launch", "x", "--json-mode", "all"]), "--json-mode");
        assert_eq!(flag(&["--launch", "x", "--bitrate", "0"]), "--bitrate");
        assert_eq!(
            flag(&["--launch", "x", "--keyframe-interval", "0"]),
            "--keyframe-interval"
        );
        assert_eq!(flag(&["--launch", "x", "--address", ""]), "--address");
        assert_eq!(flag(&["--launch", "x", "--path", "/"]), "--path");
        assert_eq!(flag(&["--launch", "x", "--json", ""]), "--json");
        assert_eq!(flag(&["--launch", "x", "--gallery", "/no/such/people"]), "--gallery");
        assert_eq!(flag(&["--launch", "x", "stray"]), "stray");
        // Several cameras: names, no --path, one file each.
        assert_eq!(flag(&["--input", "rtsp://a/s", "--input", "rtsp://b/s"]), "--input");
        assert_eq!(flag(&["--input", "a=rtsp://a/s", "--input", "a=rtsp://b/s"]), "--input");
        assert_eq!(flag(&["--input", "a=rtsp://a/s", "--path", "/x"]), "--path");
        assert_eq!(
            flag(&[
                "--input",
                "a=rtsp://a/s",
                "--input",
                "b=rtsp://b/s",
                "--json",
                "x.jsonl"
            ]),
            "--json"
        );
        // A misspelt flag is refused and the right one suggested.
        let e = err(&["--launch", "x", "--sise", "640x360"]);
        assert!(matches!(e, Error::Clap(_)), "{e}");
        assert!(e.to_string().contains("--size"), "{e}");
        // What the checks say about a value stays in the message.
        let e = err(&["--launch", "x", "--size", "1281x720"]);
        assert!(e.to_string().contains("even and at least 16"), "{e}");
    }

    #[test]
    fn redact_gives_faceredact_its_who() {
        let o = options(&["--launch", "x", "--redact", "unknown"]);
        assert_eq!(o.redact.as_deref(), Some("who=unknown"));
        let o = options(&["--launch", "x", "--redact", "all", "--redact-opts", "method=fill"]);
        assert_eq!(
            (o.redact.as_deref(), o.redact_opts.as_str()),
            (Some("who=all"), "method=fill")
        );
        let gallery = std::env::temp_dir().to_string_lossy().into_owned();
        let o = options(&["--launch", "x", "--gallery", &gallery, "--redact", "Ada, Bob_Jones"]);
        assert_eq!(o.redact.as_deref(), Some("who=listed hide=\"Ada,Bob_Jones\""));
        assert_eq!(flag(&["--launch", "x", "--redact", "Ada"]), "--redact");
        assert_eq!(flag(&["--launch", "x", "--redact", ","]), "--redact");
        assert_eq!(flag(&["--launch", "x", "--redact-opts", "margin=1"]), "--redact-opts");
    }

    #[test]
    fn flags_as_before() {
        // `--flag=value`, the last of a repeated flag wins, --help anywhere.
        let o = options(&[
            "--launch=desk=videotestsrc is-live=true",
            "--port",
            "1",
            "--port=2",
            "--json",
            "-",
            "--json-mode",
            "both",
            "--input",
            "cam=rtsp://x/s",
        ]);
        assert_eq!(o.port, 2);
        assert_eq!((o.json.as_deref(), o.json_mode), (Some("-"), JsonMode::Both));
        assert!(matches!(parse(args(&["--port", "1", "--help"])), Ok(Command::Help)));
        assert!(matches!(parse(args(&["-h"])), Ok(Command::Help)));
        assert!(help().contains("--keyframe-interval"));
        let o = options(&["--launch", "x", "--stamp", "--no-check", "--stats", "2.5"]);
        assert!(o.stamp && !o.check);
        assert_eq!(o.stats, Some(Duration::from_millis(2500)));
        assert_eq!(o.json_mode, JsonMode::Events);
        assert_eq!(
            (o.bitrate_kbps, o.keyframe_interval, o.rtsp_latency_ms),
            (2000, 30, 200)
        );
    }

    #[test]
    fn cameras_keep_the_command_line_order() {
        let o = options(&[
            "--launch",
            "b=videotestsrc",
            "--input",
            "a=rtsp://a/s",
            "--launch",
            "c=videotestsrc",
        ]);
        let names: Vec<_> = o.cameras.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["b", "a", "c"]);
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
