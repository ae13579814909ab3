//! `face-attendance`: an attendance record for any number of cameras, kept in a
//! database from the face events `facejson mode=events` writes.
//!
//! ```text
//! face-attendance ingest [--database DB] FILES...       # JSON lines; - for stdin
//! face-attendance ingest [--database DB] --mqtt mqtt://host:1883/faces/# [--idle-exit SECS]
//! face-attendance report [--database DB] [--csv FILE] [--source CAM] [--from ISO] [--to ISO]
//! ```
//!
//! Each `left` event is one visit; the report sums them per person and camera. Every
//! event is recorded under its id, so reading a file twice, or a message the broker
//! delivered twice, changes nothing.

mod event;
mod ingest;
mod mqtt;
mod report;
mod store;
mod utc;

use clap::{Args, Parser, Subcommand};
use std::io::Write;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "face-attendance",
    version,
    about = "Attendance record from face events, for any number of cameras"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Records face events from JSON-lines files or an MQTT broker.
    Ingest(IngestArgs),
    /// Prints the visits per person and camera.
    Report(ReportArgs),
}

#[derive(Args, Debug)]
struct Database {
    /// The record: an SQLite file, or a postgres://user@host:port/db URL.
    #[arg(long, value_name = "DB", default_value = "attendance.sqlite")]
    database: String,
}

#[derive(Args, Debug)]
struct IngestArgs {
    #[command(flatten)]
    database: Database,
    /// JSON-lines files of face events (- for standard input). Events without a
    /// "source" count for the camera named by the file's stem.
    #[arg(value_name = "FILES", required_unless_present = "mqtt", conflicts_with = "mqtt")]
    files: Vec<String>,
    #[command(flatten)]
    mqtt: mqtt::MqttArgs,
}

#[derive(Args, Debug)]
struct ReportArgs {
    #[command(flatten)]
    database: Database,
    /// Also write the rows as CSV to FILE (- for standard output, instead of the table).
    #[arg(long, value_name = "FILE")]
    csv: Option<String>,
    /// Only this camera.
    #[arg(long, value_name = "CAM")]
    source: Option<String>,
    /// Only visits in view at or after this time (ISO 8601, UTC unless it has an
    /// offset: YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ, YYYY-MM-DDTHH:MM+01:00). Visits without
    /// wall-clock times (older files) are left out when --from or --to is given.
    #[arg(long, value_name = "ISO", value_parser = utc::parse)]
    from: Option<i64>,
    /// Only visits in view at or before this time (ISO 8601).
    #[arg(long, value_name = "ISO", value_parser = utc::parse)]
    to: Option<i64>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Ingest(args) => ingest(&args),
        Command::Report(args) => report(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("face-attendance: {e}");
            ExitCode::FAILURE
        }
    }
}

fn ingest(args: &IngestArgs) -> Result<(), String> {
    let mut store = store::open(&args.database.database, true)?;
    match &args.mqtt.mqtt {
        Some(location) => mqtt::run(store.as_mut(), &args.mqtt, location),
        None => ingest::files(store.as_mut(), &args.files),
    }
}

fn report(args: &ReportArgs) -> Result<(), String> {
    if let (Some(from), Some(to)) = (args.from, args.to)
        && from > to
    {
        return Err(format!(
            "--from ({}) is after --to ({})",
            utc::format(from),
            utc::format(to)
        ));
    }
    let mut store = store::open(&args.database.database, false)?;
    let filter = store::Filter {
        source: args.source.clone(),
        from_ms: args.from,
        to_ms: args.to,
    };
    let rows = report::rows(&store.visits(&filter)?);
    if rows.is_empty() {
        if filter == store::Filter::default() {
            eprintln!("no visits recorded yet: ingest the output of facejson mode=events of a tracked stream");
        } else {
            eprintln!("no recorded visit matches --source / --from / --to");
        }
    }
    let stdout_fail = |e: std::io::Error| format!("cannot write the report: {e}");
    match args.csv.as_deref() {
        Some("-") => report::csv(&rows, &mut std::io::stdout().lock()).map_err(stdout_fail)?,
        Some(path) => {
            let fail = |e: std::io::Error| format!("--csv ({path}): cannot write it: {e}");
            let mut file = std::io::BufWriter::new(std::fs::File::create(path).map_err(fail)?);
            report::csv(&rows, &mut file).map_err(fail)?;
            file.flush().map_err(fail)?;
            report::table(&rows, &mut std::io::stdout().lock()).map_err(stdout_fail)?;
        }
        None => report::table(&rows, &mut std::io::stdout().lock()).map_err(stdout_fail)?,
    }
    Ok(())
}
