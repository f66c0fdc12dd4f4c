//! `ring_peer`: the other process in the ring's cross-process tests.
//!
//! ```text
//! ring_peer produce <base> <engine> <ring> <until_seq> <salt>
//!     take the producer side of Spsc<ProbeMsg, PEER_CAPACITY> (create or attach), write
//!     ProbeMsg::new(seq, salt) from wherever the sequence resumes up to until_seq, exit 0.
//! ring_peer produce-then-tear <base> <engine> <ring> <until_seq> <salt>
//!     as produce, then scribble over the payload of the next slot without committing it (what a
//!     producer killed in the middle of a copy leaves behind), print "torn", and wait to be killed.
//! ring_peer consume <base> <engine> <ring> <until_seq> <salt>
//!     take the consumer side, print "start <position>", read and check every message (dense,
//!     in order, intact) up to until_seq, print "done <position>", exit 0; exit 3 on a bad message.
//! ```
//! Errors exit 2 with a message. Test-only tool: the engine's actors use the ring API directly.
// Loom builds compile this binary too, with nothing to run.
#![cfg_attr(loom, allow(unused))]

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use runtime::ring::probe::ProbeMsg;
use runtime::ring::Spsc;
use runtime::shm::{Region, ShmDir};

/// Capacity of the ring the peer tests use.
const PEER_CAPACITY: usize = 4096;
type PeerRing = Spsc<ProbeMsg, PEER_CAPACITY>;

#[cfg(loom)]
fn main() {
    // Loom builds model-check the ring on the heap; there is no shared memory to work with.
}

#[cfg(not(loom))]
fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ring_peer: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(not(loom))]
fn run(args: &[String]) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let [role, base, engine, ring, until, salt] = args else {
        return Err("usage: ring_peer produce|produce-then-tear|consume <base> <engine> <ring> <until_seq> <salt>".into());
    };
    let until: u64 = until.parse()?;
    let salt: u64 = salt.parse()?;
    let dir = ShmDir::create(Some(Path::new(base)), engine)?;
    let spsc = PeerRing::create_or_attach(&dir, ring)?;
    let mut out = std::io::stdout();
    match role.as_str() {
        "produce" | "produce-then-tear" => {
            let mut tx = spsc.producer()?;
            writeln!(out, "start {}", tx.next_seq())?;
            out.flush()?;
            let mut seq = tx.next_seq();
            let mut idle = 0u32;
            while seq < until {
                match tx.try_push(&ProbeMsg::new(seq, salt)) {
                    Ok(s) => {
                        debug_assert_eq!(s, seq);
                        seq += 1;
                    }
                    Err(_) => wait(&mut idle),
                }
            }
            if role == "produce-then-tear" {
                if tx.in_flight() >= PEER_CAPACITY as u64 {
                    return Err("produce-then-tear needs a free slot: keep until_seq below the capacity or consume first".into());
                }
                tear_next_slot(&dir, ring, seq)?;
                writeln!(out, "torn {seq}")?;
                out.flush()?;
                // Bounded wait: the test kills us long before this.
                std::thread::sleep(std::time::Duration::from_secs(60));
                return Err("produce-then-tear was not killed within 60 s".into());
            }
            writeln!(out, "done {seq}")?;
            Ok(ExitCode::SUCCESS)
        }
        "consume" => {
            let mut rx = spsc.consumer()?;
            let start = rx.position();
            writeln!(out, "start {start}")?;
            out.flush()?;
            let mut idle = 0u32;
            while rx.position() < until {
                let expect = rx.position();
                let mut bad = None;
                let n = rx.pop_batch(64, |seq, m| {
                    if bad.is_none() && (seq != m.seq || !m.is_intact(salt)) {
                        bad = Some((seq, *m));
                    }
                });
                if let Some((seq, m)) = bad {
                    eprintln!("ring_peer: bad message at {seq} (batch from {expect}): {m:?}");
                    return Ok(ExitCode::from(3));
                }
                if n == 0 {
                    wait(&mut idle);
                }
            }
            writeln!(out, "done {}", rx.position())?;
            Ok(ExitCode::SUCCESS)
        }
        other => Err(format!("unknown role {other:?}").into()),
    }
}

/// Spin briefly, then yield: the tests share two cores with the other side and with builds.
fn wait(idle: &mut u32) {
    *idle += 1;
    if *idle < 64 {
        std::hint::spin_loop();
    } else {
        *idle = 0;
        std::thread::yield_now();
    }
}

#[cfg(not(loom))]
/// Write garbage over the message area of the slot for `seq`, leaving its commit word alone.
fn tear_next_slot(dir: &ShmDir, ring: &str, seq: u64) -> Result<(), Box<dyn std::error::Error>> {
    let region = Region::attach(dir, ring, PeerRing::spec())?;
    let slot = PeerRing::SLOTS_OFFSET + (seq as usize % PEER_CAPACITY) * PeerRing::SLOT_BYTES;
    // Safety: the slot lies inside the payload (index < capacity); its message area starts 8
    // bytes in (after the commit word) and is 64 bytes long, so 32 bytes stay inside it. The slot is free (the producer may
    // write it) and uncommitted, so no reader looks at it.
    unsafe {
        let msg = region.payload_ptr().add(slot + 8);
        for i in 0..32 {
            msg.add(i).write_volatile(0xEE);
        }
    }
    Ok(())
}
