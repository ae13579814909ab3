//! Publishing without blocking and without loss. `publish` hands the message to a
//! thread of its own and returns at once; the thread writes it to the spool, keeps a
//! connection to the broker (connecting again, with back-off, whenever it drops), sends
//! the spool in order with a bounded number in flight, and deletes what the broker has
//! acknowledged. After a reconnect whatever was in flight is sent again: a consumer sees
//! every message at least once (QoS 1), duplicates carrying the same event id.
//!
//! A retained status message says whether the publisher is online: `online` once
//! connected, `offline` when it stops, and the same `offline` as the last will should
//! the connection die without a goodbye.

use crate::options::Options;
use crate::session::{Failure, Happened, Session};
use crate::spool::{Pos, Spool};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// What the publisher tells its owner (an element posts these on the bus).
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// Connected; `waiting` messages from the spool go out first.
    Connected { broker: String, waiting: u64 },
    /// The broker could not be reached or went away; messages are spooled meanwhile.
    Away { reason: String, waiting: u64 },
    /// The broker refused us for a reason waiting will not fix (credentials, the CA).
    Refused(String),
    /// The spool was full: the oldest `count` messages were dropped.
    Dropped { count: u64, total: u64 },
    /// The spool could not be written or read.
    SpoolFailed(String),
}

/// Where the spool lives and how large it may grow.
#[derive(Debug, Clone)]
pub struct SpoolSettings {
    pub dir: PathBuf,
    pub limit: u64,
}

/// What was left when the publisher stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Messages the broker acknowledged during this run.
    pub delivered: u64,
    /// Messages still in the spool, to go out on the next start.
    pub waiting: u64,
}

enum Command {
    Publish {
        topic: String,
        payload: String,
    },
    Stop {
        linger: Duration,
        reply: std::sync::mpsc::Sender<Summary>,
    },
}

pub struct Publisher {
    tx: mpsc::UnboundedSender<Command>,
    thread: Option<JoinHandle<()>>,
    url: crate::url::BrokerUrl,
    source: String,
}

/// Messages handed to the client and not yet acknowledged, at most.
const WINDOW: usize = 64;
/// Waits between connection attempts: doubling from the first to the last.
const FIRST_RETRY: Duration = Duration::from_millis(250);
const LAST_RETRY: Duration = Duration::from_secs(2);

impl Publisher {
    /// Opens the spool (an error names its directory) and starts the thread; nothing
    /// waits for the broker. `source` fills the topic's `{source}`.
    pub fn start(
        options: Options,
        spool: SpoolSettings,
        source: &str,
        notify: Box<dyn Fn(Notice) + Send>,
    ) -> Result<Self, String> {
        let spool_dir = spool.dir.display().to_string();
        let spool = Spool::open(&spool.dir, spool.limit).map_err(|e| format!("spool {spool_dir}: {e}"))?;
        let (tx, rx) = mpsc::unbounded_channel();
        let url = options.url.clone();
        let status = Status::new(&options, source);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the publishing thread: {e}"))?;
        let thread = std::thread::Builder::new()
            .name("face-mqtt".into())
            .spawn(move || {
                runtime.block_on(Worker::new(options, spool, status, notify).run(rx));
            })
            .map_err(|e| format!("cannot start the publishing thread: {e}"))?;
        Ok(Self {
            tx,
            thread: Some(thread),
            url,
            source: source.to_string(),
        })
    }

    /// Queues one message (a JSON line) for the topic of `event`; never blocks.
    pub fn publish(&self, event: &str, payload: String) {
        let topic = self.url.topic_for(&self.source, event);
        let _ = self.tx.send(Command::Publish { topic, payload });
    }

    /// Waits up to `linger` for the broker to acknowledge what is spooled (only while
    /// connected: with the broker away it returns at once), says `offline`, and stops.
    pub fn stop(mut self, linger: Duration) -> Summary {
        self.finish(linger)
    }

    fn finish(&mut self, linger: Duration) -> Summary {
        let (reply, answer) = std::sync::mpsc::channel();
        let mut summary = Summary {
            delivered: 0,
            waiting: 0,
        };
        if self.tx.send(Command::Stop { linger, reply }).is_ok()
            && let Ok(s) = answer.recv()
        {
            summary = s;
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        summary
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.finish(Duration::ZERO);
        }
    }
}

/// The retained status: its topic and the two payloads.
struct Status {
    topic: String,
    online: String,
    offline: String,
}

impl Status {
    fn new(o: &Options, source: &str) -> Self {
        let payload = |state: &str| {
            let mut v = format!("{{\"status\":\"{state}\",\"client_id\":{}", json_string(&o.client_id));
            if !source.is_empty() {
                v.push_str(&format!(",\"source\":{}", json_string(source)));
            }
            v.push('}');
            v
        };
        Self {
            topic: o.url.status_topic(source),
            online: payload("online"),
            offline: payload("offline"),
        }
    }
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A message handed to the client: its packet id once sent, where it ends in the spool
/// (`None`: the status message), and whether the broker acknowledged it.
struct Flight {
    pkid: Option<u16>,
    end: Option<Pos>,
    acked: bool,
}

struct Worker {
    options: Options,
    spool: Spool,
    status: Status,
    notify: Box<dyn Fn(Notice) + Send>,
    session: Option<Session>,
    connected: bool,
    /// The broker refused us: no more attempts.
    refused: bool,
    inflight: VecDeque<Flight>,
    retry_at: Instant,
    backoff: Duration,
    /// Whether the owner has been told the broker is away since the last connection.
    told_away: bool,
    delivered: u64,
    dropped: u64,
    spool_failed: bool,
}

async fn poll(session: &mut Option<Session>, o: &Options) -> Result<Happened, Failure> {
    match session {
        Some(s) => s.poll(o).await,
        None => std::future::pending().await,
    }
}

impl Worker {
    fn new(options: Options, spool: Spool, status: Status, notify: Box<dyn Fn(Notice) + Send>) -> Self {
        Self {
            options,
            spool,
            status,
            notify,
            session: None,
            connected: false,
            refused: false,
            inflight: VecDeque::new(),
            retry_at: Instant::now(),
            backoff: FIRST_RETRY,
            told_away: false,
            delivered: 0,
            dropped: 0,
            spool_failed: false,
        }
    }

    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Command>) {
        let mut stopping: Option<(Instant, std::sync::mpsc::Sender<Summary>)> = None;
        loop {
            self.fill_window();
            if let Some((deadline, _)) = &stopping {
                let drained = self.spool.waiting() == 0 && self.inflight.is_empty();
                if drained || !self.connected || Instant::now() >= *deadline {
                    break;
                }
            }
            let deadline = stopping.as_ref().map(|(d, _)| *d);
            tokio::select! {
                cmd = rx.recv(), if stopping.is_none() => match cmd {
                    Some(Command::Publish { topic, payload }) => self.append(&topic, &payload),
                    Some(Command::Stop { linger, reply }) => {
                        // What is still queued was published before the stop: spool it.
                        while let Ok(Command::Publish { topic, payload }) = rx.try_recv() {
                            self.append(&topic, &payload);
                        }
                        stopping = Some((Instant::now() + linger, reply));
                    }
                    None => {
                        let (reply, _) = std::sync::mpsc::channel();
                        stopping = Some((Instant::now(), reply));
                    }
                },
                r = poll(&mut self.session, &self.options) => self.happened(r),
                _ = tokio::time::sleep_until(self.retry_at), if self.session.is_none() && !self.refused => {
                    let will = (self.status.topic.clone(), self.status.offline.clone());
                    self.session = Some(Session::new(&self.options, Some(will), true, false));
                }
                _ = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {}
            }
        }
        self.goodbye().await;
        if let Some((_, reply)) = stopping {
            let _ = reply.send(Summary {
                delivered: self.delivered,
                waiting: self.spool.waiting(),
            });
        }
    }

    fn append(&mut self, topic: &str, payload: &str) {
        match self.spool.append(topic, payload) {
            Ok(0) => {}
            Ok(n) => {
                self.dropped += n;
                (self.notify)(Notice::Dropped {
                    count: n,
                    total: self.dropped,
                });
            }
            Err(e) => {
                // Told once: a full disk would otherwise say so for every event.
                if !self.spool_failed {
                    self.spool_failed = true;
                    (self.notify)(Notice::SpoolFailed(e.to_string()));
                }
            }
        }
    }

    /// Hands the client spooled messages while there is room in the window.
    fn fill_window(&mut self) {
        if !self.connected {
            return;
        }
        while self.inflight.len() < WINDOW {
            let next = match self.spool.next_unsent() {
                Ok(n) => n,
                Err(e) => {
                    if !self.spool_failed {
                        self.spool_failed = true;
                        (self.notify)(Notice::SpoolFailed(e.to_string()));
                    }
                    return;
                }
            };
            let Some((end, topic, payload)) = next else { return };
            let sent = self
                .session
                .as_ref()
                .is_some_and(|s| s.try_publish(&topic, self.options.qos, false, payload.into_bytes()));
            if !sent {
                // The client is gone: start over on the next connection.
                self.lost("the MQTT client stopped".into());
                return;
            }
            self.inflight.push_back(Flight {
                pkid: None,
                end: Some(end),
                acked: false,
            });
        }
    }

    fn happened(&mut self, r: Result<Happened, Failure>) {
        match r {
            Ok(Happened::Connected) => {
                self.connected = true;
                self.told_away = false;
                self.backoff = FIRST_RETRY;
                self.inflight.clear();
                self.spool.rewind();
                (self.notify)(Notice::Connected {
                    broker: self.options.url.to_string(),
                    waiting: self.spool.waiting(),
                });
                let online = self.status.online.clone().into_bytes();
                if let Some(s) = &self.session
                    && s.try_publish(&self.status.topic, 1, true, online)
                {
                    self.inflight.push_back(Flight {
                        pkid: None,
                        end: None,
                        acked: false,
                    });
                }
            }
            Ok(Happened::Sent(pkid)) => {
                if let Some(f) = self.inflight.iter_mut().find(|f| f.pkid.is_none()) {
                    f.pkid = Some(pkid);
                    // QoS 0: nothing will acknowledge it; written to the socket is all.
                    f.acked = pkid == 0;
                }
            }
            Ok(Happened::Acked(pkid)) => {
                if let Some(f) = self.inflight.iter_mut().find(|f| f.pkid == Some(pkid) && !f.acked) {
                    f.acked = true;
                }
            }
            Ok(Happened::Message { .. } | Happened::Other) => {}
            Err(Failure::Away(reason)) => self.lost(reason),
            Err(Failure::Refused(reason)) => {
                self.session = None;
                self.connected = false;
                self.refused = true;
                (self.notify)(Notice::Refused(reason));
            }
        }
        while self.inflight.front().is_some_and(|f| f.acked) {
            if let Some(Flight { end: Some(end), .. }) = self.inflight.pop_front() {
                self.delivered += 1;
                if let Err(e) = self.spool.ack(end)
                    && !self.spool_failed
                {
                    self.spool_failed = true;
                    (self.notify)(Notice::SpoolFailed(e.to_string()));
                }
            }
        }
    }

    fn lost(&mut self, reason: String) {
        self.session = None;
        self.inflight.clear();
        self.spool.rewind();
        if self.connected || !self.told_away {
            self.told_away = true;
            (self.notify)(Notice::Away {
                reason,
                waiting: self.spool.waiting(),
            });
        }
        self.connected = false;
        self.retry_at = Instant::now() + self.backoff;
        self.backoff = (self.backoff * 2).min(LAST_RETRY);
    }

    /// Says `offline` (retained) and disconnects, briefly waiting for both to go out.
    async fn goodbye(&mut self) {
        let Some(s) = self.session.as_mut().filter(|_| self.connected) else {
            return;
        };
        let offline = self.status.offline.clone().into_bytes();
        if !s.try_publish(&self.status.topic, 1, true, offline) {
            return;
        }
        s.try_disconnect();
        let o = &self.options;
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            // The client ends the connection once the disconnect is out.
            while s.poll(o).await.is_ok() {}
        })
        .await;
    }
}
