//! Latency histograms: publication into hist.shm read from a second mapping, merging across
//! publishers, slot claims, concurrent reads, and interval logs parsed back with hdrhistogram's
//! own log reader.

use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::Histogram;
use runtime::hist::{
    new_histogram, stage, HistError, HistogramPublisher, HistogramReader, HistogramRegion,
    IntervalLog, IntervalLogger, MAX_SLOTS, MAX_STAGES,
};
use runtime::shm::ShmDir;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SECOND_NS: u64 = 1_000_000_000;
const WALL_START_NS: u64 = 1_764_000_000_000_000_000; // 2025-11-24T16:00:00Z

fn watchdog(limit: Duration) -> Arc<AtomicBool> {
    let done = Arc::new(AtomicBool::new(false));
    let flag = done.clone();
    std::thread::spawn(move || {
        let start = Instant::now();
        while !flag.load(Ordering::Acquire) {
            if start.elapsed() > limit {
                eprintln!("watchdog: histogram test still running after {limit:?}");
                std::process::abort();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    done
}

fn hist_of(values: &[(u64, u64)]) -> Histogram<u64> {
    let mut h = new_histogram();
    for &(v, n) in values {
        h.record_n(v, n).unwrap();
    }
    h
}

/// One interval of a log: start, length, decoded histogram.
type Interval = (Duration, Duration, Histogram<u64>);

/// The header entries and intervals of a log.
fn parse_log(bytes: &[u8]) -> (Vec<LogEntry<'_>>, Vec<Interval>) {
    let mut headers = Vec::new();
    let mut intervals = Vec::new();
    let mut de = Deserializer::new();
    for entry in IntervalLogIterator::new(bytes) {
        match entry.expect("log parses") {
            LogEntry::Interval(i) => {
                let raw = base64_decode(i.encoded_histogram());
                let h: Histogram<u64> = de.deserialize(&mut &raw[..]).expect("histogram decodes");
                intervals.push((i.start_timestamp(), i.duration(), h));
            }
            other => headers.push(other),
        }
    }
    (headers, intervals)
}

/// Standard base64 (the log format's encoding), decoded by hand to keep dependencies minimal.
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c}"),
        }
    };
    let clean: Vec<u8> = text.bytes().filter(|&c| c != b'=').collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for chunk in clean.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= value(c) << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

#[test]
fn a_reader_in_another_mapping_sees_published_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = ShmDir::create(Some(tmp.path()), "eng").unwrap();
    let region = HistogramRegion::create(&dir).unwrap();
    let other = HistogramRegion::attach(&ShmDir::open(Some(tmp.path()), "eng").unwrap()).unwrap();
    let mut publisher = HistogramPublisher::new(region, 3);
    let mut reader = HistogramReader::new(other);

    assert!(reader.read(stage::RTT).is_none(), "nothing published yet");
    let h = hist_of(&[(1_500_000, 90), (25_000_000, 10)]);
    publisher.publish(stage::RTT, &h, 42).unwrap();
    let seen = reader.read(stage::RTT).unwrap();
    assert_eq!(seen.len(), 100);
    assert_eq!(seen.count_at(1_500_000), 90);
    assert_eq!(seen.count_at(25_000_000), 10);
    assert!(seen.equivalent(seen.value_at_quantile(0.95), 25_000_000));

    let info = reader.slots();
    assert_eq!(info.len(), 1);
    assert_eq!(
        (info[0].stage, info[0].publisher, info[0].name.as_str()),
        (stage::RTT, 3, "rtt")
    );
    assert_eq!((info[0].total_count, info[0].updated_ns), (100, 42));

    // A later publication replaces the earlier one.
    let h = hist_of(&[(1_500_000, 190), (25_000_000, 10)]);
    publisher.publish(stage::RTT, &h, 43).unwrap();
    assert_eq!(reader.read(stage::RTT).unwrap().len(), 200);
    assert_eq!(
        reader
            .read_from(stage::RTT, 3)
            .unwrap()
            .unwrap()
            .info
            .updated_ns,
        43
    );
    assert!(reader.read_from(stage::RTT, 4).unwrap().is_none());
}

#[test]
fn publishers_of_one_stage_are_merged() {
    let region = HistogramRegion::anonymous().unwrap();
    let mut feed = HistogramPublisher::new(region.clone(), 0);
    let mut oracle = HistogramPublisher::new(region.clone(), 1);
    feed.publish(stage::KILL_SWITCH, &hist_of(&[(1_000, 1)]), 1)
        .unwrap();
    oracle
        .publish(stage::KILL_SWITCH, &hist_of(&[(3_000, 2)]), 1)
        .unwrap();
    let mut reader = HistogramReader::new(region);
    let merged = reader.read(stage::KILL_SWITCH).unwrap();
    assert_eq!(merged.len(), 3);
    assert_eq!(merged.count_at(1_000), 1);
    assert_eq!(merged.count_at(3_000), 2);
    assert_eq!(reader.slots().len(), 2);
}

#[test]
fn restarted_publishers_reuse_their_slot_and_slots_are_bounded() {
    let region = HistogramRegion::anonymous().unwrap();
    let h = hist_of(&[(10, 1)]);
    for _ in 0..3 {
        // A restarted actor builds a new publisher with the same id: same slot.
        HistogramPublisher::new(region.clone(), 7)
            .publish(stage::SONAR_PROC, &h, 0)
            .unwrap();
    }
    let reader = HistogramReader::new(region.clone());
    assert_eq!(reader.slots().len(), 1);

    // Fill the rest: MAX_SLOTS - 1 more (stage, publisher) pairs fit, the next one does not.
    let mut p = HistogramPublisher::new(region.clone(), 100);
    let mut claimed = 1;
    'fill: for publisher in 100.. {
        p = HistogramPublisher::new(region.clone(), publisher);
        for stage_id in 0..stage::FIRST_USER_STAGE {
            if claimed == MAX_SLOTS {
                break 'fill;
            }
            p.publish(stage_id, &h, 0).unwrap();
            claimed += 1;
        }
    }
    let err = HistogramPublisher::new(region.clone(), 9_999)
        .publish(stage::RTT, &h, 0)
        .unwrap_err();
    assert!(matches!(err, HistError::NoFreeSlot), "{err}");
    drop(p);
    // Releasing a publisher frees its slots, emptied: the new owner's stage shows only what
    // the new owner published.
    region.release_publisher(7);
    let mut reader = HistogramReader::new(region.clone());
    assert!(reader.read_from(stage::SONAR_PROC, 7).unwrap().is_none());
    // The new owner claims the freed slot but its first publication fails: the slot reads as
    // empty, not as the previous owner's histogram.
    let err = HistogramPublisher::new(region.clone(), 9_999)
        .publish(stage::RTT, &too_wide(), 0)
        .unwrap_err();
    assert!(matches!(err, HistError::TooLarge { .. }));
    assert!(reader.read_from(stage::RTT, 9_999).unwrap().is_none());
    HistogramPublisher::new(region.clone(), 9_999)
        .publish(stage::RTT, &hist_of(&[(77, 2)]), 0)
        .unwrap();
    let rtt = reader.read_from(stage::RTT, 9_999).unwrap().unwrap();
    assert_eq!((rtt.histogram.len(), rtt.histogram.count_at(77)), (2, 2));
}

#[test]
fn stages_are_checked_and_user_stages_carry_their_name() {
    let region = HistogramRegion::anonymous().unwrap();
    let mut p = HistogramPublisher::new(region.clone(), 0);
    let h = hist_of(&[(5, 1)]);
    assert!(matches!(
        p.publish(MAX_STAGES, &h, 0),
        Err(HistError::BadStage { stage: 32 })
    ));
    assert!(matches!(
        p.publish(stage::FIRST_USER_STAGE, &h, 0),
        Err(HistError::UnnamedStage { .. })
    ));
    p.publish_named(stage::FIRST_USER_STAGE, "my_strategy_proc", &h, 0)
        .unwrap();
    let reader = HistogramReader::new(region);
    assert_eq!(reader.slots()[0].name, "my_strategy_proc");
    assert_eq!(stage::name(stage::HOP_FEED_ORACLE), Some("hop_feed_oracle"));
    assert_eq!(
        stage::by_name("cancel_lateness"),
        Some(stage::CANCEL_LATENESS)
    );
    assert_eq!(
        stage::proc_stage_for_kind("execution"),
        Some(stage::EXECUTION_PROC)
    );
}

/// A huge count in every distinct bucket from 1 ns to 60 s: ~27,000 buckets × 6 bytes, far
/// more than a slot holds.
fn too_wide() -> Histogram<u64> {
    let mut h = new_histogram();
    let mut v = 1u64;
    while v < 60_000_000_000 {
        h.record_n(v, 1 << 40).unwrap();
        v = h.next_non_equivalent(v);
    }
    h
}

#[test]
fn a_histogram_too_wide_for_its_slot_is_refused_not_cut() {
    let region = HistogramRegion::anonymous().unwrap();
    let mut p = HistogramPublisher::new(region.clone(), 0);
    let err = p.publish(stage::RTT, &too_wide(), 0).unwrap_err();
    assert!(matches!(err, HistError::TooLarge { .. }), "{err}");
    // Nothing half-written is visible.
    assert!(HistogramReader::new(region).read(stage::RTT).is_none());
}

#[test]
fn concurrent_reads_are_always_consistent() {
    let done = watchdog(Duration::from_secs(60));
    let region = HistogramRegion::anonymous().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let region = region.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut p = HistogramPublisher::new(region, 0);
            let mut h = new_histogram();
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // Each publication adds one value; `max` tracks the count so a mix of two
                // publications would show a count and a max that disagree.
                i += 1;
                h.record(i).unwrap();
                p.publish(stage::TICK_TO_ORDER, &h, i).unwrap();
            }
            i
        })
    };
    let mut reader = HistogramReader::new(region);
    let mut last = 0;
    let mut reads = 0;
    // The writer publishes until the reader has taken 2,000 copies (the watchdog bounds it).
    while reads < 2_000 {
        let snapshot = match reader.read_from(stage::TICK_TO_ORDER, 0) {
            Ok(s) => s,
            // A writer publishing back to back (unlike an actor's few times a second) can keep
            // every bounded attempt overlapping a write: a documented outcome; try again.
            Err(HistError::Busy { .. }) => continue,
            Err(e) => panic!("{e}"),
        };
        if let Some(snapshot) = snapshot {
            let n = snapshot.histogram.len();
            assert_eq!(
                n, snapshot.info.total_count,
                "histogram and metadata disagree"
            );
            assert_eq!(
                snapshot.info.updated_ns, n,
                "metadata from another publication"
            );
            assert!(snapshot.histogram.equivalent(snapshot.histogram.max(), n));
            assert!(n >= last, "went back from {last} to {n}");
            last = n;
            reads += 1;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let published = writer.join().expect("writer panicked");
    assert!(published >= last);
    done.store(true, Ordering::Release);
}

#[test]
fn interval_log_parses_back_with_the_recorded_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("rtt.hlog");
    let start = 5 * SECOND_NS;
    let mut log = IntervalLog::create(&path, start, WALL_START_NS, SECOND_NS, None).unwrap();
    for _ in 0..3 {
        log.record(100);
    }
    log.record(2_000);
    assert!(
        !log.tick(start + SECOND_NS / 2).unwrap(),
        "interval not over"
    );
    assert!(log.tick(start + SECOND_NS).unwrap());
    for _ in 0..5 {
        log.record(50_000);
    }
    assert!(log.tick(start + 2 * SECOND_NS + 1_000).unwrap());
    // An empty interval is still written (the tools expect one per interval).
    log.finish(start + 3 * SECOND_NS).unwrap();
    assert_eq!(log.intervals_written(), 3);
    drop(log);

    let bytes = std::fs::read(&path).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        text.contains("\"StartTimestamp\",\"Interval_Length\""),
        "{text}"
    );
    let (headers, intervals) = parse_log(&bytes);
    let start_time = Duration::from_nanos(WALL_START_NS);
    assert_eq!(
        headers,
        [
            LogEntry::StartTime(start_time),
            LogEntry::BaseTime(start_time)
        ]
    );
    assert_eq!(intervals.len(), 3);
    let (s0, d0, h0) = &intervals[0];
    assert_eq!((*s0, *d0), (Duration::ZERO, Duration::from_secs(1)));
    assert_eq!((h0.len(), h0.count_at(100), h0.count_at(2_000)), (4, 3, 1));
    let (s1, d1, h1) = &intervals[1];
    // Timestamps are written with millisecond precision.
    assert_eq!(*s1, Duration::from_secs(1));
    assert_eq!(*d1, Duration::from_secs(1));
    assert_eq!((h1.len(), h1.count_at(50_000)), (5, 5));
    assert_eq!(intervals[2].2.len(), 0);
}

#[test]
fn interval_logger_writes_each_stage_s_new_counts_per_interval() {
    let tmp = tempfile::tempdir().unwrap();
    let region = HistogramRegion::anonymous().unwrap();
    let mut rtt = HistogramPublisher::new(region.clone(), 4);
    let mut kill_a = HistogramPublisher::new(region.clone(), 0);
    let mut kill_b = HistogramPublisher::new(region.clone(), 1);
    let t0 = 100 * SECOND_NS;
    let mut logger = IntervalLogger::new(
        &tmp.path().join("logs"),
        region,
        SECOND_NS,
        t0,
        WALL_START_NS,
    )
    .unwrap();

    let mut cumulative = hist_of(&[(1_000_000, 10)]);
    rtt.publish(stage::RTT, &cumulative, t0).unwrap();
    kill_a
        .publish(stage::KILL_SWITCH, &hist_of(&[(800, 1)]), t0)
        .unwrap();
    assert_eq!(logger.tick(t0 + SECOND_NS / 2).unwrap(), 0, "too early");
    assert_eq!(logger.tick(t0 + SECOND_NS).unwrap(), 2);

    // Second interval: 5 more RTT samples; a second actor reports its kill latency.
    cumulative.record_n(30_000_000, 5).unwrap();
    rtt.publish(stage::RTT, &cumulative, t0 + SECOND_NS)
        .unwrap();
    kill_b
        .publish(stage::KILL_SWITCH, &hist_of(&[(1_200, 1)]), t0)
        .unwrap();
    assert_eq!(logger.tick(t0 + 2 * SECOND_NS).unwrap(), 2);

    // Third: the RTT publisher restarted and counts from zero: its 2 new samples are new.
    let restarted = hist_of(&[(2_000_000, 2)]);
    rtt.publish(stage::RTT, &restarted, t0 + 2 * SECOND_NS)
        .unwrap();
    assert_eq!(logger.tick(t0 + 3 * SECOND_NS).unwrap(), 2);

    let mut paths = logger.paths();
    paths.sort();
    let names: Vec<_> = paths
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["kill_switch.hlog", "rtt.hlog"]);

    let rtt_log = std::fs::read(tmp.path().join("logs/rtt.hlog")).unwrap();
    let (_, intervals) = parse_log(&rtt_log);
    let counts: Vec<_> = intervals.iter().map(|(_, _, h)| h.len()).collect();
    assert_eq!(counts, [10, 5, 2]);
    assert_eq!(intervals[1].2.count_at(30_000_000), 5);
    assert_eq!(intervals[2].2.count_at(2_000_000), 2);
    let starts: Vec<_> = intervals.iter().map(|(s, _, _)| s.as_secs()).collect();
    assert_eq!(starts, [0, 1, 2]);

    let kill_log = std::fs::read(tmp.path().join("logs/kill_switch.hlog")).unwrap();
    let (_, intervals) = parse_log(&kill_log);
    let counts: Vec<_> = intervals.iter().map(|(_, _, h)| h.len()).collect();
    assert_eq!(counts, [1, 1, 0]);
    assert_eq!(intervals[1].2.count_at(1_200), 1);
}

#[test]
fn a_bad_tag_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let err = IntervalLog::create(&tmp.path().join("x.hlog"), 0, 0, SECOND_NS, Some("a b"))
        .err()
        .expect("refused");
    assert!(err.to_string().contains("space"), "{err}");
}
