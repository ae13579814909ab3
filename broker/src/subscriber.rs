//! Receiving: a subscription that outlives the broker. A thread keeps the connection
//! (connecting again with back-off), subscribes on every connection, and hands each
//! message over a channel. With a persistent session the broker queues QoS 1 messages
//! for us while we are away, and each message is acknowledged only when the consumer
//! says it has it safe ([`Ack::done`]): a consumer restarted, killed or cut off between
//! receiving and recording gets the message again instead of losing it.

use crate::options::Options;
use crate::publisher::Notice;
use crate::session::{Delivery, Failure, Happened, Session};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::mpsc as tmpsc;

/// One thing from the subscription.
#[derive(Debug)]
pub enum Received {
    /// A message: acknowledge it with [`Ack::done`] once it is recorded.
    Message {
        topic: String,
        payload: Vec<u8>,
        ack: Ack,
    },
    Notice(Notice),
}

/// The acknowledgement a received message is owed. Dropped without [`Ack::done`], the
/// message stays unacknowledged and the broker sends it again on the next connection.
pub struct Ack {
    tx: tmpsc::UnboundedSender<(u64, Delivery)>,
    connection: u64,
    delivery: Delivery,
}

impl std::fmt::Debug for Ack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ack(connection {})", self.connection)
    }
}

impl Ack {
    /// The message is safe: the broker may forget it.
    pub fn done(self) {
        let _ = self.tx.send((self.connection, self.delivery));
    }
}

pub struct Subscription {
    rx: mpsc::Receiver<Received>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Subscription {
    /// Subscribes to `filters` at the options' QoS. `persistent`: the broker keeps the
    /// session (and our queued messages) between connections; the client id must then
    /// be the same every run.
    pub fn start(options: Options, filters: Vec<String>, persistent: bool) -> Result<Self, String> {
        let (tx, rx) = mpsc::channel();
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the subscribing thread: {e}"))?;
        let thread = std::thread::Builder::new()
            .name("face-mqtt-sub".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let (ack_tx, mut acks) = tmpsc::unbounded_channel::<(u64, Delivery)>();
                    let mut backoff = Duration::from_millis(250);
                    let mut told_away = false;
                    // Acknowledgements belong to the connection that received the
                    // message: one for an earlier connection is the broker's to resend.
                    let mut connection = 0u64;
                    loop {
                        connection += 1;
                        let mut session = Session::new(&options, None, !persistent, true);
                        let failure = loop {
                            let r = tokio::select! {
                                r = session.poll(&options) => r,
                                Some((c, d)) = acks.recv() => {
                                    if c == connection {
                                        session.try_ack(&d);
                                    }
                                    continue;
                                }
                                _ = &mut stopped => {
                                    session.try_disconnect();
                                    return;
                                }
                            };
                            match r {
                                Ok(Happened::Connected) => {
                                    backoff = Duration::from_millis(250);
                                    told_away = false;
                                    for f in &filters {
                                        session.try_subscribe(f, options.qos);
                                    }
                                    let n = Notice::Connected {
                                        broker: options.url.to_string(),
                                        waiting: 0,
                                    };
                                    if tx.send(Received::Notice(n)).is_err() {
                                        return;
                                    }
                                }
                                Ok(Happened::Message {
                                    topic,
                                    payload,
                                    delivery,
                                }) => {
                                    let ack = Ack {
                                        tx: ack_tx.clone(),
                                        connection,
                                        delivery,
                                    };
                                    if tx.send(Received::Message { topic, payload, ack }).is_err() {
                                        return;
                                    }
                                }
                                Ok(_) => {}
                                Err(f) => break f,
                            }
                        };
                        match failure {
                            Failure::Refused(reason) => {
                                let _ = tx.send(Received::Notice(Notice::Refused(reason)));
                                return;
                            }
                            Failure::Away(reason) => {
                                if !told_away {
                                    told_away = true;
                                    let n = Notice::Away { reason, waiting: 0 };
                                    if tx.send(Received::Notice(n)).is_err() {
                                        return;
                                    }
                                }
                            }
                        }
                        tokio::select! {
                            _ = tokio::time::sleep(backoff) => {}
                            _ = &mut stopped => return,
                        }
                        backoff = (backoff * 2).min(Duration::from_secs(2));
                    }
                });
            })
            .map_err(|e| format!("cannot start the subscribing thread: {e}"))?;
        Ok(Self {
            rx,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The next message or notice, waiting at most `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Received> {
        self.rx.recv_timeout(timeout).ok()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
