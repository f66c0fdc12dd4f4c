//! Replay throughput, one core: price-level updates per second from the gzip JSON
//! recordings and from the binary capture, against peers measured in the same run:
//!
//! - floor: gunzip alone (the raw path cannot beat it) and a memcpy of the capture;
//! - naive peer: `serde_json::Value` per line + a `BTreeMap` book, from memory.
//!
//! Each variant decodes → applies to the book → builds the `MdEvent` Feed would
//! publish (the broadcast ring is not in the measured path yet).
//!
//! `cargo bench -p venue --bench replay` (set VENUE_BENCH_ROUNDS to change 5 rounds).

use runtime::msg::{md_kind, MdEvent, Stamps};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::io::{BufRead, Read};
use std::path::PathBuf;
use std::time::Instant;
use venue::capture::{CapEvent, CaptureReplay, CaptureWriter};
use venue::feed::book_top;
use venue::fixed::parse_e8;
use venue::replay::binance::{
    decode_json, default_data_dir, sessions, split_line, BinanceReplay, DepthStatus, Event, Msg,
    ReplayOptions,
};
use venue::replay::json::PairIter;

fn md_event(
    book: &venue::book::L2Book,
    seq: u64,
    venue_seq: u64,
    exchange_ns: u64,
    recv_ns: u64,
    changes: u32,
) -> MdEvent {
    MdEvent {
        seq,
        venue_seq,
        stamps: Stamps {
            exchange_ns,
            recv_ns,
            ..Stamps::default()
        },
        instrument_id: 1,
        kind: md_kind::BOOK,
        book: book_top(book, changes),
        ..MdEvent::default()
    }
}

struct Result {
    name: &'static str,
    updates: u64,
    secs: Vec<f64>,
}

impl Result {
    fn best_rate(&self) -> f64 {
        self.updates as f64 / self.secs.iter().cloned().fold(f64::INFINITY, f64::min)
    }
    fn median_rate(&self) -> f64 {
        let mut s = self.secs.clone();
        s.sort_by(|a, b| a.partial_cmp(b).unwrap());
        self.updates as f64 / s[s.len() / 2]
    }
}

/// CPU time of this thread: the machine this runs on is shared (several builds at
/// once), so wall time would measure the scheduler; CPU time measures the core's work.
fn thread_cpu_s() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // Safety: clock_gettime writes into the timespec we own; CLOCK_THREAD_CPUTIME_ID is
    // supported on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

fn time<F: FnMut() -> u64>(name: &'static str, rounds: usize, mut f: F) -> Result {
    let mut secs = Vec::new();
    let mut wall = Vec::new();
    let mut updates = 0;
    for _ in 0..rounds {
        let t0 = Instant::now();
        let c0 = thread_cpu_s();
        updates = f();
        secs.push(thread_cpu_s() - c0);
        wall.push(t0.elapsed().as_secs_f64());
    }
    let _ = wall;
    Result {
        name,
        updates,
        secs,
    }
}

/// Our replay over any line source.
fn ours(mut r: BinanceReplay) -> u64 {
    let mut seq = 0;
    while let Some((ev, book)) = r.next_with_book().expect("replay") {
        if let Event::Depth {
            status,
            levels,
            exchange_ns,
            local_ns,
            last_id,
            ..
        } = ev
        {
            if status != DepthStatus::Stale {
                seq += 1;
                black_box(md_event(
                    book,
                    seq,
                    last_id,
                    exchange_ns,
                    local_ns,
                    levels.len() as u32,
                ));
            }
        }
    }
    r.stats().level_updates
}

/// The naive peer: generic JSON values, float-free but string-keyed work, BTreeMap book.
fn naive(text: &[u8]) -> u64 {
    let mut bids: BTreeMap<i64, i64> = BTreeMap::new();
    let mut asks: BTreeMap<i64, i64> = BTreeMap::new();
    let mut updates = 0;
    let parse = |v: &serde_json::Value| -> i64 {
        venue::fixed::parse_e8(v.as_str().unwrap_or("0").as_bytes()).unwrap_or(0)
    };
    for line in text.split(|&c| c == b'\n') {
        let Some(sp) = line.iter().position(|&c| c == b' ') else {
            continue;
        };
        let v: serde_json::Value = match serde_json::from_slice(&line[sp + 1..]) {
            Ok(v) => v,
            Err(_) => continue,
        };
        let (b, a, snapshot) = if v.get("lastUpdateId").is_some() {
            (v.get("bids"), v.get("asks"), true)
        } else {
            let Some(d) = v.get("data") else { continue };
            if d.get("e").and_then(|e| e.as_str()) != Some("depthUpdate") {
                continue;
            }
            (d.get("b"), d.get("a"), false)
        };
        if snapshot {
            bids.clear();
            asks.clear();
        }
        for (side, map) in [(b, &mut bids), (a, &mut asks)] {
            for lvl in side.and_then(|x| x.as_array()).into_iter().flatten() {
                let p = parse(&lvl[0]);
                let q = parse(&lvl[1]);
                if q == 0 {
                    map.remove(&p);
                } else {
                    map.insert(p, q);
                }
                updates += 1;
            }
        }
        let top: Vec<(i64, i64)> = bids
            .iter()
            .rev()
            .take(8)
            .chain(asks.iter().take(8))
            .map(|(a, b)| (*a, *b))
            .collect();
        black_box(top);
    }
    updates
}

fn main() {
    let rounds: usize = std::env::var("VENUE_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let dir = default_data_dir();
    assert!(
        dir.is_dir(),
        "recordings missing: expected {} (see ../shared/data/binance/README.md)",
        dir.display()
    );
    let sessions: Vec<Vec<PathBuf>> = sessions(&dir).expect("list recordings");
    // Pre-decompressed text per session (the in-memory variants).
    let texts: Vec<&'static [u8]> = sessions
        .iter()
        .map(|files| {
            let mut all = Vec::new();
            for f in files {
                let mut gz = flate2::read::MultiGzDecoder::new(std::fs::File::open(f).unwrap());
                gz.read_to_end(&mut all).unwrap();
                if !all.ends_with(b"\n") {
                    all.push(b'\n');
                }
            }
            &*Box::leak(all.into_boxed_slice())
        })
        .collect();
    let text_bytes: usize = texts.iter().map(|t| t.len()).sum();
    // Captures, written once.
    let cap_dir = std::env::temp_dir().join(format!("venue-bench-{}", std::process::id()));
    std::fs::create_dir_all(&cap_dir).unwrap();
    let mut caps = Vec::new();
    for (i, files) in sessions.iter().enumerate() {
        let path = cap_dir.join(format!("s{i}.cap"));
        let mut r = BinanceReplay::open(files, ReplayOptions::default()).unwrap();
        let mut w = CaptureWriter::create(&path, 1).unwrap();
        while let Some((ev, book)) = r.next_with_book().unwrap() {
            w.write_event(&ev, book).unwrap();
        }
        w.finish().unwrap();
        caps.push(std::fs::read(&path).unwrap());
    }
    let cap_bytes: usize = caps.iter().map(|c| c.len()).sum();

    let mut results = Vec::new();
    let total_updates = {
        let r = time("ours: gzip → decode → book → MdEvent", rounds, || {
            sessions
                .iter()
                .map(|f| ours(BinanceReplay::open(f, ReplayOptions::default()).unwrap()))
                .sum()
        });
        let n = r.updates;
        results.push(r);
        n
    };
    results.push(time("gunzip only (floor of the gzip path)", rounds, || {
        let mut bytes = 0u64;
        for files in &sessions {
            for f in files {
                let mut gz = std::io::BufReader::with_capacity(
                    1 << 18,
                    flate2::read::MultiGzDecoder::new(std::fs::File::open(f).unwrap()),
                );
                loop {
                    let buf = gz.fill_buf().unwrap();
                    if buf.is_empty() {
                        break;
                    }
                    let n = buf.len();
                    bytes += n as u64;
                    gz.consume(n);
                }
            }
        }
        black_box(bytes);
        total_updates
    }));
    results.push(time(
        "ours: in-memory text → decode → book → MdEvent",
        rounds,
        || {
            texts
                .iter()
                .map(|t| {
                    ours(BinanceReplay::from_reader(
                        Box::new(std::io::Cursor::new(*t)),
                        "mem",
                        ReplayOptions::default(),
                    ))
                })
                .sum()
        },
    ));
    results.push(time(
        "breakdown: in-memory text → decode only (no book)",
        rounds,
        || {
            let mut n = 0u64;
            for t in &texts {
                for line in t.split(|&c| c == b'\n') {
                    if line.is_empty() {
                        continue;
                    }
                    let (_, json) = split_line(line).unwrap();
                    match decode_json(json).unwrap() {
                        Msg::Depth { bids, asks, .. } | Msg::Snapshot { bids, asks, .. } => {
                            for raw in [bids, asks] {
                                let mut it = PairIter::new(raw);
                                while let Some((p, q)) = it.next_pair().unwrap() {
                                    black_box((parse_e8(p).unwrap(), parse_e8(q).unwrap()));
                                    n += 1;
                                }
                            }
                        }
                        m => {
                            black_box(m);
                        }
                    }
                }
            }
            n
        },
    ));
    results.push(time(
        "naive peer: in-memory text → serde_json::Value → BTreeMap",
        rounds.min(3),
        || texts.iter().map(|t| naive(t)).sum(),
    ));
    let mut cap_replays: Vec<CaptureReplay> = caps
        .iter()
        .map(|c| CaptureReplay::from_bytes(c.clone(), 20_000).unwrap())
        .collect();
    results.push(time(
        "ours: capture (in memory) → book → MdEvent",
        rounds,
        || {
            let mut n = 0;
            for r in cap_replays.iter_mut() {
                r.rewind();
                let mut seq = 0;
                while let Some(ev) = r.next_event().unwrap() {
                    if let CapEvent::Depth {
                        exchange_ns,
                        local_ns,
                        last_id,
                        levels,
                        ..
                    } = ev
                    {
                        seq += 1;
                        black_box(md_event(
                            r.book(),
                            seq,
                            last_id,
                            exchange_ns,
                            local_ns,
                            levels,
                        ));
                    }
                }
                n += r.level_updates();
            }
            n
        },
    ));
    // The destination is written once before timing so page faults are not measured.
    let mut sink = vec![1u8; cap_bytes];
    results.push(time(
        "memcpy of the capture bytes (floor of the capture path)",
        rounds,
        || {
            let mut off = 0;
            for c in &caps {
                sink[off..off + c.len()].copy_from_slice(c);
                off += c.len();
            }
            black_box(&mut sink);
            total_updates
        },
    ));
    let _ = std::fs::remove_dir_all(&cap_dir);

    let naive_rate = results
        .iter()
        .find(|r| r.name.starts_with("naive"))
        .map(|r| r.median_rate())
        .unwrap_or(1.0);
    println!(
        "replay throughput, one core, {} sessions, {} level updates per pass ({} MB of JSON text, {} MB of capture), {} rounds",
        sessions.len(),
        total_updates,
        text_bytes / 1_000_000,
        cap_bytes / 1_000_000,
        rounds
    );
    println!("(rates from this thread's CPU time, not wall time: the machine is shared)");
    println!(
        "{:<60} {:>14} {:>14} {:>10}",
        "variant", "median upd/s", "best upd/s", "× naive"
    );
    for r in &results {
        println!(
            "{:<60} {:>14.0} {:>14.0} {:>10.1}",
            r.name,
            r.median_rate(),
            r.best_rate(),
            r.median_rate() / naive_rate
        );
        // The capture stores each snapshot as the merged book it produced (remembered
        // diffs folded in), so its count differs by those few levels.
        if !r.name.contains("capture (in memory)") && !r.name.contains("breakdown") {
            assert_eq!(
                r.updates, total_updates,
                "{}: every variant must apply the same updates",
                r.name
            );
        }
    }
}
