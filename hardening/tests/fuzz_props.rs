//! The CI pass over the fuzz entry points: arbitrary bytes and structured mutations of valid
//! inputs (one byte flipped, truncated, a field deleted). A few thousand cases per surface, so
//! the whole file runs in seconds in a debug build; `make fuzz` runs the same entry points for
//! minutes under libFuzzer.
//!
//! Every test asserts the same three things: nothing panics (proptest reports a panic as a
//! failure with the shrunk input), no entry point reports a [`Refusal::Violation`], and the
//! valid seed itself is accepted (so a mutation test cannot pass because everything is refused).

use hardening::{
    binance_lines, lobster, shm_attach, shm_selector, topology, ui_request, valid_file,
    venue_frame, venue_instruments, venue_stream, Refusal, ShmMode, ShmTarget, UiGrant, UI_PORT,
    UI_TOKEN,
};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use venue::protocol;

/// Panics already reported to their owners, each reproduced by an ignored test (named beside
/// it) in this file or `hostile_shm.rs`: (file, message). [`guarded`] lets these through so
/// that the pass keeps looking for new bugs; delete an entry when its owner fixes it.
const KNOWN_BUGS: &[(&str, &str)] = &[
    // None open: the last ones (rings, control block, replay parsers) are fixed.
];

thread_local! {
    /// Location and message of the last panic on this thread (set by the hook in [`guarded`]).
    static LAST_PANIC: std::cell::RefCell<Option<(String, String)>> = const { std::cell::RefCell::new(None) };
}

fn is_known(file: &str, msg: &str) -> bool {
    KNOWN_BUGS
        .iter()
        .any(|(f, m)| file.ends_with(f) && msg.contains(m))
}

/// Run an entry point; a panic is a test failure unless it is one of [`KNOWN_BUGS`].
fn guarded<T>(f: impl FnOnce() -> Result<T, Refusal>) -> Result<Result<T, Refusal>, TestCaseError> {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let file = info
                .location()
                .map(|l| l.file().to_string())
                .unwrap_or_default();
            let msg = info
                .payload()
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| info.payload().downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            let known = is_known(&file, &msg);
            LAST_PANIC.with(|c| *c.borrow_mut() = Some((file, msg)));
            if !known {
                default(info);
            }
        }));
    });
    LAST_PANIC.with(|c| c.borrow_mut().take());
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => Ok(r),
        Err(_) => {
            let (file, msg) = LAST_PANIC
                .with(|c| c.borrow_mut().take())
                .unwrap_or_default();
            if is_known(&file, &msg) {
                Ok(Err(Refusal::Input(format!("known bug: {msg} at {file}"))))
            } else {
                Err(TestCaseError::fail(format!("panic: {msg} at {file}")))
            }
        }
    }
}

fn no_violation<T: std::fmt::Debug>(r: &Result<T, Refusal>) -> Result<(), TestCaseError> {
    if let Err(Refusal::Violation(m)) = r {
        return Err(TestCaseError::fail(format!("violation: {m}")));
    }
    if let Err(Refusal::Input(m)) = r {
        prop_assert!(!m.trim().is_empty(), "refusal without a message");
    }
    Ok(())
}

fn cfg(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        // Failures are reproduced from the printed input; no files written into the repo.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Topology

/// A topology that validates on a two-core machine with the standard kinds. Every field on its
/// own line, so deleting a line deletes one field.
const TOPOLOGY: &str = r#"Topology(
    engine: "props",
    housekeeping_cores: [0],
    actors: [
        (name: "feed", kind: "feed", core: 1, idle: Backoff()),
        (name: "sentinel", kind: "sentinel", core: 1, idle: Backoff(), restart: transient),
        (name: "execution", kind: "execution", core: 1, idle: Backoff()),
        (name: "ui", kind: "ui", core: 0, restart: temporary),
    ],
    supervision: (
        strategy: rest_for_one,
        intensity: (max_restarts: 3, period_ms: 5000),
        heartbeat_timeout_ms: 300,
    ),
    venue: Some(Tcp(order_addr: "127.0.0.1:9001", md_addr: "127.0.0.1:9002")),
    ui: Some((addr: "127.0.0.1:8080")),
)
"#;

#[test]
fn topology_seed_is_accepted() {
    let t = topology(TOPOLOGY.as_bytes()).expect("seed topology validates");
    assert_eq!(t.engine, "props");
    assert_eq!(t.actors, 4);
}

#[test]
fn topology_refusals_name_file_and_position() {
    // A duplicate actor: the error names the file and the line:column of the second one.
    let dup = TOPOLOGY.replace("name: \"ui\"", "name: \"feed\"");
    match topology(dup.as_bytes()) {
        Err(Refusal::Input(m)) => {
            assert!(m.contains("/fuzz/topology.ron:8:"), "{m}");
            assert!(m.contains("feed"), "{m}");
        }
        other => panic!("duplicate name: {other:?}"),
    }
    // Not UTF-8.
    assert!(matches!(
        topology(b"Topology(\xff)"),
        Err(Refusal::Input(_))
    ));
    // A core that does not exist on the two-core machine.
    let far = TOPOLOGY.replace("core: 0,", "core: 7,");
    assert!(matches!(topology(far.as_bytes()), Err(Refusal::Input(m)) if m.contains('7')));
}

proptest! {
    #![proptest_config(cfg(1500))]

    #[test]
    fn topology_arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        let r = topology(&data);
        no_violation(&r)?;
        prop_assert!(r.is_err(), "random bytes validated as a topology");
    }

    #[test]
    fn topology_line_deleted(line in 1usize..17) {
        let src: Vec<&str> = TOPOLOGY.lines().collect();
        let line = line.min(src.len() - 2);
        let mutated: String = src
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != line)
            .map(|(_, l)| format!("{l}\n"))
            .collect();
        no_violation(&topology(mutated.as_bytes()))?;
    }

    #[test]
    fn topology_byte_flipped(at in 0usize..TOPOLOGY.len(), b in any::<u8>()) {
        let mut data = TOPOLOGY.as_bytes().to_vec();
        data[at] = b;
        no_violation(&topology(&data))?;
    }

    #[test]
    fn topology_truncated(len in 0usize..TOPOLOGY.len() - 2) {
        let r = topology(&TOPOLOGY.as_bytes()[..len]);
        no_violation(&r)?;
        prop_assert!(r.is_err(), "a topology cut at {len} bytes validated");
    }

    #[test]
    fn topology_value_replaced(
        field in prop::sample::select(vec!["core: 1", "max_restarts: 3", "period_ms: 5000",
            "heartbeat_timeout_ms: 300", "housekeeping_cores: [0]", "engine: \"props\""]),
        value in prop::sample::select(vec!["-1", "18446744073709551615", "99999999999999999999",
            "\"x\"", "1.5", "[]", "None", "()", "0", "4294967296"]),
    ) {
        let key = field.split(':').next().unwrap();
        let src = TOPOLOGY.replacen(field, &format!("{key}: {value}"), 1);
        no_violation(&topology(src.as_bytes()))?;
    }
}

// ---------------------------------------------------------------------------------------------
// Venue protocol

fn arb_frame_bytes() -> impl Strategy<Value = Vec<u8>> {
    use venue::protocol::*;
    let fixed = (0u8..16, any::<[u64; 8]>(), any::<u64>()).prop_map(|(k, w, seq)| {
        let f = match k {
            0 => Frame::Logon(Logon {
                account: w[0] as u32,
                heartbeat_ms: w[1] as u32,
                stp_id: w[2],
                name: *b"props-client\0\0\0\0",
            }),
            1 => Frame::LogonAck(LogonAck {
                session_id: w[0] as u32,
                heartbeat_ms: w[1] as u32,
                venue_time_ns: w[2],
                instruments: w[3] as u32,
            }),
            2 => Frame::Heartbeat(Heartbeat { send_ns: w[0] }),
            3 => Frame::Logout(Logout {
                reason: w[0] as u16,
            }),
            4 => Frame::Error(ErrorFrame {
                code: w[0] as u16,
                frame_type: w[1] as u8,
                closing: w[2] & 1 == 1,
                ref_seq: w[3],
                detail: [b'x'; 48],
            }),
            5 => Frame::NewOrder(NewOrderMsg {
                client_order_id: w[0],
                instrument_id: w[1] as u32,
                side: 1 + (w[2] & 1) as u8,
                order_type: 1,
                tif: 1,
                price_e8: w[3] as i64,
                qty_e8: w[4] as i64,
                send_ns: w[5],
            }),
            6 => Frame::CancelOrder(CancelOrderMsg {
                client_order_id: w[0],
                ..Default::default()
            }),
            7 => Frame::Heartbeat(Heartbeat { send_ns: w[7] }),
            8 => Frame::TradePrint(TradePrintMsg::default()),
            9 => Frame::SnapshotRequest(SnapshotRequestMsg::default()),
            10 => Frame::Fill(FillMsg::default()),
            11 => Frame::Rejected(RejectedMsg::default()),
            12 => Frame::OrderAccepted(OrderAcceptedMsg::default()),
            13 => Frame::Cancelled(CancelledMsg::default()),
            14 => Frame::Modified(ModifiedMsg::default()),
            _ => Frame::PositionReport(PositionReportMsg {
                instrument_id: w[0] as u32,
                position_e8: w[1] as i64,
                bought_e8: w[2] as i64,
                sold_e8: w[3] as i64,
                venue_ns: w[4],
            }),
        };
        let mut out = Vec::new();
        encode(&f, seq, &mut out);
        out
    });
    let delta = (
        any::<u64>(),
        proptest::collection::vec((1u8..=2, 1i64..1 << 50, 0i64..1 << 50), 0..20),
    )
        .prop_map(|(seq, lv)| {
            let levels: Vec<DeltaLevel> = lv
                .into_iter()
                .map(|(side, price_e8, qty_e8)| DeltaLevel {
                    side,
                    price_e8,
                    qty_e8,
                })
                .collect();
            let mut out = Vec::new();
            // Built through the public encoder; a refused build yields an empty input.
            let _ = encode_book_delta_for_props(&levels, seq, &mut out);
            out
        });
    prop_oneof![4 => fixed, 1 => delta]
}

/// `encode_book_delta` takes instrument and time arguments; give it fixed ones.
fn encode_book_delta_for_props(
    levels: &[protocol::DeltaLevel],
    seq: u64,
    out: &mut Vec<u8>,
) -> Result<usize, protocol::EncodeError> {
    protocol::encode_book_delta(out, seq, 7, 0, 1_700_000_000_000_000_000, levels)
}

#[test]
fn venue_seed_frames_decode_and_round_trip() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    for _ in 0..200 {
        let bytes = arb_frame_bytes().new_tree(&mut runner).unwrap().current();
        if bytes.is_empty() {
            continue;
        }
        let f = venue_frame(&bytes).expect("a freshly encoded frame decodes");
        assert_eq!(f.used, bytes.len());
    }
}

proptest! {
    #![proptest_config(cfg(4000))]

    #[test]
    fn venue_arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..200)) {
        no_violation(&venue_frame(&data))?;
        no_violation(&venue_stream(&data))?;
    }

    #[test]
    fn venue_arbitrary_body_behind_a_valid_header(
        t in any::<u8>(),
        body in proptest::collection::vec(any::<u8>(), 0..128),
        declared in prop_oneof![Just(None), (0u32..70_000).prop_map(Some)],
    ) {
        let mut data = Vec::new();
        data.extend_from_slice(&protocol::MAGIC.to_le_bytes());
        data.push(protocol::VERSION);
        data.push(t);
        data.extend_from_slice(&declared.unwrap_or(body.len() as u32).to_le_bytes());
        data.extend_from_slice(&42u64.to_le_bytes());
        data.extend_from_slice(&body);
        let r = venue_frame(&data);
        no_violation(&r)?;
        if let Some(d) = declared {
            if d as usize > body.len() {
                prop_assert!(r.is_err(), "frame declaring {d} bytes accepted with {}", body.len());
            }
        }
        no_violation(&venue_stream(&data))?;
    }

    #[test]
    fn venue_truncated_frame_is_never_a_frame(bytes in arb_frame_bytes(), cut in any::<prop::sample::Index>()) {
        prop_assume!(!bytes.is_empty());
        let len = cut.index(bytes.len());
        match protocol::decode(&bytes[..len]) {
            Err(protocol::DecodeError::Truncated { needed, have }) => {
                prop_assert_eq!(have, len);
                prop_assert!(needed > len);
            }
            Err(e) => prop_assert!(false, "cut at {len}/{}: {e} instead of Truncated", bytes.len()),
            Ok((h, _, _)) => prop_assert!(false, "cut at {len}/{} decoded as type {}", bytes.len(), h.msg_type),
        }
    }

    #[test]
    fn venue_one_byte_flipped(bytes in arb_frame_bytes(), at in any::<prop::sample::Index>(), x in 1u8..=255) {
        prop_assume!(!bytes.is_empty());
        let (h0, f0, _) = protocol::decode(&bytes).unwrap();
        let f0 = format!("{f0:?}");
        let mut data = bytes.clone();
        let i = at.index(data.len());
        data[i] ^= x;
        let r = venue_frame(&data);
        no_violation(&r)?;
        // A flip in the framing (magic, version, type, length) never yields a frame of the same
        // length with the old type, nor a longer frame than the bytes present.
        if let Ok(info) = r {
            prop_assert!(info.used <= data.len());
            if i < 8 {
                let same = protocol::decode(&data).map(|(h, f, _)| h.msg_type == h0.msg_type && format!("{f:?}") == f0);
                prop_assert!(!matches!(same, Ok(true)), "a flip at {i} left the frame unchanged");
            }
        }
        no_violation(&venue_stream(&data))?;
    }

    #[test]
    fn venue_stream_of_frames_with_garbage(
        frames in proptest::collection::vec(arb_frame_bytes(), 1..6),
        garbage in proptest::collection::vec(any::<u8>(), 0..40),
        at in any::<prop::sample::Index>(),
    ) {
        let mut data: Vec<u8> = frames.concat();
        let whole = data.len();
        let r = venue_stream(&data);
        no_violation(&r)?;
        let s = r.unwrap();
        prop_assert_eq!(s.frames, frames.iter().filter(|f| !f.is_empty()).count());
        prop_assert_eq!(s.pending_bytes, 0);
        let i = at.index(whole + 1);
        data.splice(i..i, garbage);
        no_violation(&venue_stream(&data))?;
    }
}

// ---------------------------------------------------------------------------------------------
// Venue instruments

const INSTRUMENTS: &str = include_str!("../../config/instruments.ron");

proptest! {
    #![proptest_config(cfg(600))]

    #[test]
    fn instruments_byte_flipped(at in any::<prop::sample::Index>(), b in any::<u8>()) {
        let mut data = INSTRUMENTS.as_bytes().to_vec();
        let i = at.index(data.len());
        data[i] = b;
        no_violation(&venue_instruments(&data))?;
    }

    #[test]
    fn instruments_truncated(at in any::<prop::sample::Index>()) {
        let n = at.index(INSTRUMENTS.len());
        no_violation(&venue_instruments(&INSTRUMENTS.as_bytes()[..n]))?;
    }
}

#[test]
fn instruments_seed_is_accepted() {
    let n = venue_instruments(INSTRUMENTS.as_bytes()).expect("config/instruments.ron parses");
    assert!(n > 0);
}

// ---------------------------------------------------------------------------------------------
// Binance lines (written by hand in the recorder's format; see ../shared/data/binance/README.md)

const BINANCE: &str = concat!(
    r#"1712000000000000000 {"lastUpdateId":100,"E":1712000000000,"T":1712000000000,"bids":[["100.00","1.000"],["99.90","2.000"]],"asks":[["100.10","1.500"],["100.20","3.000"]]}"#,
    "\n",
    r#"1712000000100000000 {"stream":"btcusdt@depth@0ms","data":{"e":"depthUpdate","E":1712000000100,"T":1712000000100,"s":"BTCUSDT","U":99,"u":101,"pu":98,"b":[["100.00","0.500"]],"a":[["100.10","0.000"]]}}"#,
    "\n",
    r#"1712000000200000000 {"stream":"btcusdt@depth@0ms","data":{"e":"depthUpdate","E":1712000000200,"T":1712000000200,"s":"BTCUSDT","U":102,"u":103,"pu":101,"b":[["99.95","4.000"]],"a":[]}}"#,
    "\n",
    r#"1712000000300000000 {"stream":"btcusdt@trade","data":{"e":"trade","E":1712000000300,"T":1712000000300,"s":"BTCUSDT","t":5,"p":"100.20","q":"0.010","m":true}}"#,
    "\n",
    r#"1712000000400000000 {"stream":"btcusdt@bookTicker","data":{"e":"bookTicker","u":103,"s":"BTCUSDT","b":"100.00","B":"0.500","a":"100.20","A":"3.000","T":1712000000400,"E":1712000000400}}"#,
    "\n",
);

#[test]
fn binance_seed_replays() {
    let s = binance_lines(BINANCE.as_bytes()).expect("seed lines replay");
    assert_eq!(s.events, 5);
    assert_eq!(s.line_errors, 0);
    // Bids 100.00, 99.95, 99.90; asks 100.20 (100.10 deleted).
    assert_eq!(s.book_levels, 4);
}

proptest! {
    #![proptest_config(cfg(3000))]

    #[test]
    fn binance_arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        no_violation(&guarded(|| binance_lines(&data))?)?;
    }

    #[test]
    fn binance_byte_flipped(at in any::<prop::sample::Index>(), b in any::<u8>()) {
        let mut data = BINANCE.as_bytes().to_vec();
        let i = at.index(data.len());
        data[i] = b;
        no_violation(&guarded(|| binance_lines(&data))?)?;
    }

    #[test]
    fn binance_truncated(at in any::<prop::sample::Index>()) {
        let n = at.index(BINANCE.len());
        no_violation(&guarded(|| binance_lines(&BINANCE.as_bytes()[..n]))?)?;
    }

    #[test]
    fn binance_number_replaced(
        which in 0usize..12,
        value in prop::sample::select(vec!["18446744073709551615", "18446744073709551616",
            "-1", "0", "1e308", "NaN", "\"NaN\"", "\"-0.000\"", "\"92233720368.54775807\"",
            "\"99999999999999999999.9\"", "\"1.123456789\"", "\"\"", "null", "[]", "{}"]),
    ) {
        // Replace the which-th number (quoted or not) in the seed with a hostile value.
        let nums = ["100", "1712000000000", "99", "101", "98", "102", "103",
                    "\"100.00\"", "\"1.000\"", "\"0.500\"", "\"100.20\"", "5"];
        let src = BINANCE.replacen(nums[which], value, 1);
        no_violation(&guarded(|| binance_lines(src.as_bytes()))?)?;
    }
}

#[test]
fn binance_update_ids_at_u64_max_do_not_overflow() {
    // A snapshot whose lastUpdateId is u64::MAX, then a diff: the book-building rule adds 1.
    let lines = concat!(
        r#"1712000000000000000 {"lastUpdateId":18446744073709551615,"E":1,"T":1,"bids":[["1.0","1.0"]],"asks":[["2.0","1.0"]]}"#,
        "\n",
        r#"1712000000100000000 {"stream":"x@depth@0ms","data":{"e":"depthUpdate","E":2,"T":2,"s":"X","U":18446744073709551615,"u":18446744073709551615,"pu":18446744073709551614,"b":[],"a":[]}}"#,
        "\n",
        r#"1712000000200000000 {"stream":"x@depth@0ms","data":{"e":"depthUpdate","E":3,"T":3,"s":"X","U":18446744073709551615,"u":18446744073709551615,"pu":18446744073709551615,"b":[],"a":[]}}"#,
        "\n",
    );
    let r = binance_lines(lines.as_bytes());
    assert!(!matches!(r, Err(Refusal::Violation(_))), "{r:?}");
}

// ---------------------------------------------------------------------------------------------
// LOBSTER (a message file, `---`, the orderbook file; written by hand from the format)

const LOBSTER: &str = "34200.000000001,1,1,100,1000000,1
34200.5,1,2,50,1000100,-1
34201,4,2,20,1000100,-1
34202,3,1,100,1000000,1
---
9999999999,0,1000000,100
1000100,50,1000000,100
1000100,30,1000000,100
1000100,30,-9999999999,0
";

#[test]
fn lobster_seed_replays() {
    let s = lobster(LOBSTER.as_bytes()).expect("seed files replay");
    assert_eq!((s.messages, s.rows, s.applied, s.refused), (4, 4, 4, 0));
}

#[test]
fn lobster_extreme_prices_and_sizes_are_refused() {
    for line in [
        "34200,1,1,100,9223372036854775807,1",
        "34200,1,1,9223372036854775807,1000000,1",
        "34200,1,1,92233720368,1000000,1",
    ] {
        let r = lobster(line.as_bytes());
        assert!(matches!(r, Err(Refusal::Input(_))), "{line}: {r:?}");
    }
}

proptest! {
    #![proptest_config(cfg(2000))]

    #[test]
    fn lobster_arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        no_violation(&guarded(|| lobster(&data))?)?;
    }

    #[test]
    fn lobster_byte_flipped(at in any::<prop::sample::Index>(), b in any::<u8>()) {
        let mut data = LOBSTER.as_bytes().to_vec();
        let i = at.index(data.len());
        data[i] = b;
        no_violation(&guarded(|| lobster(&data))?)?;
    }

    #[test]
    fn lobster_truncated(at in any::<prop::sample::Index>()) {
        let n = at.index(LOBSTER.len());
        no_violation(&guarded(|| lobster(&LOBSTER.as_bytes()[..n]))?)?;
    }

    #[test]
    fn lobster_field_replaced(
        which in 0usize..8,
        value in prop::sample::select(vec!["9223372036854775807", "-9223372036854775808",
            "92233720368", "0", "-1", "2", "1e3", "", "NaN", "18446744073709551616",
            "99999999999.9999999999", "-9999999999"]),
    ) {
        let fields = ["34200.5", ",1,2,", "50", "1000100", "-1\n34201", "100,1000000,1", "9999999999", "30"];
        let src = LOBSTER.replacen(fields[which], value, 1);
        no_violation(&guarded(|| lobster(src.as_bytes()))?)?;
    }
}

// ---------------------------------------------------------------------------------------------
// Shared-memory attach

const TARGETS: [ShmTarget; 4] = [
    ShmTarget::Orders,
    ShmTarget::Md,
    ShmTarget::Control,
    ShmTarget::Signals,
];

#[test]
fn shm_valid_files_attach_and_work() {
    for t in TARGETS {
        // An overlay of nothing leaves the valid file as created.
        let r =
            shm_attach(&[shm_selector(t, ShmMode::PayloadOverlay)]).expect("valid file attaches");
        assert_eq!(r.target, t);
        match t {
            // 9 pushes into 8 slots (one is Full), then a batch of 4 into a full ring.
            ShmTarget::Orders | ShmTarget::Signals => assert_eq!((r.read, r.written), (0, 8)),
            // 10 published, then nothing new for the latest-subscriber.
            ShmTarget::Md => assert_eq!((r.read, r.written), (0, 10)),
            // Three actor slots read; killed then re-armed.
            ShmTarget::Control => assert_eq!((r.read, r.written), (3, 2)),
        }
    }
}

#[test]
fn shm_header_cases_are_refused_with_their_error() {
    let file = valid_file(ShmTarget::Orders).unwrap();
    let mut sel = vec![shm_selector(ShmTarget::Orders, ShmMode::Raw)];
    // Truncated to less than a header.
    sel.extend_from_slice(&file[..100]);
    assert!(matches!(shm_attach(&sel), Err(Refusal::Input(m)) if m.contains("truncated")));
    // Truncated payload.
    let mut sel = vec![shm_selector(ShmTarget::Orders, ShmMode::Raw)];
    sel.extend_from_slice(&file[..file.len() - 1]);
    assert!(matches!(shm_attach(&sel), Err(Refusal::Input(m)) if m.contains("truncated")));
    // Bad magic (patch offset 0).
    let sel = [
        shm_selector(ShmTarget::Orders, ShmMode::Patches),
        0,
        0,
        b'X',
    ];
    assert!(matches!(shm_attach(&sel), Err(Refusal::Input(m)) if m.contains("magic")));
    // Another layout version (offset 8).
    let sel = [shm_selector(ShmTarget::Orders, ShmMode::Patches), 8, 0, 9];
    assert!(matches!(shm_attach(&sel), Err(Refusal::Input(m)) if m.contains("layout version")));
    // Another layout hash (offset 16).
    let sel = [
        shm_selector(ShmTarget::Orders, ShmMode::Patches),
        16,
        0,
        0x55,
    ];
    assert!(matches!(shm_attach(&sel), Err(Refusal::Input(m)) if m.contains("layout hash")));
    // Another message type in the ring's own record (payload offset 0 = file offset 4096).
    let sel = [
        shm_selector(ShmTarget::Orders, ShmMode::Patches),
        0,
        16,
        0x55,
    ];
    assert!(matches!(shm_attach(&sel), Err(Refusal::Input(m)) if m.contains("message type")));
    // A Signals ring attached as an Orders ring: same capacity, another message type.
    let sig = valid_file(ShmTarget::Signals).unwrap();
    let mut sel = vec![shm_selector(ShmTarget::Orders, ShmMode::Raw)];
    sel.extend_from_slice(sig);
    let r = shm_attach(&sel);
    assert!(matches!(r, Err(Refusal::Input(_))), "{r:?}");
}

fn arb_shm_input() -> impl Strategy<Value = Vec<u8>> {
    let target = prop::sample::select(TARGETS.to_vec());
    let patches = (
        target.clone(),
        proptest::collection::vec((0u16..4096 + 1024, any::<u8>()), 1..8),
    )
        .prop_map(|(t, ps)| {
            let mut v = vec![shm_selector(t, ShmMode::Patches)];
            for (off, b) in ps {
                v.extend_from_slice(&off.to_le_bytes());
                v.push(b);
            }
            v
        });
    let overlay = (
        target.clone(),
        proptest::collection::vec(any::<u8>(), 0..768),
    )
        .prop_map(|(t, p)| {
            let mut v = vec![shm_selector(t, ShmMode::PayloadOverlay)];
            v.extend(p);
            v
        });
    // Positions and pids as words, so the interesting values (0, 1, MAX, near MAX) come up.
    let words = (
        target.clone(),
        proptest::collection::vec(
            prop_oneof![
                Just(0u64),
                Just(1),
                Just(u64::MAX),
                Just(u64::MAX - 1),
                Just(1 << 63),
                0u64..64,
                any::<u64>()
            ],
            0..96,
        ),
    )
        .prop_map(|(t, ws)| {
            let mut v = vec![shm_selector(t, ShmMode::PayloadOverlay)];
            for w in ws {
                v.extend_from_slice(&w.to_le_bytes());
            }
            v
        });
    let header = (
        target.clone(),
        proptest::collection::vec(any::<u8>(), 0..256),
    )
        .prop_map(|(t, p)| {
            let mut v = vec![shm_selector(t, ShmMode::ValidHeader)];
            v.extend(p);
            v
        });
    let raw = (target, proptest::collection::vec(any::<u8>(), 0..5000)).prop_map(|(t, p)| {
        let mut v = vec![shm_selector(t, ShmMode::Raw)];
        v.extend(p);
        v
    });
    prop_oneof![patches, overlay, words, header, raw]
}

proptest! {
    #![proptest_config(cfg(1500))]

    #[test]
    fn shm_hostile_files(data in arb_shm_input()) {
        no_violation(&guarded(|| shm_attach(&data))?)?;
    }
}

// ---------------------------------------------------------------------------------------------
// UI control requests

fn good_control() -> String {
    format!(
        "CONTROL\nHost: 127.0.0.1:{UI_PORT}\nOrigin: http://127.0.0.1:{UI_PORT}\nAuthorization: Bearer {UI_TOKEN}\n"
    )
}

#[test]
fn ui_seed_requests_are_granted_and_refusals_are_clear() {
    assert_eq!(ui_request(good_control().as_bytes()), Ok(UiGrant::Control));
    let ws = format!(
        "WS\nHost: localhost:{UI_PORT}\nSec-WebSocket-Protocol: cockpit.v1, token.{UI_TOKEN}\n"
    );
    assert_eq!(ui_request(ws.as_bytes()), Ok(UiGrant::WebSocket));
    let no_token = good_control().replace(&format!("Authorization: Bearer {UI_TOKEN}\n"), "");
    assert!(
        matches!(ui_request(no_token.as_bytes()), Err(Refusal::Input(m)) if m.contains("missing control token"))
    );
    let foreign = good_control().replace(
        &format!("Origin: http://127.0.0.1:{UI_PORT}"),
        "Origin: http://evil.example",
    );
    assert!(
        matches!(ui_request(foreign.as_bytes()), Err(Refusal::Input(m)) if m.contains("foreign Origin"))
    );
    let rebinding = good_control().replace("127.0.0.1", "attacker.example");
    assert!(
        matches!(ui_request(rebinding.as_bytes()), Err(Refusal::Input(m)) if m.contains("does not name this server"))
    );
}

proptest! {
    #![proptest_config(cfg(3000))]

    #[test]
    fn ui_arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        let r = ui_request(&data);
        no_violation(&r)?;
        prop_assert!(r.is_err());
    }

    #[test]
    fn ui_byte_flipped(at in any::<prop::sample::Index>(), b in any::<u8>()) {
        let mut data = good_control().into_bytes();
        let i = at.index(data.len());
        data[i] = b;
        no_violation(&ui_request(&data))?;
    }

    #[test]
    fn ui_truncated(at in any::<prop::sample::Index>()) {
        let data = good_control();
        let n = at.index(data.len());
        let r = ui_request(&data.as_bytes()[..n]);
        no_violation(&r)?;
        // The token is the last line: any cut before its last hex digit refuses.
        if n < data.len() - 1 {
            prop_assert!(r.is_err(), "granted when cut at {n}");
        }
    }

    #[test]
    fn ui_header_values_replaced(
        which in prop::sample::select(vec!["Host", "Origin", "Authorization"]),
        value in "[ -~]{0,80}",
    ) {
        let src: String = good_control()
            .lines()
            .map(|l| if l.starts_with(which) { format!("{which}: {value}\n") } else { format!("{l}\n") })
            .collect();
        no_violation(&ui_request(src.as_bytes()))?;
    }
}
