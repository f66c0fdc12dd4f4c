//! The SPSC ring between processes: ten million messages with none lost, duplicated or
//! reordered; a producer SIGKILLed mid-stream never exposes a half-written message and its
//! successor resumes the sequence; a killed consumer process's successor resumes exactly where it
//! stopped. The other process is the `ring_peer` binary (src/bin/ring_peer.rs).
mod ring_common;

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};

use ring_common::{engine_dir, serial, watchdog, Backoff};
use runtime::ring::probe::ProbeMsg;
use runtime::ring::Spsc;
use runtime::shm::ShmDir;

/// Must match ring_peer's ring type.
type PeerRing = Spsc<ProbeMsg, 4096>;
const ENGINE: &str = "ringtest";

struct Peer {
    child: Child,
    lines: BufReader<ChildStdout>,
}

impl Peer {
    fn spawn(dir: &ShmDir, role: &str, ring: &str, until: u64, salt: u64) -> Peer {
        let base = dir.path().parent().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_ring_peer"))
            .args([role, base.to_str().unwrap(), ENGINE, ring])
            .arg(until.to_string())
            .arg(salt.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn ring_peer");
        let lines = BufReader::new(child.stdout.take().unwrap());
        Peer { child, lines }
    }

    /// Next "<word> <number>" line from the peer.
    fn expect_line(&mut self, word: &str) -> u64 {
        let mut line = String::new();
        self.lines.read_line(&mut line).expect("read peer stdout");
        let (w, n) = line
            .trim()
            .split_once(' ')
            .unwrap_or_else(|| panic!("peer said {line:?}, expected `{word} <n>`"));
        assert_eq!(w, word, "peer said {line:?}");
        n.parse().unwrap()
    }

    fn kill(mut self) {
        self.child.kill().expect("SIGKILL peer");
        // Reap it: a zombie still counts as holding its side of the ring.
        self.child.wait().expect("wait peer");
    }

    fn finish(mut self) {
        let status = self.child.wait().expect("wait peer");
        assert!(status.success(), "peer failed: {status}");
    }
}

/// Drain everything committed, checking density, order and integrity; returns the position.
fn drain_checked(rx: &mut runtime::ring::Consumer<ProbeMsg, 4096>, salt: u64) -> u64 {
    loop {
        let expect = rx.position();
        let mut next = expect;
        let n = rx.pop_batch(256, |seq, m| {
            assert_eq!(seq, next, "ring skipped or repeated a position");
            assert_eq!(m.seq, seq, "message {seq} carries sequence {}", m.seq);
            assert!(
                m.is_intact(salt),
                "half-written or torn message at {seq}: {m:?}"
            );
            next += 1;
        });
        if n == 0 {
            return rx.position();
        }
    }
}

#[test]
fn ten_million_messages_between_processes_none_lost_duplicated_or_reordered() {
    let _serial = serial();
    const COUNT: u64 = 10_000_000;
    const SALT: u64 = 10;
    watchdog("10M cross-process", 180, || {
        let (_base, dir) = engine_dir();
        let ring = PeerRing::create(&dir, "bulk").unwrap();
        let mut rx = ring.consumer().unwrap();
        let mut peer = Peer::spawn(&dir, "produce", "bulk", COUNT, SALT);
        assert_eq!(peer.expect_line("start"), 0);
        let mut next = 0u64;
        let mut checksum_fail = 0u64;
        let mut backoff = Backoff::default();
        while next < COUNT {
            let n = rx.pop_batch(1024, |seq, m| {
                assert_eq!(seq, next);
                // Full content check: the producer's sequence, and the payload derived from it.
                assert_eq!(m.seq, next, "lost, duplicated or reordered at {next}");
                if !m.is_intact(SALT) {
                    checksum_fail += 1;
                }
                next += 1;
            });
            if n == 0 {
                backoff.wait();
            }
        }
        assert_eq!(checksum_fail, 0, "corrupt messages");
        assert_eq!(peer.expect_line("done"), COUNT);
        peer.finish();
        assert_eq!(rx.position(), COUNT);
        assert!(rx.try_pop().is_none(), "more than {COUNT} messages arrived");
    });
}

#[test]
fn producer_killed_mid_write_exposes_no_half_message_and_successor_resumes() {
    let _serial = serial();
    const SALT: u64 = 20;
    watchdog("kill producer mid-write", 60, || {
        let (_base, dir) = engine_dir();
        let ring = PeerRing::create(&dir, "torn").unwrap();
        let mut rx = ring.consumer().unwrap();
        // The peer writes 0..1000, then scribbles half a message into slot 1000 without
        // committing it (a copy interrupted by SIGKILL), and is killed there.
        let mut peer = Peer::spawn(&dir, "produce-then-tear", "torn", 1000, SALT);
        assert_eq!(peer.expect_line("start"), 0);
        assert_eq!(peer.expect_line("torn"), 1000);
        peer.kill();
        assert_eq!(
            drain_checked(&mut rx, SALT),
            1000,
            "dense prefix 0..1000 only"
        );
        assert!(
            rx.try_pop().is_none(),
            "the half-written slot was delivered"
        );
        // The successor resumes at 1000 and overwrites the torn slot.
        let mut peer = Peer::spawn(&dir, "produce", "torn", 2000, SALT);
        assert_eq!(peer.expect_line("start"), 1000);
        assert_eq!(peer.expect_line("done"), 2000);
        peer.finish();
        assert_eq!(drain_checked(&mut rx, SALT), 2000);
    });
}

#[test]
fn producer_sigkilled_mid_stream_leaves_a_dense_prefix_and_successor_continues() {
    let _serial = serial();
    const SALT: u64 = 30;
    watchdog("kill producer mid-stream", 120, || {
        let (_base, dir) = engine_dir();
        let ring = PeerRing::create(&dir, "stream").unwrap();
        let mut rx = ring.consumer().unwrap();
        let mut position = 0u64;
        let mut backoff = Backoff::default();
        // Kill after various amounts read: the kill lands at an arbitrary point of a push.
        for (round, read_before_kill) in [5_000u64, 40_000, 123_457, 300_000, 777]
            .into_iter()
            .enumerate()
        {
            let mut peer = Peer::spawn(&dir, "produce", "stream", u64::MAX / 2, SALT);
            assert_eq!(
                peer.expect_line("start"),
                position,
                "round {round}: producer resumes at the consumer's end"
            );
            let target = position + read_before_kill;
            while position < target {
                let p = drain_checked(&mut rx, SALT);
                if p == position {
                    backoff.wait();
                }
                position = p;
            }
            peer.kill();
            position = drain_checked(&mut rx, SALT);
        }
        assert!(position >= 5_000 + 40_000 + 123_457 + 300_000 + 777);
    });
}

#[test]
fn killed_consumer_process_is_resumed_exactly_where_it_stopped() {
    let _serial = serial();
    const COUNT: u64 = 2_000_000;
    const SALT: u64 = 40;
    watchdog("kill consumer", 120, || {
        let (_base, dir) = engine_dir();
        let ring = PeerRing::create(&dir, "mail").unwrap();
        let mut tx = ring.producer().unwrap();
        let mut consumer = Peer::spawn(&dir, "consume", "mail", COUNT, SALT);
        assert_eq!(consumer.expect_line("start"), 0);
        let mut seq = 0u64;
        let push_until =
            |tx: &mut runtime::ring::Producer<ProbeMsg, 4096>, seq: &mut u64, end: u64| {
                let mut backoff = Backoff::default();
                while *seq < end {
                    if tx.try_push(&ProbeMsg::new(*seq, SALT)).is_ok() {
                        *seq += 1;
                    } else {
                        backoff.wait();
                    }
                }
            };
        // Once 300k are pushed, the consumer has read at least 300k − 4096 of them.
        push_until(&mut tx, &mut seq, 300_000);
        consumer.kill();
        let stopped_at = ring.consumer().unwrap().position();
        assert!(
            (300_000 - 4096..=300_000).contains(&stopped_at),
            "stopped at {stopped_at}"
        );
        // Its successor starts exactly there and then sees every message in order up to COUNT
        // (it checks density, order and integrity itself and fails otherwise).
        let mut successor = Peer::spawn(&dir, "consume", "mail", COUNT, SALT);
        assert_eq!(successor.expect_line("start"), stopped_at);
        push_until(&mut tx, &mut seq, COUNT);
        assert_eq!(successor.expect_line("done"), COUNT);
        successor.finish();
    });
}
