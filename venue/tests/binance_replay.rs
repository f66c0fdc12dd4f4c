//! Replay of every recording in ../shared/data/binance: the rebuilt book must agree
//! with the exchange's own bookTicker wherever the two describe the same update id.

use std::io::BufRead;
use std::path::PathBuf;
use venue::replay::binance::{
    default_data_dir, sessions, BinanceReplay, DepthStatus, Event, ReplayOptions,
};

fn data_dir() -> PathBuf {
    let d = default_data_dir();
    assert!(
        d.is_dir(),
        "recordings missing: expected {} (see ../shared/data/binance/README.md)",
        d.display()
    );
    d
}

/// Book top after each applied diff: (first id U, last id u, trusted, best bid, best ask).
type Top = (u64, u64, bool, Option<(i64, i64)>, Option<(i64, i64)>);
/// (update id, bid, bid qty, ask, ask qty).
type Tick = (u64, i64, i64, i64, i64);

struct Outcome {
    tops: Vec<Top>,
    ticks: Vec<Tick>,
    gaps: u64,
    level_updates: u64,
    snapshots: u64,
}

fn replay(r: &mut BinanceReplay) -> Outcome {
    let mut tops = Vec::new();
    let mut ticks = Vec::new();
    loop {
        let ev = match r.next_event().expect("recording decodes") {
            None => break,
            Some(e) => e,
        };
        match ev {
            Event::Depth {
                first_id,
                last_id,
                status,
                ..
            } => {
                if status != DepthStatus::Stale {
                    let trusted = status == DepthStatus::Applied;
                    tops.push((first_id, last_id, trusted, None, None));
                } else {
                    continue;
                }
            }
            Event::Snapshot { synced_to, .. } => {
                // The book now reflects update id `synced_to` exactly.
                tops.push((synced_to, synced_to, true, None, None));
            }
            Event::Ticker {
                update_id,
                bid_e8,
                bid_qty_e8,
                ask_e8,
                ask_qty_e8,
                ..
            } => {
                ticks.push((update_id, bid_e8, bid_qty_e8, ask_e8, ask_qty_e8));
                continue;
            }
            _ => continue,
        }
        let b = r.book();
        let t = tops.last_mut().unwrap();
        t.3 = b.best_bid();
        t.4 = b.best_ask();
    }
    let s = r.stats();
    Outcome {
        tops,
        ticks,
        gaps: s.gaps,
        level_updates: s.level_updates,
        snapshots: s.snapshots,
    }
}

/// For each ticker, the diff whose resulting book is the state at the ticker's update
/// id: the last diff with u ≤ id such that the next diff starts after id (U > id).
/// Returns (comparable, agreeing, book never better than the ticker).
fn compare(o: &Outcome, trusted_only: bool) -> (usize, usize, bool) {
    let mut comparable = 0;
    let mut agree = 0;
    let mut never_better = true;
    for &(id, bp, bq, ap, aq) in &o.ticks {
        // First diff with u > id.
        let k = o.tops.partition_point(|t| t.1 <= id);
        if k == 0 || k == o.tops.len() {
            continue; // before the first diff, or after the last (later diffs unrecorded)
        }
        if o.tops[k].0 <= id {
            continue; // the ticker sits inside the next diff's range: not comparable
        }
        let t = &o.tops[k - 1];
        if trusted_only && !t.2 {
            continue;
        }
        let (Some(bid), Some(ask)) = (t.3, t.4) else {
            continue;
        };
        comparable += 1;
        if bid == (bp, bq) && ask == (ap, aq) {
            agree += 1;
        } else if std::env::var("VENUE_DEBUG").is_ok() {
            eprintln!(
                "tick {id}: book {bid:?} {ask:?} vs {:?} {:?}; diff {}..{} next {:?}",
                (bp, bq),
                (ap, aq),
                t.0,
                t.1,
                o.tops.get(k).map(|t| (t.0, t.1))
            );
        }
        if bid.0 > bp || ask.0 < ap {
            never_better = false;
        }
    }
    (comparable, agree, never_better)
}

#[test]
fn every_recording_rebuilds_the_exchange_book() {
    let sessions = sessions(&data_dir()).unwrap();
    assert_eq!(
        sessions.iter().map(|s| s.len()).sum::<usize>(),
        9,
        "nine recordings expected: {sessions:?}"
    );
    let mut total_updates = 0;
    for files in &sessions {
        let mut r = BinanceReplay::open(files, ReplayOptions::default()).unwrap();
        let o = replay(&mut r);
        total_updates += o.level_updates;
        let name = files[0].file_name().unwrap().to_string_lossy().to_string();
        // The README: no sequence gaps in any recording, across file boundaries too.
        assert_eq!(o.gaps, 0, "{name}: unexpected gap");
        if o.snapshots > 0 {
            let (n, ok, _) = compare(&o, true);
            eprintln!(
                "{name} (+{} files): {ok}/{n} bookTicker comparisons agree exactly",
                files.len() - 1
            );
            assert!(n > 100, "{name}: too few comparable tickers ({n})");
            assert_eq!(ok, n, "{name}: rebuilt book disagrees with bookTicker");
        } else {
            // Spot: diffs only. Every level held is a real recorded quantity, so the
            // partial book's best bid can never be above the exchange's (nor its ask below).
            assert!(!r.book_trusted());
            let (n, ok, never_better) = compare(&o, false);
            eprintln!("{name}: no snapshot; untrusted book matches bookTicker in {ok}/{n} comparable cases");
            assert!(n > 0);
            assert!(
                never_better,
                "{name}: a diff-only book showed a better price than the exchange"
            );
        }
    }
    eprintln!("{total_updates} level updates replayed");
    assert!(total_updates > 1_500_000);
}

fn lines_of(path: &std::path::Path) -> Vec<String> {
    let f = std::fs::File::open(path).unwrap();
    let gz = flate2::read::MultiGzDecoder::new(f);
    std::io::BufReader::new(gz)
        .lines()
        .map(|l| l.unwrap())
        .collect()
}

#[test]
fn removing_one_depth_line_is_detected_as_a_gap() {
    let path = data_dir().join("usdm_btcusdt_20240718.gz");
    let mut lines = lines_of(&path);
    // Remove the 50th depth diff after the snapshot.
    let idx = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.contains("@depth"))
        .nth(50)
        .map(|(i, _)| i)
        .unwrap();
    let removed = lines.remove(idx);
    let removed_u: u64 = {
        let k = removed.find("\"u\":").unwrap() + 4;
        removed[k..]
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let text = lines.join("\n").into_bytes();
    let mut r = BinanceReplay::from_reader(
        Box::new(std::io::Cursor::new(text)),
        "edited",
        ReplayOptions::default(),
    );
    let mut gap_at = None;
    let mut trusted_after = None;
    while let Some(ev) = r.next_event().unwrap() {
        if let Event::Depth {
            status, first_id, ..
        } = ev
        {
            if status == DepthStatus::GapApplied && gap_at.is_none() {
                gap_at = Some(first_id);
            }
        }
        if gap_at.is_some() && trusted_after.is_none() {
            trusted_after = Some(r.book_trusted());
        }
    }
    assert_eq!(r.stats().gaps, 1);
    // The diff after the removed one carries pu = removed u: that is where the break shows.
    let next_after_removed = lines[idx..].iter().find(|l| l.contains("@depth")).unwrap();
    assert!(next_after_removed.contains(&format!("\"pu\":{removed_u}")));
    let k = next_after_removed.find("\"U\":").unwrap() + 4;
    let next_u: u64 = next_after_removed[k..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(gap_at, Some(next_u));
    assert_eq!(
        trusted_after,
        Some(false),
        "book must be untrusted after a gap"
    );
}

#[test]
fn spot_gap_uses_first_id_chain() {
    // Spot diffs chain by U = previous u + 1: removing one is a gap too.
    let path = data_dir().join("spot_btcusdt_20230405.dat.gz");
    let mut lines = lines_of(&path);
    let idx = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.contains("@depth"))
        .nth(10)
        .map(|(i, _)| i)
        .unwrap();
    lines.remove(idx);
    let text = lines.join("\n").into_bytes();
    let mut r = BinanceReplay::from_reader(
        Box::new(std::io::Cursor::new(text)),
        "edited",
        ReplayOptions::default(),
    );
    while r.next_event().unwrap().is_some() {}
    assert_eq!(r.stats().gaps, 1);
}

#[test]
fn corrupt_lines_are_errors_not_panics() {
    let cases: &[&[u8]] = &[
        b"garbage",
        b"1721347021080832061 {\"stream\":\"btcusdt@depth@0ms\",\"data\":{\"U\":1}}",
        b"1721347021080832061 {\"stream\":\"btcusdt@depth@0ms\",\"data\":{\"U\":1,\"u\":2,\"b\":[[\"1.0\",\"x\"]],\"a\":[]}}",
        b"1721347021080832061 {\"stream\":\"btcusdt@trade\",\"data\":{\"t\":1,\"p\":\"1\",\"q\":\"1\",\"m\":maybe}}",
        b"1721347021080832061 {\"stream\":\"btcusdt@depth@0ms\",\"data\":{\"U\":1,\"u\":2,\"b\":[[\"-5\",\"1\"]],\"a\":[]}}",
        b"17213470210 {}",
        b"1721347021080832061 {\"stream\":\"btcusdt@bookTicker\",\"data\":{\"u\":1,\"b\":\"1\"",
    ];
    for c in cases {
        let mut text = c.to_vec();
        text.push(b'\n');
        let mut r = BinanceReplay::from_reader(
            Box::new(std::io::Cursor::new(text)),
            "bad",
            ReplayOptions::default(),
        );
        let e = r.next_event();
        assert!(e.is_err(), "{:?} should fail", String::from_utf8_lossy(c));
        // The error names the line.
        assert!(e.unwrap_err().to_string().contains("bad:1"));
    }
}

#[test]
fn missing_folder_is_a_clear_error() {
    let e = sessions(std::path::Path::new("/nonexistent/binance")).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/binance"));
}

#[test]
fn update_ids_at_the_top_of_u64_do_not_overflow() {
    // A snapshot at lastUpdateId u64::MAX and diffs at the edge: no panic, typed outcome.
    let text = concat!(
        r#"1712000000000000000 {"lastUpdateId":18446744073709551615,"E":1,"T":1,"bids":[["1.0","1.0"]],"asks":[["2.0","1.0"]]}"#,
        "\n",
        r#"1712000000100000000 {"stream":"x@depth@0ms","data":{"e":"depthUpdate","E":2,"T":2,"s":"X","U":18446744073709551615,"u":18446744073709551615,"pu":18446744073709551614,"b":[],"a":[]}}"#,
        "\n",
        r#"1712000000200000000 {"stream":"x@depth","data":{"e":"depthUpdate","E":3,"T":3,"s":"X","U":18446744073709551615,"u":18446744073709551615,"b":[],"a":[]}}"#,
        "\n",
    );
    let mut r = BinanceReplay::from_reader(
        Box::new(std::io::Cursor::new(text.as_bytes().to_vec())),
        "edge",
        ReplayOptions::default(),
    );
    while r.next_event().unwrap().is_some() {}
    // The first diff connects to the snapshot; the spot-style one cannot follow u64::MAX: a gap.
    assert_eq!(r.stats().gaps, 1);
}
