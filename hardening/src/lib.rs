//! Hostile-input entry points shared by the cargo-fuzz targets (`fuzz/`) and the CI
//! property-test pass (`tests/fuzz_props.rs`).
//!
//! One function per surface where bytes from outside the engine's trust boundary reach code:
//!
//! | entry point | surface | component |
//! |---|---|---|
//! | [`topology`] | `topology.ron` written by an operator | `supervisor::topology::{parse, validate}` |
//! | [`venue_frame`], [`venue_stream`] | bytes from a TCP peer | `venue::protocol::decode` |
//! | [`venue_instruments`] | `config/instruments.ron` | `venue::config::parse_instruments` |
//! | [`binance_lines`] | recorded Binance lines | `venue::replay::binance` |
//! | [`lobster`] | LOBSTER message + orderbook files | `venue::replay::lobster` |
//! | [`shm_attach`] | a file in the engine's shared-memory folder | `runtime::shm`, `runtime::ring`, `runtime::control` |
//! | [`ui_request`] | HTTP headers from a browser | `ui::auth` (Origin/Host policy, token) |
//!
//! Every entry point takes `&[u8]`, never panics by itself, and returns an [`Outcome`]:
//! `Ok` with a summary when the component accepted the input, `Err(Refusal::Input)` when it
//! refused it with its own typed error (the message is kept so tests can check that it says
//! something), and `Err(Refusal::Violation)` when the component broke a promise it makes (a
//! truncated frame accepted, a re-encoded frame that decodes differently, a request accepted
//! without the token…). A panic inside a component is the other kind of bug; the fuzzers and
//! the property pass catch it.

use std::fs::{self, OpenOptions};
use std::io::{Cursor, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use runtime::control::{ActorSpec, ControlBlock};
use runtime::msg::{MdEvent, OrderEvent, Signal};
use runtime::ring::{Broadcast, Recv, Spsc, MAX_SUBSCRIBERS};
use runtime::shm::{ShmDir, HEADER_BYTES};

/// What an entry point concluded.
pub type Outcome<T> = Result<T, Refusal>;

/// Why an input did not go through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The component refused the input with its own error (the message, rendered). The safe
    /// outcome for bad input.
    Input(String),
    /// The component broke one of its promises. Always a bug.
    Violation(String),
}

impl Refusal {
    /// Whether this is a broken promise (a bug) rather than a refused input.
    pub fn is_violation(&self) -> bool {
        matches!(self, Refusal::Violation(_))
    }
}

fn input(e: impl std::fmt::Display) -> Refusal {
    Refusal::Input(e.to_string())
}

// ---------------------------------------------------------------------------------------------
// Topology

/// The standard actor kinds, with the one requirement the engine insists on (as the
/// supervisor's own tests describe it).
pub struct StandardKinds;

impl supervisor::topology::KindCatalog for StandardKinds {
    fn kinds(&self) -> Vec<String> {
        ["execution", "feed", "oracle", "sentinel", "sonar", "ui"]
            .map(String::from)
            .to_vec()
    }
    fn requires(&self, kind: &str) -> Vec<String> {
        match kind {
            "execution" => vec!["sentinel".into()],
            _ => vec![],
        }
    }
}

/// A two-core machine with everything available: validation never reads the real machine.
pub fn fake_machine() -> supervisor::machine::FakeMachine {
    supervisor::machine::FakeMachine::with_cores(2)
}

/// What a topology that validated looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopologySummary {
    pub engine: String,
    pub actors: usize,
}

/// Parse and validate `data` as `topology.ron` against [`StandardKinds`] and [`fake_machine`].
///
/// Violations: an error that renders to no text or locates no problem; an accepted topology
/// with no actor, an empty or path-like engine name, or two actors with one name.
pub fn topology(data: &[u8]) -> Outcome<TopologySummary> {
    let src = std::str::from_utf8(data).map_err(|e| input(format!("not UTF-8: {e}")))?;
    let file = Path::new("/fuzz/topology.ron");
    let checked = supervisor::topology::parse(file, src)
        .and_then(|p| supervisor::topology::validate(&p, &StandardKinds, &fake_machine()));
    match checked {
        Err(e) => {
            let text = e.to_string();
            if text.trim().is_empty() || e.problems().is_empty() {
                return Err(Refusal::Violation(format!(
                    "topology refused without a message: {e:?}"
                )));
            }
            Err(Refusal::Input(text))
        }
        Ok(t) => {
            if t.actors.is_empty() {
                return Err(Refusal::Violation("topology with no actor accepted".into()));
            }
            if t.engine.is_empty() || t.engine.contains('/') || t.engine.contains("..") {
                return Err(Refusal::Violation(format!(
                    "engine name {:?} accepted",
                    t.engine
                )));
            }
            for (i, a) in t.actors.iter().enumerate() {
                if t.actors[..i].iter().any(|b| b.name == a.name) {
                    return Err(Refusal::Violation(format!(
                        "duplicate actor name {:?} accepted",
                        a.name
                    )));
                }
            }
            Ok(TopologySummary {
                engine: t.engine.clone(),
                actors: t.actors.len(),
            })
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Venue protocol

/// One decoded frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameInfo {
    pub msg_type: u8,
    pub seq: u64,
    /// Bytes the frame used from the front of the input.
    pub used: usize,
}

/// Check the decoder's promises about one frame it accepted from `buf`.
fn check_decoded(
    buf: &[u8],
    h: venue::protocol::Header,
    f: &venue::protocol::Frame<'_>,
    used: usize,
) -> Result<(), Refusal> {
    use venue::protocol::{decode, encode, HEADER_LEN};
    let v = |m: String| Err(Refusal::Violation(m));
    if used != HEADER_LEN + h.body_len as usize || used > buf.len() {
        return v(format!(
            "frame type {} used {used} bytes of {}, header says body {}",
            h.msg_type,
            buf.len(),
            h.body_len
        ));
    }
    // Every strict prefix must be refused as truncated: a short read never yields a frame.
    for cut in [0, 1, HEADER_LEN - 1, HEADER_LEN, used - 1] {
        if cut < used {
            if let Ok((h2, _, _)) = decode(&buf[..cut]) {
                return v(format!(
                    "a {cut}-byte prefix of a {used}-byte frame decoded as type {}",
                    h2.msg_type
                ));
            }
        }
    }
    // Re-encoding the decoded frame must give a frame that decodes to the same thing.
    let mut out = Vec::with_capacity(used);
    let n = encode(f, h.seq, &mut out);
    if n != out.len() {
        return v(format!("encode reported {n} bytes, wrote {}", out.len()));
    }
    match decode(&out) {
        Ok((h2, f2, used2)) if h2 == h && f2 == *f && used2 == out.len() => Ok(()),
        Ok((h2, f2, _)) => v(format!(
            "re-encoded frame decodes differently: {h:?} {f:?} became {h2:?} {f2:?}"
        )),
        Err(e) => v(format!("re-encoded frame {f:?} does not decode: {e}")),
    }
}

/// Decode one frame from the front of `data` (`venue::protocol::decode`).
///
/// Violations: a frame that used more bytes than given or than its header says; a strict
/// prefix of an accepted frame that also decodes; a re-encoded frame that decodes differently;
/// a decode error whose code is not one of the documented decode codes (1-7).
pub fn venue_frame(data: &[u8]) -> Outcome<FrameInfo> {
    match venue::protocol::decode(data) {
        Ok((h, f, used)) => {
            check_decoded(data, h, &f, used)?;
            Ok(FrameInfo {
                msg_type: h.msg_type,
                seq: h.seq,
                used,
            })
        }
        Err(e) => {
            if !(1..=7).contains(&e.code()) {
                return Err(Refusal::Violation(format!(
                    "decode error {e} has code {} outside 1-7",
                    e.code()
                )));
            }
            Err(input(format!("code {}: {e}", e.code())))
        }
    }
}

/// How a receiver fared on a byte stream.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamSummary {
    pub frames: usize,
    /// Frames skipped whole (unknown type, bad value: boundaries intact).
    pub skipped: usize,
    /// The decode error code on which the receiver would close the connection.
    pub closed_with: Option<u16>,
    /// Bytes left waiting for more input (a partial frame at the end).
    pub pending_bytes: usize,
}

/// Feed `data` to a receiver that follows docs/venue-protocol.md: decode frames in order, skip
/// a frame whose error is [`venue::protocol::DecodeError::frame_skippable`], wait for more on
/// `Truncated`, close on anything else. Bounded by the input length.
pub fn venue_stream(data: &[u8]) -> Outcome<StreamSummary> {
    use venue::protocol::{decode, decode_header, DecodeError, HEADER_LEN};
    let mut s = StreamSummary::default();
    let mut off = 0usize;
    // Each pass consumes at least HEADER_LEN bytes or ends the loop.
    while off < data.len() {
        let rest = &data[off..];
        match decode(rest) {
            Ok((h, f, used)) => {
                check_decoded(rest, h, &f, used)?;
                s.frames += 1;
                off += used;
            }
            Err(DecodeError::Truncated { .. }) => {
                s.pending_bytes = rest.len();
                break;
            }
            Err(e) if e.frame_skippable() => {
                let h = decode_header(rest).map_err(|e2| {
                    Refusal::Violation(format!("skippable error {e} but header fails: {e2}"))
                })?;
                let total = HEADER_LEN + h.body_len as usize;
                if total > rest.len() {
                    // Unknown type, body not here yet: the receiver reads on before skipping.
                    s.pending_bytes = rest.len();
                    break;
                }
                s.skipped += 1;
                off += total;
            }
            Err(e) => {
                s.closed_with = Some(e.code());
                break;
            }
        }
    }
    if s.frames == 0 && s.closed_with.is_some() {
        return Err(input(format!(
            "stream closed with code {:?} before any frame",
            s.closed_with
        )));
    }
    Ok(s)
}

/// Parse `data` as `config/instruments.ron` (`venue::config::parse_instruments`).
pub fn venue_instruments(data: &[u8]) -> Outcome<usize> {
    let src = std::str::from_utf8(data).map_err(|e| input(format!("not UTF-8: {e}")))?;
    match venue::config::parse_instruments(src, "fuzz/instruments.ron") {
        Ok(list) => {
            for i in &list {
                if i.tick_e8() <= 0 {
                    return Err(Refusal::Violation(format!(
                        "instrument with tick {} accepted",
                        i.tick_e8()
                    )));
                }
            }
            Ok(list.len())
        }
        Err(e) => Err(input(e)),
    }
}

// ---------------------------------------------------------------------------------------------
// Binance replay

/// What a replay of hostile lines did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReplaySummary {
    pub events: usize,
    pub line_errors: usize,
    pub book_levels: usize,
}

/// Most lines one call replays (a limit on the loop; inputs are far shorter).
pub const MAX_REPLAY_LINES: usize = 100_000;

/// Decode every line of `data` (`venue::replay::binance::{split_line, decode_json}`) and replay
/// them through a `BinanceReplay` reading from memory, carrying on past refused lines as a
/// tolerant replayer would. `Err(Input)` when no line was accepted and at least one refused.
///
/// Violations: a book side holding more levels than its limit; a level with a price ≤ 0 or a
/// negative quantity in the book.
pub fn binance_lines(data: &[u8]) -> Outcome<ReplaySummary> {
    use venue::replay::binance::{decode_json, split_line, BinanceReplay, ReplayOptions};
    // The stateless decoder on each line.
    for line in data.split(|&b| b == b'\n').take(MAX_REPLAY_LINES) {
        if let Ok((_, json)) = split_line(line) {
            let _ = decode_json(json);
        }
    }
    let opts = ReplayOptions {
        apply_without_snapshot: data.first().is_some_and(|b| b & 1 == 1),
        max_levels_per_side: 64,
        max_line_bytes: 1 << 16,
    };
    let mut replay =
        BinanceReplay::from_reader(Box::new(Cursor::new(data.to_vec())), "fuzz.jsonl", opts);
    let mut s = ReplaySummary::default();
    let mut first_error = None;
    for _ in 0..MAX_REPLAY_LINES {
        match replay.next_event() {
            Ok(Some(_)) => s.events += 1,
            Ok(None) => break,
            Err(e) => {
                s.line_errors += 1;
                first_error.get_or_insert_with(|| e.to_string());
            }
        }
    }
    let book = replay.book();
    for side in [runtime::msg::side::BUY, runtime::msg::side::SELL] {
        let Some(levels) = book.side(side) else {
            return Err(Refusal::Violation(format!("book has no side {side}")));
        };
        if levels.len() > opts.max_levels_per_side {
            return Err(Refusal::Violation(format!(
                "side {side} holds {} levels, limit {}",
                levels.len(),
                opts.max_levels_per_side
            )));
        }
        if let Some((p, q)) = levels.iter().find(|&(p, q)| p <= 0 || q < 0) {
            return Err(Refusal::Violation(format!(
                "side {side} holds level price {p} qty {q}"
            )));
        }
        s.book_levels += levels.len();
    }
    match first_error {
        Some(e) if s.events == 0 => Err(Refusal::Input(e)),
        _ => Ok(s),
    }
}

// ---------------------------------------------------------------------------------------------
// LOBSTER

/// What a LOBSTER replay of hostile files did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LobsterSummary {
    pub messages: usize,
    pub rows: usize,
    pub applied: usize,
    pub refused: usize,
}

/// Most messages one call applies.
pub const MAX_LOBSTER_MESSAGES: usize = 100_000;

/// `data` is a message file and an orderbook file separated by a line `---` (no separator: all
/// messages). Parse both (`venue::replay::lobster::{parse_messages, parse_orderbook}`), start a
/// book from the first row undoing message 0 (`LobsterBook::from_first_row`, or an empty book
/// without rows) and apply every message, carrying on past refused ones.
///
/// Violations: a book holding a level with a price ≤ 0 or a negative size, or more levels than
/// its limit.
pub fn lobster(data: &[u8]) -> Outcome<LobsterSummary> {
    use venue::replay::lobster::{parse_messages, parse_orderbook, LobsterBook};
    let text = std::str::from_utf8(data).map_err(|e| input(format!("not UTF-8: {e}")))?;
    let (msg_text, book_text) = match text.split_once("\n---\n") {
        Some((m, b)) => (m, Some(b)),
        None => (text, None),
    };
    let msgs = parse_messages(msg_text).map_err(input)?;
    let rows = match book_text {
        Some(b) => parse_orderbook(b).map_err(input)?,
        None => Vec::new(),
    };
    const MAX_LEVELS: usize = 64;
    let mut book = match (rows.first(), msgs.first()) {
        (Some(r0), Some(m0)) => LobsterBook::from_first_row(r0, m0, MAX_LEVELS).map_err(input)?,
        _ => LobsterBook::empty(MAX_LEVELS),
    };
    let mut s = LobsterSummary {
        messages: msgs.len(),
        rows: rows.len(),
        ..Default::default()
    };
    for (i, m) in msgs.iter().take(MAX_LOBSTER_MESSAGES).enumerate() {
        match book.apply(m, i + 1) {
            Ok(_) => s.applied += 1,
            Err(_) => s.refused += 1,
        }
    }
    let row = book.row(MAX_LEVELS + 1);
    if row.len() != MAX_LEVELS + 1 {
        return Err(Refusal::Violation(format!("row of {} levels", row.len())));
    }
    for (k, &(ap, asz, bp, bsz)) in row.iter().enumerate() {
        let empty_ask = ap == venue::replay::lobster::EMPTY_ASK && asz == 0;
        let empty_bid = bp == venue::replay::lobster::EMPTY_BID && bsz == 0;
        if k == MAX_LEVELS && !(empty_ask && empty_bid) {
            return Err(Refusal::Violation(format!(
                "book holds more than {MAX_LEVELS} levels"
            )));
        }
        if (!empty_ask && (ap <= 0 || asz < 0)) || (!empty_bid && (bp <= 0 || bsz < 0)) {
            return Err(Refusal::Violation(format!(
                "level {k}: ask {ap}x{asz} bid {bp}x{bsz}"
            )));
        }
    }
    if s.applied == 0 && s.refused > 0 {
        return Err(input(format!("all {} messages refused", s.refused)));
    }
    Ok(s)
}

// ---------------------------------------------------------------------------------------------
// Shared-memory attach

/// The region types the attach entry point targets (small capacities keep files small; the
/// checks are the same for every capacity).
pub type FuzzOrders = Spsc<OrderEvent, 8>;
pub type FuzzSignals = Spsc<Signal, 8>;
pub type FuzzMd = Broadcast<MdEvent, 8>;

/// Which region [`shm_attach`] builds and attaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShmTarget {
    Orders,
    Md,
    Control,
    Signals,
}

/// How [`shm_attach`] turns the input into a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShmMode {
    /// The file is the input bytes.
    Raw,
    /// A valid header for the target, then the input as payload.
    ValidHeader,
    /// A valid file for the target with the input written over the start of its payload
    /// (control fields; for rings, from the producer line on: positions, pids, sequence words).
    PayloadOverlay,
    /// A valid file with `(u16 offset, u8 value)` patches from the input applied anywhere.
    Patches,
}

/// The first byte of a [`shm_attach`] input: target in bits 0-1, mode in bits 2-3.
pub fn shm_selector(target: ShmTarget, mode: ShmMode) -> u8 {
    let t = match target {
        ShmTarget::Orders => 0,
        ShmTarget::Md => 1,
        ShmTarget::Control => 2,
        ShmTarget::Signals => 3,
    };
    let m = match mode {
        ShmMode::Raw => 0,
        ShmMode::ValidHeader => 1,
        ShmMode::PayloadOverlay => 2,
        ShmMode::Patches => 3,
    };
    t | m << 2
}

/// What an attach accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachSummary {
    pub target: ShmTarget,
    /// Messages read through the attached ring (or actor slots read from a control block).
    pub read: u64,
    /// Messages written (or kill switch flips).
    pub written: u64,
}

/// Folder of this process's attach files: `<tmp>/hardening-shm-<pid>/fuzz/`, 0700.
fn fuzz_dir() -> Result<&'static ShmDir, Refusal> {
    static DIR: OnceLock<Result<ShmDir, String>> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = std::env::temp_dir().join(format!("hardening-shm-{}", std::process::id()));
        fs::DirBuilder::new()
            .mode(0o700)
            .recursive(true)
            .create(&base)
            .map_err(|e| format!("creating {}: {e}", base.display()))?;
        ShmDir::create(Some(&base), "fuzz").map_err(|e| e.to_string())
    })
    .as_ref()
    .map_err(|e| Refusal::Violation(format!("cannot set up the fuzz folder: {e}")))
}

/// A file name unique in this process (tests run in parallel threads).
fn unique_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("f{}.shm", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Bytes of a freshly created, valid file for `target` (computed once per process).
pub fn valid_file(target: ShmTarget) -> Result<&'static [u8], Refusal> {
    static FILES: [OnceLock<Result<Vec<u8>, String>>; 4] = [
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
    ];
    let idx = target as usize;
    FILES[idx]
        .get_or_init(|| {
            let dir = fuzz_dir().map_err(|e| format!("{e:?}"))?;
            let name = unique_name();
            let made = match target {
                ShmTarget::Orders => FuzzOrders::create(dir, &name)
                    .map(drop)
                    .map_err(|e| e.to_string()),
                ShmTarget::Signals => FuzzSignals::create(dir, &name)
                    .map(drop)
                    .map_err(|e| e.to_string()),
                ShmTarget::Md => FuzzMd::create(dir, &name)
                    .map(drop)
                    .map_err(|e| e.to_string()),
                ShmTarget::Control => {
                    // The control block's file name is fixed: make it in a folder of its own.
                    let sub = ShmDir::create(Some(dir.path()), "ctl-template")
                        .map_err(|e| e.to_string())?;
                    let cb = ControlBlock::create(
                        &sub,
                        "fuzz",
                        &[
                            ActorSpec::new("feed", "feed", Some(1)),
                            ActorSpec::new("execution", "execution", Some(1)),
                            ActorSpec::new("ui", "ui", Some(0)),
                        ],
                    )
                    .map_err(|e| e.to_string())?;
                    drop(cb);
                    let p = sub.path().join(runtime::control::CONTROL_FILE);
                    let bytes = fs::read(&p).map_err(|e| e.to_string());
                    let _ = sub.remove_all();
                    return bytes;
                }
            };
            made?;
            let p = dir.path().join(&name);
            let bytes = fs::read(&p).map_err(|e| e.to_string());
            let _ = fs::remove_file(&p);
            bytes
        })
        .as_deref()
        .map_err(|e| Refusal::Violation(format!("cannot make a valid {target:?} file: {e}")))
}

/// Write `bytes` as a 0600 file `name` in `dir`.
fn write_private(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf, Refusal> {
    let p = dir.join(name);
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&p)
        .map_err(|e| Refusal::Violation(format!("cannot write {}: {e}", p.display())))?;
    f.write_all(bytes)
        .map_err(|e| Refusal::Violation(format!("cannot write {}: {e}", p.display())))?;
    Ok(p)
}

/// Build the file described by `data` (see [`ShmMode`]).
fn shm_file_bytes(target: ShmTarget, mode: ShmMode, rest: &[u8]) -> Result<Vec<u8>, Refusal> {
    Ok(match mode {
        ShmMode::Raw => rest.to_vec(),
        ShmMode::ValidHeader => {
            let valid = valid_file(target)?;
            let mut v = valid[..HEADER_BYTES].to_vec();
            v.extend_from_slice(rest);
            v
        }
        ShmMode::PayloadOverlay => {
            let mut v = valid_file(target)?.to_vec();
            // Rings: keep their message-type record (the first 128 payload bytes; `ValidHeader`
            // and `Patches` reach it) so the overlay lands on positions, pids and slots.
            let start = HEADER_BYTES + if target == ShmTarget::Control { 0 } else { 128 };
            let n = rest.len().min(v.len() - start);
            v[start..start + n].copy_from_slice(&rest[..n]);
            v
        }
        ShmMode::Patches => {
            let mut v = valid_file(target)?.to_vec();
            let len = v.len();
            for p in rest.chunks_exact(3) {
                let off = u16::from_le_bytes([p[0], p[1]]) as usize;
                // Most patches land in the header or the first payload lines; spread over all.
                let at = if off < HEADER_BYTES + 1024 {
                    off
                } else {
                    off * 7 % len
                };
                if at < len {
                    v[at] = p[2];
                }
            }
            v
        }
    })
}

/// Write the file `data` describes into a private folder (0700, file 0600) and attach to it
/// with the real `attach` of the target type; when that succeeds, take each side and move a
/// bounded number of messages (or read every field of a control block, then kill and re-arm).
///
/// Input: byte 0 selects target and mode ([`shm_selector`]); the rest is the file (or the
/// payload, or patches). Every outcome must be a typed refusal or a working region: a panic or
/// a crash (SIGBUS, SIGSEGV) is the bug this looks for.
pub fn shm_attach(data: &[u8]) -> Outcome<AttachSummary> {
    let Some((&sel, rest)) = data.split_first() else {
        return Err(input("empty input"));
    };
    let target = match sel & 3 {
        0 => ShmTarget::Orders,
        1 => ShmTarget::Md,
        2 => ShmTarget::Control,
        _ => ShmTarget::Signals,
    };
    let mode = match (sel >> 2) & 3 {
        0 => ShmMode::Raw,
        1 => ShmMode::ValidHeader,
        2 => ShmMode::PayloadOverlay,
        _ => ShmMode::Patches,
    };
    let bytes = shm_file_bytes(target, mode, rest)?;
    let dir = fuzz_dir()?;
    match target {
        ShmTarget::Control => {
            // control.shm has a fixed name: one folder per attempt.
            let sub = ShmDir::create(Some(dir.path()), &unique_name().replace(".shm", ".d"))
                .map_err(|e| Refusal::Violation(format!("cannot make a folder: {e}")))?;
            let r = write_private(sub.path(), runtime::control::CONTROL_FILE, &bytes)
                .and_then(|_| exercise_control(&sub));
            let _ = sub.remove_all();
            r
        }
        _ => {
            let name = unique_name();
            let path = write_private(dir.path(), &name, &bytes)?;
            let r = match target {
                ShmTarget::Orders => exercise_spsc::<OrderEvent>(
                    FuzzOrders::attach(dir, &name).map_err(input)?,
                    target,
                ),
                ShmTarget::Signals => {
                    exercise_spsc::<Signal>(FuzzSignals::attach(dir, &name).map_err(input)?, target)
                }
                _ => exercise_broadcast(FuzzMd::attach(dir, &name).map_err(input)?, sel),
            };
            let _ = fs::remove_file(path);
            r
        }
    }
}

fn exercise_control(sub: &ShmDir) -> Outcome<AttachSummary> {
    {
        let cb = ControlBlock::attach(sub).map_err(input)?;
        let mut read = 0u64;
        let _ = cb.engine_name();
        let _ = cb.kill_info();
        let _ = cb.last_rearm();
        let _ = cb.effective_engine_state();
        let _ = cb.order_block();
        let _ = cb.regime();
        let _ = cb.gate();
        let _ = cb.lockdown();
        let _ = cb.venue_latency();
        let _ = cb.oracle_telemetry().try_read();
        let _ = cb.sonar_telemetry().try_read();
        let _ = cb.sentinel_telemetry().try_read();
        let _ = cb.execution_telemetry().try_read();
        let _ = cb.feed_telemetry().try_read();
        if cb.actors().len() > runtime::control::MAX_ACTORS {
            return Err(Refusal::Violation(format!(
                "{} actor slots from a {}-slot block",
                cb.actors().len(),
                runtime::control::MAX_ACTORS
            )));
        }
        for s in cb.actors() {
            let _ = s.snapshot();
            let _ = s.name();
            let _ = s.kind();
            read += 1;
        }
        let _ = cb.find("execution");
        // The kill switch must work on any block we accepted: it is the last line of defence.
        let was_killed = cb.is_killed();
        let mut written = 0;
        if !was_killed {
            cb.kill("hardening", "fuzz");
            written += 1;
        }
        if !cb.is_killed() {
            return Err(Refusal::Violation(
                "kill switch did not latch on an attached control block".into(),
            ));
        }
        if cb.rearm("hardening") {
            written += 1;
        }
        Ok(AttachSummary {
            target: ShmTarget::Control,
            read,
            written,
        })
    }
}

fn exercise_spsc<T>(ring: Spsc<T, 8>, target: ShmTarget) -> Outcome<AttachSummary>
where
    T: runtime::msg::ShmSafe,
{
    let mut read = 0;
    let mut written = 0;
    if let Ok(mut c) = ring.consumer() {
        for _ in 0..16 {
            if c.try_pop().is_some() {
                read += 1;
            }
        }
        read += c.pop_batch(16, |_, _| {}) as u64;
    }
    if let Ok(mut p) = ring.producer() {
        for _ in 0..9 {
            if p.try_push(&T::zeroed()).is_ok() {
                written += 1;
            }
        }
        written += p.push_batch(&[T::zeroed(); 4]) as u64;
    }
    Ok(AttachSummary {
        target,
        read,
        written,
    })
}

fn exercise_broadcast(ring: FuzzMd, sel: u8) -> Outcome<AttachSummary> {
    let mut read = 0;
    let mut written = 0;
    let cursor = (sel >> 4) as usize % (MAX_SUBSCRIBERS + 1);
    if let Ok(mut s) = ring.subscribe(cursor) {
        for _ in 0..24 {
            match s.poll() {
                Recv::Msg { .. } => read += 1,
                Recv::Overrun { .. } | Recv::Empty => {}
            }
        }
        let _ = s.lag();
    }
    if let Ok(mut p) = ring.publisher() {
        for _ in 0..10 {
            p.publish(&MdEvent::default());
            written += 1;
        }
    }
    if let Ok(mut s) = ring.subscribe_latest(cursor) {
        for _ in 0..4 {
            if let Recv::Msg { .. } = s.poll() {
                read += 1;
            }
        }
    }
    Ok(AttachSummary {
        target: ShmTarget::Md,
        read,
        written,
    })
}

// ---------------------------------------------------------------------------------------------
// UI control requests

/// The token the UI entry point's server holds.
pub const UI_TOKEN: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
/// The port the UI entry point's server listens on.
pub const UI_PORT: u16 = 8787;

/// What the UI would let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UiGrant {
    /// A control action (kill, re-arm).
    Control,
    /// A WebSocket upgrade.
    WebSocket,
}

/// Read `data` as a request head: first line `CONTROL` or `WS`, then `name: value` lines.
/// Apply the UI's own rules (`ui::auth`: Host and Origin policy, token from `Authorization:
/// Bearer` or the `token.<hex>` WebSocket subprotocol) as its routes do, with loopback only.
///
/// Violations: a grant without the exact token; a control grant without an Origin equal to
/// `http://<Host>`; a grant for a Host that is not loopback on [`UI_PORT`].
pub fn ui_request(data: &[u8]) -> Outcome<UiGrant> {
    use ui::auth::{bearer, check_token, protocol_token, OriginPolicy, Token};
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split(['\n']).map(|l| l.trim_end_matches('\r'));
    let route = lines.next().unwrap_or("");
    let control = route.trim().eq_ignore_ascii_case("control");
    let mut origin = None;
    let mut host = None;
    let mut authz = None;
    let mut proto = None;
    // Like an HTTP server, the first occurrence of a header wins; at most 64 lines are read.
    for line in lines.take(64) {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let v = v.trim();
        let slot = match k.trim().to_ascii_lowercase().as_str() {
            "origin" => &mut origin,
            "host" => &mut host,
            "authorization" => &mut authz,
            "sec-websocket-protocol" => &mut proto,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(v.to_string());
        }
    }
    let Some(token) = Token::from_hex(UI_TOKEN) else {
        return Err(Refusal::Violation("the fixed token does not parse".into()));
    };
    let policy = OriginPolicy {
        port: UI_PORT,
        allow_remote: false,
        extra_hosts: vec![],
    };
    let (grant, presented) = if control {
        policy
            .check_origin(origin.as_deref(), host.as_deref(), true)
            .map_err(input)?;
        (UiGrant::Control, bearer(authz.as_deref()))
    } else {
        policy
            .check_origin(origin.as_deref(), host.as_deref(), false)
            .map_err(input)?;
        (
            UiGrant::WebSocket,
            protocol_token(proto.as_deref()).or(bearer(authz.as_deref())),
        )
    };
    check_token(&token, presented).map_err(input)?;
    // Granted: check the promises.
    let v = |m: String| Err(Refusal::Violation(m));
    if !presented.is_some_and(|p| p.eq_ignore_ascii_case(UI_TOKEN)) {
        return v(format!("granted with token {presented:?}"));
    }
    let h = host.as_deref().unwrap_or("");
    let h_lower = h.to_ascii_lowercase();
    let loopback_host = [
        format!("127.0.0.1:{UI_PORT}"),
        format!("localhost:{UI_PORT}"),
        format!("[::1]:{UI_PORT}"),
    ];
    let host_ok = loopback_host.contains(&h_lower)
        || h_lower.rsplit_once(':').is_some_and(|(ip, port)| {
            port == UI_PORT.to_string()
                && ip
                    .parse::<std::net::Ipv4Addr>()
                    .is_ok_and(|ip| ip.is_loopback())
        })
        || (UI_PORT == 80 && (h_lower == "localhost" || h_lower == "127.0.0.1"));
    if !host_ok {
        return v(format!("granted for Host {h:?}"));
    }
    if control
        && !origin
            .as_deref()
            .is_some_and(|o| o.eq_ignore_ascii_case(&format!("http://{h}")))
    {
        return v(format!(
            "control granted with Origin {origin:?} for Host {h:?}"
        ));
    }
    Ok(grant)
}
