//! Capture round trip: a Binance replay written to the binary format and read back
//! gives the same book after every event, and damaged files are refused.

use venue::capture::{CapEvent, CaptureError, CaptureReplay, CaptureWriter};
use venue::replay::binance::{default_data_dir, BinanceReplay, DepthStatus, Event, ReplayOptions};

#[test]
fn binance_replay_round_trips_through_capture() {
    let dir = default_data_dir();
    assert!(dir.is_dir(), "recordings missing at {}", dir.display());
    let files = [dir.join("usdm_btcusdt_20240718.gz")];
    let mut r = BinanceReplay::open(&files, ReplayOptions::default()).unwrap();
    let mut w = CaptureWriter::new(std::io::Cursor::new(Vec::new()), 1).unwrap();
    // Reference: the book's best levels after every book event, from the JSON replay.
    let mut tops = Vec::new();
    let mut trades = 0;
    while let Some((ev, book)) = r.next_with_book().unwrap() {
        let is_book = match ev {
            Event::Snapshot { .. } => true,
            Event::Depth { status, .. } => status != DepthStatus::Stale,
            _ => false,
        };
        trades += matches!(ev, Event::Trade { .. }) as u64;
        w.write_event(&ev, book).unwrap();
        if is_book {
            tops.push((
                book.best_bid(),
                book.best_ask(),
                book.bids.len(),
                book.asks.len(),
            ));
        }
    }
    let records = w.finish().unwrap();
    assert!(records > 100_000);
    // The same through a file on disk.
    let path = std::env::temp_dir().join(format!("venue-capture-test-{}.cap", std::process::id()));
    {
        let mut r = BinanceReplay::open(&files, ReplayOptions::default()).unwrap();
        let mut w = CaptureWriter::create(&path, 1).unwrap();
        while let Some((ev, book)) = r.next_with_book().unwrap() {
            w.write_event(&ev, book).unwrap();
        }
        assert_eq!(w.finish().unwrap(), records);
    }
    let mut cap = CaptureReplay::open(&path, 20_000).unwrap();
    let mut k = 0;
    let mut cap_trades = 0;
    while let Some(ev) = cap.next_event().unwrap() {
        match ev {
            CapEvent::Snapshot { .. } | CapEvent::Depth { .. } => {
                let b = cap.book();
                assert_eq!(
                    (b.best_bid(), b.best_ask(), b.bids.len(), b.asks.len()),
                    tops[k],
                    "book event {k}"
                );
                k += 1;
            }
            CapEvent::Trade { .. } => cap_trades += 1,
            CapEvent::Ticker { .. } => {}
        }
    }
    assert_eq!(k, tops.len());
    assert_eq!(cap_trades, trades);
    // Damage: truncate the file by one record.
    let bytes = std::fs::read(&path).unwrap();
    let cut = bytes[..bytes.len() - 32].to_vec();
    assert!(matches!(
        CaptureReplay::from_bytes(cut, 100),
        Err(CaptureError::Truncated { .. })
    ));
    let mut bad = bytes.clone();
    bad[0] = b'X';
    assert!(matches!(
        CaptureReplay::from_bytes(bad, 100),
        Err(CaptureError::BadHeader)
    ));
    // A level record where an event should start.
    let mut bad = bytes.clone();
    bad[32] = 2;
    let mut c = CaptureReplay::from_bytes(bad, 100).unwrap();
    assert!(c.next_event().is_err());
    std::fs::remove_file(&path).unwrap();
}
