//! The on-disk spool: every message is written here first and leaves only once the
//! broker has acknowledged it, so a broker that is away, a lost uplink or a restart of
//! the pipeline itself loses nothing. Bounded: past `limit` bytes the oldest messages
//! are dropped, and counted.
//!
//! A directory of segment files (`000000000001.spool`, …), one message per line as
//! `topic<TAB>payload`, and `acked` holding the position of the first message not yet
//! acknowledged. Segments wholly before it are deleted. One process at a time: a lock
//! file keeps a second publisher out.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// A place in the spool: segment number and byte offset in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    pub segment: u64,
    pub offset: u64,
}

struct Segment {
    number: u64,
    len: u64,
}

pub struct Spool {
    dir: PathBuf,
    _lock: File,
    limit: u64,
    segment_limit: u64,
    segments: VecDeque<Segment>,
    writer: Option<(u64, File)>,
    /// The first message not acknowledged.
    acked: Pos,
    /// The next message to send.
    read: Pos,
    reader: Option<(u64, BufReader<File>)>,
    /// Messages written and neither acknowledged nor dropped.
    waiting: u64,
}

fn segment_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("{n:012}.spool"))
}

impl Spool {
    /// Opens (or creates) the spool in `dir`, holding at most about `limit` bytes.
    /// Messages left by an earlier run are kept and sent first.
    pub fn open(dir: &Path, limit: u64) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("lock"))?;
        lock.try_lock().map_err(|_| {
            io::Error::new(
                io::ErrorKind::WouldBlock,
                format!("{} is in use by another publisher", dir.display()),
            )
        })?;
        let mut numbers: Vec<u64> = fs::read_dir(dir)?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                name.strip_suffix(".spool")?.parse::<u64>().ok()
            })
            .collect();
        numbers.sort_unstable();
        let acked = fs::read_to_string(dir.join("acked"))
            .ok()
            .and_then(|s| {
                let mut it = s.split_whitespace().map(|v| v.parse::<u64>());
                match (it.next(), it.next()) {
                    (Some(Ok(segment)), Some(Ok(offset))) => Some(Pos { segment, offset }),
                    _ => None,
                }
            })
            .unwrap_or(Pos {
                segment: numbers.first().copied().unwrap_or(1),
                offset: 0,
            });
        let mut segments = VecDeque::new();
        for n in numbers {
            let path = segment_path(dir, n);
            if n < acked.segment {
                fs::remove_file(&path)?;
                continue;
            }
            segments.push_back(Segment {
                number: n,
                len: fs::metadata(&path)?.len(),
            });
        }
        let mut spool = Self {
            dir: dir.to_path_buf(),
            _lock: lock,
            limit: limit.max(4096),
            segment_limit: (limit / 8).clamp(1024, 16 << 20),
            segments,
            writer: None,
            acked,
            read: acked,
            reader: None,
            waiting: 0,
        };
        if spool.segments.is_empty() {
            spool.acked = Pos {
                segment: acked.segment.max(1),
                offset: 0,
            };
            spool.read = spool.acked;
        }
        // A crash may have left half a line at the end: the next message starts on a
        // line of its own, and the half line is skipped as unreadable.
        let mut n = 0;
        while spool.next_unsent()?.is_some() {
            n += 1;
        }
        spool.waiting = n;
        spool.rewind();
        Ok(spool)
    }

    /// Messages waiting to be acknowledged.
    pub fn waiting(&self) -> u64 {
        self.waiting
    }

    /// Bytes on disk.
    pub fn bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.len).sum()
    }

    /// Writes a message; returns how many of the oldest messages were dropped to stay
    /// within the limit.
    pub fn append(&mut self, topic: &str, payload: &str) -> io::Result<u64> {
        let mut line = String::with_capacity(topic.len() + payload.len() + 2);
        line.push_str(&topic.replace(['\t', '\n', '\r'], "_"));
        line.push('\t');
        line.push_str(&payload.replace(['\n', '\r'], " "));
        line.push('\n');
        let start_new = match self.segments.back() {
            None => true,
            Some(s) => s.len > 0 && s.len + line.len() as u64 > self.segment_limit,
        };
        if start_new {
            let number = self.segments.back().map(|s| s.number + 1).unwrap_or(self.acked.segment);
            self.segments.push_back(Segment { number, len: 0 });
        }
        let Some(last) = self.segments.back_mut() else {
            unreachable!("a segment was just made")
        };
        if self.writer.as_ref().map(|(n, _)| *n) != Some(last.number) {
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(segment_path(&self.dir, last.number))?;
            // A segment that ends in half a line (a crash) is closed off first.
            if last.len > 0 && !ends_with_newline(&segment_path(&self.dir, last.number))? {
                let mut f2 = &f;
                f2.write_all(b"\n")?;
                last.len += 1;
            }
            self.writer = Some((last.number, f));
        }
        if let Some((_, f)) = self.writer.as_mut() {
            f.write_all(line.as_bytes())?;
        }
        last.len += line.len() as u64;
        self.waiting += 1;
        Ok(self.enforce_limit())
    }

    fn enforce_limit(&mut self) -> u64 {
        let mut dropped = 0;
        while self.bytes() > self.limit && self.segments.len() > 1 {
            let Some(old) = self.segments.pop_front() else { break };
            let path = segment_path(&self.dir, old.number);
            if old.number >= self.acked.segment {
                let from = if old.number == self.acked.segment {
                    self.acked.offset
                } else {
                    0
                };
                dropped += count_lines(&path, from).unwrap_or(0);
                self.acked = Pos {
                    segment: old.number + 1,
                    offset: 0,
                };
            }
            let _ = fs::remove_file(&path);
            if self.read < self.acked {
                self.read = self.acked;
                self.reader = None;
            }
        }
        if dropped > 0 {
            self.waiting = self.waiting.saturating_sub(dropped);
            let _ = self.save_acked();
        }
        dropped
    }

    /// The next message to send after the last one it gave: (its end, topic,
    /// payload), or `None` when all have been given.
    pub fn next_unsent(&mut self) -> io::Result<Option<(Pos, String, String)>> {
        loop {
            let Some(seg) = self.segments.iter().find(|s| s.number == self.read.segment) else {
                // The read position is past the last segment (or before the first).
                match self.segments.iter().find(|s| s.number > self.read.segment) {
                    Some(s) => {
                        self.read = Pos {
                            segment: s.number,
                            offset: 0,
                        };
                        continue;
                    }
                    None => return Ok(None),
                }
            };
            if self.read.offset >= seg.len {
                match self.segments.iter().find(|s| s.number > self.read.segment) {
                    Some(s) => {
                        self.read = Pos {
                            segment: s.number,
                            offset: 0,
                        };
                        self.reader = None;
                        continue;
                    }
                    None => return Ok(None),
                }
            }
            let seg_len = seg.len;
            if self.reader.as_ref().map(|(n, _)| *n) != Some(self.read.segment) {
                let mut f = File::open(segment_path(&self.dir, self.read.segment))?;
                f.seek(SeekFrom::Start(self.read.offset))?;
                self.reader = Some((self.read.segment, BufReader::new(f)));
            }
            let Some((_, reader)) = self.reader.as_mut() else {
                unreachable!("the reader was just opened")
            };
            let mut line = String::new();
            let n = reader.read_line(&mut line)? as u64;
            if n == 0 {
                // The file is shorter than counted (cut off outside us): go on after it.
                self.read.offset = seg_len;
                continue;
            }
            self.read.offset += n;
            let end = self.read;
            let Some(body) = line.strip_suffix('\n') else {
                // Half a line at the end of a segment: nothing to send.
                continue;
            };
            match body.split_once('\t') {
                Some((topic, payload)) => return Ok(Some((end, topic.to_string(), payload.to_string()))),
                None => continue,
            }
        }
    }

    /// Starts `next_unsent` again from the first message not acknowledged (after a reconnect:
    /// whatever was in flight is sent again).
    pub fn rewind(&mut self) {
        self.read = self.acked;
        self.reader = None;
    }

    /// The broker has acknowledged every message up to `end` (a position `next_unsent` gave).
    pub fn ack(&mut self, end: Pos) -> io::Result<()> {
        if end <= self.acked {
            return Ok(());
        }
        self.acked = end;
        self.waiting = self.waiting.saturating_sub(1);
        // Segments read to their end and no longer written are done with.
        while let Some(first) = self.segments.front() {
            let last_number = self.segments.back().map(|s| s.number);
            let done = first.number < self.acked.segment
                || (first.number == self.acked.segment
                    && self.acked.offset >= first.len
                    && Some(first.number) != last_number);
            if !done {
                break;
            }
            let n = first.number;
            self.segments.pop_front();
            if self.reader.as_ref().map(|(r, _)| *r) == Some(n) {
                self.reader = None;
            }
            // Already gone is as good as deleted.
            let _ = fs::remove_file(segment_path(&self.dir, n));
            if self.acked.segment == n {
                self.acked = Pos {
                    segment: n + 1,
                    offset: 0,
                };
            }
        }
        self.save_acked()
    }

    fn save_acked(&self) -> io::Result<()> {
        // Written aside and renamed: a crash leaves the old position or the new, never half.
        let tmp = self.dir.join("acked.tmp");
        fs::write(&tmp, format!("{} {}\n", self.acked.segment, self.acked.offset))?;
        fs::rename(tmp, self.dir.join("acked"))
    }
}

fn count_lines(path: &Path, from: u64) -> io::Result<u64> {
    let mut f = File::open(path)?;
    f.seek(SeekFrom::Start(from))?;
    let mut n = 0;
    for line in BufReader::new(f).split(b'\n') {
        if !line?.is_empty() {
            n += 1;
        }
    }
    Ok(n)
}

fn ends_with_newline(path: &Path) -> io::Result<bool> {
    let mut f = File::open(path)?;
    let len = f.metadata()?.len();
    if len == 0 {
        return Ok(true);
    }
    f.seek(SeekFrom::Start(len - 1))?;
    let mut b = [0u8; 1];
    io::Read::read_exact(&mut f, &mut b)?;
    Ok(b[0] == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("facebroker-spool-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    fn drain(s: &mut Spool) -> Vec<(Pos, String)> {
        let mut out = Vec::new();
        while let Some((end, _, payload)) = s.next_unsent().unwrap() {
            out.push((end, payload));
        }
        out
    }

    #[test]
    fn keeps_what_was_not_acknowledged_across_a_restart() {
        let d = dir("restart");
        {
            let mut s = Spool::open(&d, 1 << 20).unwrap();
            for i in 0..10 {
                s.append("t", &format!("{{\"n\":{i}}}")).unwrap();
            }
            let sent = drain(&mut s);
            assert_eq!(sent.len(), 10);
            for (end, _) in &sent[..4] {
                s.ack(*end).unwrap();
            }
            assert_eq!(s.waiting(), 6);
        }
        let mut s = Spool::open(&d, 1 << 20).unwrap();
        assert_eq!(s.waiting(), 6);
        let again: Vec<String> = drain(&mut s).into_iter().map(|(_, p)| p).collect();
        assert_eq!(again, (4..10).map(|i| format!("{{\"n\":{i}}}")).collect::<Vec<_>>());
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn rewinding_sends_the_unacknowledged_again_in_order() {
        let d = dir("rewind");
        let mut s = Spool::open(&d, 1 << 20).unwrap();
        for i in 0..5 {
            s.append("t", &i.to_string()).unwrap();
        }
        let first = drain(&mut s);
        s.ack(first[1].0).unwrap();
        s.rewind();
        let again: Vec<String> = drain(&mut s).into_iter().map(|(_, p)| p).collect();
        assert_eq!(again, ["2", "3", "4"]);
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn the_oldest_are_dropped_past_the_limit_and_counted() {
        let d = dir("limit");
        let mut s = Spool::open(&d, 8192).unwrap();
        let payload = "x".repeat(100);
        let mut dropped = 0;
        for _ in 0..400 {
            dropped += s.append("topic", &payload).unwrap();
        }
        assert!(dropped > 0);
        assert!(s.bytes() <= 8192 + 1100, "{}", s.bytes());
        assert_eq!(s.waiting() + dropped, 400);
        assert_eq!(drain(&mut s).len() as u64, s.waiting());
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn acknowledged_segments_are_deleted() {
        let d = dir("delete");
        let mut s = Spool::open(&d, 16384).unwrap();
        for i in 0..200 {
            s.append("t", &format!("{i:0>50}")).unwrap();
        }
        for (end, _) in drain(&mut s) {
            s.ack(end).unwrap();
        }
        assert_eq!(s.waiting(), 0);
        let files = fs::read_dir(&d)
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".spool"));
        assert!(files.count() <= 1);
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn a_second_publisher_is_kept_out() {
        let d = dir("lock");
        let _s = Spool::open(&d, 1 << 20).unwrap();
        let e = Spool::open(&d, 1 << 20).err().expect("locked");
        assert!(e.to_string().contains("in use"), "{e}");
        let _ = fs::remove_dir_all(&d);
    }
}
