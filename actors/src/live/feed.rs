//! Feed: the venue's market data (TCP) → `venue::feed::Feed` → `md.ring`.

use super::{now_ns, ring_err, LiveEnv, LiveError, MAX_BATCH, PUBLISH_INTERVAL_NS};
use runtime::actor::Actor;
use runtime::control::{topic, ActorCounters, ControlBlock};
use runtime::msg::MdEvent;
use runtime::ring::broadcast::Publisher;
use runtime::rings::{MdRing, MD_RING};
use runtime::telemetry::FeedTelemetry;
use std::net::SocketAddr;
use std::sync::Arc;
use venue::client::{ClientConfig, MdClient};
use venue::feed::{Feed, FeedAction, FeedConfig};

/// First reconnect delay; doubles up to [`RECONNECT_MAX_NS`].
pub const RECONNECT_MIN_NS: u64 = 10_000_000;
pub const RECONNECT_MAX_NS: u64 = 1_000_000_000;
/// A connect attempt blocks the loop at most this long (loopback refuses at once).
const CONNECT_TIMEOUT_MS: u64 = 100;

type MdPublisher = Publisher<MdEvent, 65_536>;

/// The Feed actor.
pub struct FeedActor {
    addr: SocketAddr,
    client: Option<MdClient>,
    feed: Feed,
    publisher: MdPublisher,
    control: Arc<ControlBlock>,
    actions: Vec<FeedAction>,
    next_connect_ns: u64,
    backoff_ns: u64,
    reconnects: u64,
    connects: u64,
    published: u64,
    errors: u64,
    last_venue_seq: u64,
    last_publish_ns: u64,
    /// Whether the Feed reported the disconnection (STATUS events) since the last connection.
    down_reported: bool,
}

impl FeedActor {
    pub fn new(env: LiveEnv) -> Result<Self, LiveError> {
        let addr = env.venue_md_addr.ok_or(LiveError::Missing {
            kind: "feed",
            what: "venue_md_addr",
        })?;
        let ring = MdRing::attach(&env.dir, MD_RING).map_err(ring_err(MD_RING))?;
        let publisher = ring.publisher().map_err(ring_err(MD_RING))?;
        let feed_cfg = FeedConfig {
            stale_after_ns: env.strategy.sonar.stale_after_ns,
            ..FeedConfig::default()
        };
        Ok(FeedActor {
            addr,
            client: None,
            feed: Feed::new(feed_cfg, &[env.instrument_id]),
            publisher,
            control: env.control,
            // Worst case per frame: one event per instrument plus a snapshot request.
            actions: Vec::with_capacity(4 * MAX_BATCH),
            next_connect_ns: 0,
            backoff_ns: RECONNECT_MIN_NS,
            reconnects: 0,
            connects: 0,
            published: 0,
            errors: 0,
            last_venue_seq: 0,
            last_publish_ns: 0,
            down_reported: true,
        })
    }

    /// Whether the market-data session is up.
    pub fn connected(&self) -> bool {
        self.client.is_some()
    }

    pub fn feed(&self) -> &Feed {
        &self.feed
    }

    fn try_connect(&mut self, now: u64) -> usize {
        if now < self.next_connect_ns {
            return 0;
        }
        let cfg = ClientConfig {
            connect_timeout_ms: CONNECT_TIMEOUT_MS,
            ..ClientConfig::default()
        };
        match MdClient::connect_with_clock(self.addr, cfg, now_ns) {
            Ok(mut c) => {
                // The venue opens with a snapshot of every instrument; ask anyway, so a
                // snapshot lost in a race with the connection cannot leave the book unsynced.
                if c.request_snapshot(0).is_err() {
                    self.errors += 1;
                }
                self.client = Some(c);
                self.connects += 1;
                if self.connects > 1 {
                    self.reconnects += 1;
                }
                self.backoff_ns = RECONNECT_MIN_NS;
                self.down_reported = false;
                1
            }
            Err(_) => {
                self.errors += 1;
                self.next_connect_ns = now + self.backoff_ns;
                self.backoff_ns = (self.backoff_ns * 2).min(RECONNECT_MAX_NS);
                if !self.down_reported {
                    self.down_reported = true;
                    self.feed.on_disconnect(now, &mut self.actions);
                    return self.flush_actions();
                }
                0
            }
        }
    }

    fn lost_connection(&mut self, now: u64) {
        self.client = None;
        self.next_connect_ns = now + self.backoff_ns;
        self.backoff_ns = (self.backoff_ns * 2).min(RECONNECT_MAX_NS);
        self.down_reported = true;
        self.feed.on_disconnect(now, &mut self.actions);
    }

    /// Publish the Feed's events (stamping `publish_ns`) and send its snapshot requests.
    fn flush_actions(&mut self) -> usize {
        let n = self.actions.len();
        let published_before = self.published;
        for a in self.actions.drain(..) {
            match a {
                FeedAction::Publish(mut ev) => {
                    ev.stamps.publish_ns = now_ns();
                    if ev.venue_seq != 0 {
                        self.last_venue_seq = ev.venue_seq;
                    }
                    self.publisher.publish(&ev);
                    self.published += 1;
                }
                FeedAction::RequestSnapshot { instrument_id } => {
                    if let Some(c) = self.client.as_mut() {
                        if c.request_snapshot(instrument_id).is_err() {
                            self.errors += 1;
                        }
                    }
                }
            }
        }
        if self.published != published_before {
            // Wake the parked readers of md.ring (Oracle, Sonar) once per batch.
            self.control.notify(topic::MD);
        }
        n
    }

    fn publish_telemetry(&mut self, now: u64) {
        if now.saturating_sub(self.last_publish_ns) < PUBLISH_INTERVAL_NS {
            return;
        }
        self.last_publish_ns = now;
        let c = self.feed.counters();
        self.control.feed_telemetry().write(&FeedTelemetry {
            updated_ns: now,
            md_seq: self.publisher.next_seq(),
            venue_seq: self.last_venue_seq,
            events: self.published,
            book_updates: c.deltas + c.snapshots,
            trades: c.trades,
            gaps: c.gaps,
            crossed: c.crossed,
            stale: c.stale,
            corrupt: c.corrupt,
            resyncs: c.resyncs,
            reconnects: self.reconnects,
            connected: u32::from(self.client.is_some()),
            _pad: 0,
        });
    }
}

impl Actor for FeedActor {
    fn poll(&mut self, now: u64) -> usize {
        let mut work = 0;
        if self.client.is_none() {
            work += self.try_connect(now);
        }
        if let Some(c) = self.client.as_mut() {
            let feed = &mut self.feed;
            let actions = &mut self.actions;
            // The receive time is read once per batch, right after the read that brought the
            // bytes (the closure runs after `poll` filled its buffer).
            let mut recv_ns = 0u64;
            let r = c.poll(MAX_BATCH, |h, f| {
                if recv_ns == 0 {
                    recv_ns = now_ns();
                }
                feed.on_frame(h, f, recv_ns, actions);
            });
            let r = r.and_then(|n| c.maintain().map(|_| n));
            match r {
                Ok(n) => work += n,
                Err(_) => {
                    self.errors += 1;
                    self.lost_connection(now);
                    work += 1;
                }
            }
        }
        self.feed.poll(now, &mut self.actions);
        work += self.flush_actions();
        self.publish_telemetry(now);
        work
    }

    fn poll_halted(&mut self, now: u64) -> usize {
        // Market data keeps flowing while halted: the cockpit and Sonar still need it.
        self.poll(now)
    }

    fn counters(&self) -> Option<ActorCounters> {
        Some(ActorCounters {
            msgs_in: self.feed.counters().frames,
            msgs_out: self.published,
            errors: self.errors,
        })
    }
}
