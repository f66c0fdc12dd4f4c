//! The Feed and Sonar wrappers against a real venue that goes away and comes back: market data
//! on `md.ring` with dense sequence numbers and receive/publish stamps; a disconnection
//! published as STATUS/DISCONNECTED and the zero-trust gate closed for it; reconnection with
//! back-off to a venue on the same address and a resynchronised book. Under a watchdog.

use actors::config::StrategyConfig;
use actors::live::{cursor, FeedActor, LiveEnv, SonarActor};
use runtime::actor::Actor;
use runtime::control::{ActorSpec, ControlBlock};
use runtime::hist::HistogramRegion;
use runtime::msg::{md_flags, md_kind, MdEvent};
use runtime::ring::broadcast::{Recv, Subscriber};
use runtime::rings::{MdRing, MD_RING};
use runtime::shm::ShmDir;
use runtime::telemetry::gate_check;
use std::path::PathBuf;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};
use venue::config::{nse_equity, MarketFile, SynthFile, VenueConfig};
use venue::server;

fn watchdog<F: FnOnce() + Send + 'static>(limit: Duration, f: F) {
    let (tx, rx) = mpsc::channel();
    let h = std::thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    match rx.recv_timeout(limit) {
        Ok(()) => h.join().unwrap(),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(e) = h.join() {
                std::panic::resume_unwind(e)
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("watchdog: test hung for {limit:?}"),
    }
}

fn venue_config(md_addr: Option<std::net::SocketAddr>) -> VenueConfig {
    let mut cfg = VenueConfig::for_tests(
        vec![nse_equity(1, "RELI", "1400.00").unwrap()],
        MarketFile::Synthetic(SynthFile {
            events_per_second: 2_000.0,
            ..SynthFile::default()
        }),
    );
    if let Some(a) = md_addr {
        cfg.market_data_addr = a;
    }
    cfg
}

struct Rig {
    feed: FeedActor,
    sonar: SonarActor,
    sub: Subscriber<MdEvent, 65_536>,
    control: Arc<ControlBlock>,
    last_seq: u64,
    seen: Vec<MdEvent>,
}

impl Rig {
    /// Poll both actors and read what the Feed published, until `pred` holds for an event
    /// (checking every event's sequence and stamps on the way).
    fn run_until(&mut self, what: &str, mut pred: impl FnMut(&MdEvent) -> bool) {
        let t0 = Instant::now();
        loop {
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "timed out waiting for {what}"
            );
            let now = runtime::clock::monotonic_ns();
            let work = self.feed.poll(now) + self.sonar.poll(now);
            loop {
                match self.sub.poll() {
                    Recv::Msg { msg, .. } => {
                        assert_eq!(msg.seq, self.last_seq + 1, "Feed sequence is dense");
                        self.last_seq = msg.seq;
                        assert!(msg.stamps.recv_ns > 0, "{msg:?}");
                        assert!(msg.stamps.publish_ns >= msg.stamps.recv_ns, "{msg:?}");
                        self.seen.push(msg);
                        if pred(&msg) {
                            return;
                        }
                    }
                    Recv::Overrun { lost } => panic!("test reader overrun by {lost}"),
                    Recv::Empty => break,
                }
            }
            if work == 0 {
                std::thread::sleep(Duration::from_micros(200));
            }
        }
    }
}

#[test]
fn feed_publishes_loses_and_recovers_the_venue() {
    watchdog(Duration::from_secs(90), || {
        let tmp = tempfile::tempdir().unwrap();
        let dir = ShmDir::create(Some(tmp.path()), "feed-test").unwrap();
        let specs = [
            ActorSpec::new("feed", "feed", None),
            ActorSpec::new("sonar", "sonar", None),
        ];
        let control = Arc::new(ControlBlock::create(&dir, "feed-test", &specs).unwrap());
        let hist = HistogramRegion::create(&dir).unwrap();
        runtime::rings::create_all(&dir).unwrap();
        let venue1 = server::start(venue_config(None)).unwrap();
        let md_addr = venue1.market_data_addr();

        let mut strategy = StrategyConfig::default();
        strategy.sonar.tick_size_e8 = 10_000_000;
        strategy.execution.tick_size_e8 = 10_000_000;
        let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
        let env = |slot| {
            let mut e = LiveEnv::new(
                dir.clone(),
                control.clone(),
                hist.clone(),
                slot,
                strategy.clone(),
                &root,
            );
            e.venue_md_addr = Some(md_addr);
            e.instrument_id = 1;
            e
        };
        let sub = MdRing::attach(&dir, MD_RING)
            .unwrap()
            .subscribe(cursor::UI)
            .unwrap();
        let mut rig = Rig {
            feed: FeedActor::new(env(0)).unwrap(),
            sonar: SonarActor::new(env(1)).unwrap(),
            sub,
            control: control.clone(),
            last_seq: 0,
            seen: Vec::new(),
        };

        // 1. Connected: a snapshot (RESYNC book) then a stream of book updates.
        rig.run_until("the first snapshot", |e| {
            e.kind == md_kind::BOOK && e.flags & md_flags::RESYNC != 0
        });
        let mut books = 0;
        rig.run_until("100 book updates", |e| {
            books += u32::from(e.kind == md_kind::BOOK);
            books >= 100
        });
        assert!(rig.feed.connected());

        // 2. The venue goes away: DISCONNECTED status, and Sonar closes the gate for it.
        venue1.stop().unwrap();
        rig.run_until("a DISCONNECTED status", |e| {
            e.kind == md_kind::STATUS && e.flags & md_flags::DISCONNECTED != 0
        });
        assert!(!rig.feed.connected());
        let (open, check, _) = rig.control.gate();
        assert!(!open, "gate open after a disconnection");
        assert_eq!(check, gate_check::FEED_DISCONNECTED);

        // 3. A venue on the same address again: the Feed reconnects (back-off, not a busy
        // loop of connects) and the book comes back from a snapshot.
        let venue2 = server::start(venue_config(Some(md_addr))).unwrap();
        rig.run_until("a resynchronised book after the reconnect", |e| {
            e.kind == md_kind::BOOK && e.flags & md_flags::RESYNC != 0
        });
        assert!(rig.feed.connected());
        // Telemetry is published every 50 ms: poll until it shows the reconnection.
        let t0 = Instant::now();
        loop {
            let now = runtime::clock::monotonic_ns();
            rig.feed.poll(now);
            let t = control.feed_telemetry().read().unwrap();
            if t.reconnects == 1 && t.connected == 1 {
                break;
            }
            assert!(t0.elapsed() < Duration::from_secs(5), "telemetry {t:?}");
            std::thread::sleep(Duration::from_millis(1));
        }
        drop(venue2);
    });
}
