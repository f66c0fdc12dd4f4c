//! Fan-out of frames to WebSocket clients with a bounded queue per client.
//!
//! The sampler never waits for a client: it offers each frame to every queue with `try_send`.
//! A client whose queue is full has not taken a frame for `queue_frames` ticks (at 20 Hz and 20
//! frames, one second) and is dropped: its flag is raised so its task closes the socket at once
//! instead of draining stale frames. Memory per client is therefore bounded by the queue.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;

/// Frames are serialized once and shared by every client.
pub type FrameText = Arc<str>;

struct Client {
    id: u64,
    tx: mpsc::Sender<FrameText>,
    kicked: Arc<AtomicBool>,
}

/// What a connection task holds.
pub struct ClientHandle {
    pub id: u64,
    pub rx: mpsc::Receiver<FrameText>,
    /// Raised when the broadcaster dropped this client for falling behind.
    pub kicked: Arc<AtomicBool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegisterError {
    /// The client limit is reached.
    Full,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PublishStats {
    pub queued: u64,
    pub dropped_slow: u64,
}

pub struct Broadcaster {
    clients: Vec<Client>,
    next_id: u64,
    max_clients: usize,
    queue_frames: usize,
}

impl Broadcaster {
    pub fn new(max_clients: usize, queue_frames: usize) -> Self {
        assert!(
            max_clients > 0 && queue_frames > 1,
            "limits must allow a snapshot and an update"
        );
        Broadcaster {
            clients: Vec::with_capacity(max_clients),
            next_id: 1,
            max_clients,
            queue_frames,
        }
    }

    pub fn len(&self) -> usize {
        self.clients.len()
    }

    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }

    /// Add a client whose first frame is `snapshot`. Call under the same lock that orders
    /// publications so no update falls between the snapshot and the client's first update.
    pub fn register(&mut self, snapshot: FrameText) -> Result<ClientHandle, RegisterError> {
        if self.clients.len() >= self.max_clients {
            return Err(RegisterError::Full);
        }
        let (tx, rx) = mpsc::channel(self.queue_frames);
        // Cannot fail: the queue is new and holds at least two frames.
        let _ = tx.try_send(snapshot);
        let id = self.next_id;
        self.next_id += 1;
        let kicked = Arc::new(AtomicBool::new(false));
        self.clients.push(Client {
            id,
            tx,
            kicked: Arc::clone(&kicked),
        });
        Ok(ClientHandle { id, rx, kicked })
    }

    pub fn unregister(&mut self, id: u64) {
        self.clients.retain(|c| c.id != id);
    }

    /// Offer a frame to every client; drop those whose queue is full.
    pub fn publish(&mut self, frame: &FrameText) -> PublishStats {
        let mut st = PublishStats::default();
        self.clients
            .retain(|c| match c.tx.try_send(Arc::clone(frame)) {
                Ok(()) => {
                    st.queued += 1;
                    true
                }
                Err(mpsc::error::TrySendError::Full(_)) => {
                    c.kicked.store(true, Ordering::Release);
                    st.dropped_slow += 1;
                    false
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            });
        st
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> FrameText {
        Arc::from(s)
    }

    #[test]
    fn a_client_that_never_reads_is_dropped_once_its_queue_is_full() {
        let mut b = Broadcaster::new(4, 5);
        let mut slow = b.register(text("snap")).unwrap();
        let mut fast = b.register(text("snap")).unwrap();
        // queue of 5: the snapshot + 4 updates fit
        for i in 0..4 {
            let st = b.publish(&text(&format!("u{i}")));
            assert_eq!(
                st,
                PublishStats {
                    queued: 2,
                    dropped_slow: 0
                }
            );
            // the fast client drains as it goes
            while fast.rx.try_recv().is_ok() {}
        }
        let st = b.publish(&text("u4"));
        assert_eq!(
            st,
            PublishStats {
                queued: 1,
                dropped_slow: 1
            }
        );
        assert_eq!(b.len(), 1);
        assert!(slow.kicked.load(Ordering::Acquire));
        assert!(!fast.kicked.load(Ordering::Acquire));
        // what the slow client holds is bounded: exactly its queue, nothing after the drop
        let mut held = vec![];
        while let Ok(f) = slow.rx.try_recv() {
            held.push(f.to_string());
        }
        assert_eq!(held, ["snap", "u0", "u1", "u2", "u3"]);
        // and later frames reach only the fast client
        b.publish(&text("u5"));
        assert!(slow.rx.try_recv().is_err());
        assert_eq!(fast.rx.try_recv().unwrap().as_ref(), "u4");
    }

    #[test]
    fn client_limit_and_closed_clients() {
        let mut b = Broadcaster::new(2, 2);
        let a = b.register(text("s")).unwrap();
        let _c = b.register(text("s")).unwrap();
        assert_eq!(b.register(text("s")).err(), Some(RegisterError::Full));
        drop(a); // connection task ended
        let st = b.publish(&text("u"));
        assert_eq!(
            st,
            PublishStats {
                queued: 1,
                dropped_slow: 0
            }
        );
        assert_eq!(b.len(), 1);
        assert!(b.register(text("s")).is_ok());
    }
}
