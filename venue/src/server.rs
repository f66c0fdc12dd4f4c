//! The venue process: [`SimVenue`] behind two loopback TCP listeners (order entry and
//! market data), in one thread with non-blocking sockets. Behaviour on bad input,
//! slow consumers, timeouts and shutdown follows `docs/venue-protocol.md`.
//!
//! In-process use (tests, the supervisor's `venue` subcommand):
//! `let h = server::start(cfg)?; h.order_entry_addr(); h.set_latency(25_000_000, 0); h.stop()?`.

use crate::config::VenueConfig;
use crate::latency::LatencyControl;
use crate::protocol::{
    decode, decode_header, encode, error_code, error_frame, DecodeError, Frame, Heartbeat,
    LogonAck, Logout, PositionReportMsg, HEADER_LEN,
};
use crate::sim::{Request, SessionId, SimVenue, VenueSink};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ServerError {
    #[error(
        "cannot listen on {addr}: {source} (port in use? change `listen` in config/venue.ron)"
    )]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("socket setup: {0}")]
    Io(#[from] std::io::Error),
    #[error("venue setup: {0}")]
    Setup(#[from] crate::sim::SimError),
    #[error("venue thread panicked")]
    Panicked,
}

/// Counters shared with the handle.
#[derive(Debug, Default)]
pub struct ServerCounters {
    pub sessions_opened: AtomicU64,
    pub sessions_closed: AtomicU64,
    pub md_subscribers: AtomicU64,
    pub requests: AtomicU64,
    pub errors_sent: AtomicU64,
    pub md_frames: AtomicU64,
    pub md_drops: AtomicU64,
}

/// Handle on a running venue.
pub struct ServerHandle {
    order_addr: SocketAddr,
    md_addr: SocketAddr,
    latency: LatencyControl,
    stop: Arc<AtomicBool>,
    counters: Arc<ServerCounters>,
    thread: Option<JoinHandle<Result<(), ServerError>>>,
}

impl ServerHandle {
    pub fn order_entry_addr(&self) -> SocketAddr {
        self.order_addr
    }
    pub fn market_data_addr(&self) -> SocketAddr {
        self.md_addr
    }
    /// Change the injected one-way delay and jitter now (ns).
    pub fn set_latency(&self, one_way_ns: u64, jitter_ns: u64) {
        self.latency.set(one_way_ns, jitter_ns);
    }
    /// A clone of the latency settings for another thread (the control-block poller).
    pub fn latency_control(&self) -> LatencyControl {
        self.latency.clone()
    }
    pub fn counters(&self) -> &ServerCounters {
        &self.counters
    }
    /// A flag that stops the venue when set (e.g. from a signal handler thread).
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }
    /// Stop (Error SHUTDOWN + Logout to every session) and wait for the thread.
    pub fn stop(mut self) -> Result<(), ServerError> {
        self.stop.store(true, Ordering::Release);
        self.join()
    }
    /// Wait until the venue stops (via [`Self::stop_flag`]).
    pub fn join(&mut self) -> Result<(), ServerError> {
        match self.thread.take() {
            Some(t) => t.join().map_err(|_| ServerError::Panicked)?,
            None => Ok(()),
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Bind both listeners and run the venue on its own thread.
pub fn start(cfg: VenueConfig) -> Result<ServerHandle, ServerError> {
    let oe = TcpListener::bind(cfg.order_entry_addr).map_err(|source| ServerError::Bind {
        addr: cfg.order_entry_addr,
        source,
    })?;
    let md = TcpListener::bind(cfg.market_data_addr).map_err(|source| ServerError::Bind {
        addr: cfg.market_data_addr,
        source,
    })?;
    oe.set_nonblocking(true)?;
    md.set_nonblocking(true)?;
    let order_addr = oe.local_addr()?;
    let md_addr = md.local_addr()?;
    let offset = crate::wall_clock_ns() as i128 - crate::monotonic_ns() as i128;
    let sim = SimVenue::new(&cfg, offset)
        .map_err(|e| ServerError::Io(std::io::Error::other(e.to_string())))?;
    let latency = sim.latency_control();
    let stop = Arc::new(AtomicBool::new(false));
    let counters = Arc::new(ServerCounters::default());
    let mut server = Server {
        cfg,
        sim,
        oe,
        md,
        conns: Vec::new(),
        subs: Vec::new(),
        stop: stop.clone(),
        counters: counters.clone(),
        next_session_no: 1,
    };
    let thread = std::thread::Builder::new()
        .name("venue".into())
        .spawn(move || server.run())?;
    Ok(ServerHandle {
        order_addr,
        md_addr,
        latency,
        stop,
        counters,
        thread: Some(thread),
    })
}

/// Apply a supervisor control message to a running venue: `SET_LATENCY` (arg0 =
/// one-way ns, arg1 = jitter ns) changes the injected delay. Returns whether the
/// message was for the venue. Call it from the thread that polls the control block.
pub fn apply_control(latency: &LatencyControl, msg: &runtime::msg::Control) -> bool {
    if msg.command == runtime::msg::control_command::SET_LATENCY {
        latency.set(msg.arg0, msg.arg1);
        true
    } else {
        false
    }
}

/// Run the venue on the calling thread until the process ends (the `venue` binary).
pub fn run(cfg: VenueConfig) -> Result<(), ServerError> {
    let mut h = start(cfg)?;
    eprintln!(
        "venue: order entry on {}, market data on {}",
        h.order_entry_addr(),
        h.market_data_addr()
    );
    h.join()
}

const READ_CHUNK: usize = 64 * 1024;
const RBUF: usize = 4 * (HEADER_LEN + crate::protocol::MAX_BODY_LEN);
/// Accepts per listener per loop pass.
const ACCEPTS_PER_PASS: usize = 16;
/// Frames decoded per connection per pass.
const FRAMES_PER_PASS: usize = 4096;
/// Levels per side in a snapshot.
const SNAPSHOT_LEVELS: usize = 2000;

struct Conn {
    stream: TcpStream,
    rbuf: Box<[u8]>,
    rstart: usize,
    rend: usize,
    wbuf: Vec<u8>,
    wpos: usize,
    out_seq: u64,
    session: Option<SessionId>,
    last_recv_ns: u64,
    last_send_ns: u64,
    /// Close once everything queued has been written.
    closing: bool,
    dead: bool,
}

struct Sub {
    stream: TcpStream,
    rbuf: Box<[u8]>,
    rend: usize,
    wbuf: Vec<u8>,
    wpos: usize,
    /// Frames were dropped (slow consumer): snapshots follow once the buffer drains.
    dropped: bool,
    last_send_ns: u64,
    dead: bool,
}

struct Server {
    cfg: VenueConfig,
    sim: SimVenue,
    oe: TcpListener,
    md: TcpListener,
    conns: Vec<Conn>,
    subs: Vec<Sub>,
    stop: Arc<AtomicBool>,
    counters: Arc<ServerCounters>,
    next_session_no: u32,
}

/// Sink that writes the SimVenue's output into connection buffers.
struct Out<'a> {
    conns: &'a mut [Conn],
    subs: &'a mut [Sub],
    limit: usize,
    counters: &'a ServerCounters,
    now_ns: u64,
}

impl VenueSink for Out<'_> {
    fn to_session(&mut self, session: SessionId, frame: &Frame<'static>) {
        if let Some(c) = self
            .conns
            .iter_mut()
            .find(|c| c.session == Some(session) && !c.dead)
        {
            if c.wbuf.len() - c.wpos > self.limit {
                // Slow consumer: the session is closed (its orders cancelled by the caller).
                c.dead = true;
                return;
            }
            c.out_seq += 1;
            encode(frame, c.out_seq, &mut c.wbuf);
            c.last_send_ns = self.now_ns;
        }
    }

    fn market_data(&mut self, _seq: u64, bytes: &[u8]) {
        self.counters.md_frames.fetch_add(1, Ordering::Relaxed);
        for s in self.subs.iter_mut().filter(|s| !s.dead) {
            if s.dropped || s.wbuf.len() - s.wpos + bytes.len() > self.limit {
                if !s.dropped {
                    self.counters.md_drops.fetch_add(1, Ordering::Relaxed);
                }
                s.dropped = true;
                continue;
            }
            s.wbuf.extend_from_slice(bytes);
            s.last_send_ns = self.now_ns;
        }
    }
}

fn flush(stream: &mut TcpStream, wbuf: &mut Vec<u8>, wpos: &mut usize) -> Result<usize, ()> {
    let mut n = 0;
    while *wpos < wbuf.len() {
        match stream.write(&wbuf[*wpos..]) {
            Ok(0) => return Err(()),
            Ok(k) => {
                *wpos += k;
                n += k;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return Err(()),
        }
    }
    if *wpos == wbuf.len() {
        wbuf.clear();
        *wpos = 0;
    } else if *wpos > wbuf.capacity() / 2 {
        wbuf.drain(..*wpos);
        *wpos = 0;
    }
    Ok(n)
}

impl Server {
    fn run(&mut self) -> Result<(), ServerError> {
        let now = crate::monotonic_ns();
        let mut sink = Out {
            conns: &mut self.conns,
            subs: &mut self.subs,
            limit: self.cfg.send_buffer_bytes as usize,
            counters: &self.counters,
            now_ns: now,
        };
        self.sim.start(now, &mut sink);
        let mut idle_passes = 0u32;
        while !self.stop.load(Ordering::Acquire) {
            let now = crate::monotonic_ns();
            let mut work = 0usize;
            work += self.accept(now);
            work += self.read_orders(now);
            work += self.read_subs(now);
            {
                let mut sink = Out {
                    conns: &mut self.conns,
                    subs: &mut self.subs,
                    limit: self.cfg.send_buffer_bytes as usize,
                    counters: &self.counters,
                    now_ns: now,
                };
                let before = self.sim.stats();
                self.sim.advance(now, &mut sink);
                let after = self.sim.stats();
                work += (after.responses - before.responses + after.md_frames - before.md_frames)
                    as usize;
            }
            self.housekeeping(now);
            work += self.write_all(now);
            self.reap(now);
            if work == 0 {
                idle_passes += 1;
                // Spin briefly, then sleep until the next due item (at most 200 µs).
                if idle_passes > 64 {
                    let wait = self
                        .sim
                        .next_due_ns()
                        .map(|t| t.saturating_sub(crate::monotonic_ns()))
                        .unwrap_or(200_000)
                        .clamp(10_000, 200_000);
                    std::thread::sleep(Duration::from_nanos(wait));
                } else {
                    std::thread::yield_now();
                }
            } else {
                idle_passes = 0;
            }
        }
        self.shutdown();
        Ok(())
    }

    fn accept(&mut self, now: u64) -> usize {
        let mut n = 0;
        for _ in 0..ACCEPTS_PER_PASS {
            match self.oe.accept() {
                Ok((stream, _)) => {
                    n += 1;
                    if stream.set_nonblocking(true).is_err() {
                        continue;
                    }
                    let _ = stream.set_nodelay(true);
                    let mut c = Conn {
                        stream,
                        rbuf: vec![0u8; RBUF].into_boxed_slice(),
                        rstart: 0,
                        rend: 0,
                        wbuf: Vec::with_capacity(64 * 1024),
                        wpos: 0,
                        out_seq: 0,
                        session: None,
                        last_recv_ns: now,
                        last_send_ns: now,
                        closing: false,
                        dead: false,
                    };
                    if self.conns.len() >= self.cfg.max_sessions as usize {
                        Self::send_error(
                            &mut c,
                            &self.counters,
                            error_code::TOO_MANY_SESSIONS,
                            0,
                            0,
                            true,
                            "too many sessions",
                        );
                    }
                    self.conns.push(c);
                }
                Err(_) => break,
            }
        }
        for _ in 0..ACCEPTS_PER_PASS {
            match self.md.accept() {
                Ok((stream, _)) => {
                    n += 1;
                    if stream.set_nonblocking(true).is_err() {
                        continue;
                    }
                    let _ = stream.set_nodelay(true);
                    let mut s = Sub {
                        stream,
                        rbuf: vec![0u8; 4096].into_boxed_slice(),
                        rend: 0,
                        wbuf: Vec::with_capacity(256 * 1024),
                        wpos: 0,
                        dropped: false,
                        last_send_ns: now,
                        dead: false,
                    };
                    // A new subscriber starts with a snapshot of every instrument.
                    for iid in self.sim.instrument_ids() {
                        self.sim
                            .snapshot_into(iid, now, SNAPSHOT_LEVELS, &mut s.wbuf);
                    }
                    self.counters.md_subscribers.fetch_add(1, Ordering::Relaxed);
                    self.subs.push(s);
                }
                Err(_) => break,
            }
        }
        n
    }

    fn send_error(
        c: &mut Conn,
        counters: &ServerCounters,
        code: u16,
        frame_type: u8,
        ref_seq: u64,
        closing: bool,
        detail: &str,
    ) {
        c.out_seq += 1;
        encode(
            &error_frame(code, frame_type, ref_seq, closing, detail),
            c.out_seq,
            &mut c.wbuf,
        );
        counters.errors_sent.fetch_add(1, Ordering::Relaxed);
        if closing {
            c.closing = true;
        }
    }

    fn read_orders(&mut self, now: u64) -> usize {
        let mut work = 0;
        for ci in 0..self.conns.len() {
            if self.conns[ci].dead || self.conns[ci].closing {
                continue;
            }
            // Read (bounded).
            {
                let c = &mut self.conns[ci];
                if c.rstart > 0 {
                    c.rbuf.copy_within(c.rstart..c.rend, 0);
                    c.rend -= c.rstart;
                    c.rstart = 0;
                }
                let want = (c.rbuf.len() - c.rend).min(READ_CHUNK);
                if want > 0 {
                    match c.stream.read(&mut c.rbuf[c.rend..c.rend + want]) {
                        Ok(0) => {
                            c.dead = true;
                            continue;
                        }
                        Ok(k) => {
                            c.rend += k;
                            c.last_recv_ns = now;
                            work += 1;
                        }
                        Err(e)
                            if e.kind() == ErrorKind::WouldBlock
                                || e.kind() == ErrorKind::Interrupted => {}
                        Err(_) => {
                            c.dead = true;
                            continue;
                        }
                    }
                }
            }
            // Decode and handle.
            for _ in 0..FRAMES_PER_PASS {
                let c = &mut self.conns[ci];
                if c.rstart >= c.rend || c.closing {
                    break;
                }
                let res = decode(&c.rbuf[c.rstart..c.rend])
                    .map(|(h, f, used)| (h, to_request(&f), used, f_kind(&f)));
                match res {
                    Err(DecodeError::Truncated { .. }) => break,
                    Err(e) => {
                        let skippable = e.frame_skippable();
                        let (t, seq, len) = match decode_header(&c.rbuf[c.rstart..c.rend]) {
                            Ok(h) => (h.msg_type, h.seq, HEADER_LEN + h.body_len as usize),
                            Err(_) => (0, 0, 0),
                        };
                        Self::send_error(
                            c,
                            &self.counters,
                            e.code(),
                            t,
                            seq,
                            !skippable,
                            &e.to_string(),
                        );
                        if skippable && c.rend - c.rstart >= len {
                            c.rstart += len;
                        } else if skippable {
                            // Skippable but its body has not fully arrived: wait for it.
                            break;
                        }
                        if !skippable {
                            break;
                        }
                    }
                    Ok((h, req, used, kind)) => {
                        c.rstart += used;
                        work += 1;
                        self.handle(ci, h.seq, h.msg_type, req, kind, now);
                    }
                }
            }
        }
        work
    }

    fn handle(&mut self, ci: usize, seq: u64, t: u8, req: Option<Request>, kind: Kind, now: u64) {
        let logged_on = self.conns[ci].session.is_some();
        match kind {
            Kind::Logon {
                account,
                stp_id,
                heartbeat_ms,
            } => {
                let c = &mut self.conns[ci];
                if logged_on {
                    Self::send_error(
                        c,
                        &self.counters,
                        error_code::UNEXPECTED,
                        t,
                        seq,
                        false,
                        "already logged on",
                    );
                    return;
                }
                match self.sim.open_session(account, stp_id) {
                    Ok(sid) => {
                        c.session = Some(sid);
                        self.counters
                            .sessions_opened
                            .fetch_add(1, Ordering::Relaxed);
                        let hb = if heartbeat_ms == 0 {
                            (self.cfg.heartbeat_interval_ns / 1_000_000) as u32
                        } else {
                            heartbeat_ms
                        };
                        let ack = LogonAck {
                            session_id: self.next_session_no,
                            heartbeat_ms: hb,
                            venue_time_ns: crate::wall_clock_ns(),
                            instruments: self.cfg.instruments.len() as u32,
                        };
                        self.next_session_no += 1;
                        c.out_seq += 1;
                        encode(&Frame::LogonAck(ack), c.out_seq, &mut c.wbuf);
                        // Then the account's position in each instrument, before anything
                        // else: a client that lost fills with its last session learns them.
                        let venue_ns = crate::wall_clock_ns();
                        for p in self.sim.positions(account) {
                            let report = PositionReportMsg {
                                instrument_id: p.instrument_id,
                                position_e8: p.position_e8,
                                bought_e8: p.bought_e8,
                                sold_e8: p.sold_e8,
                                venue_ns,
                            };
                            c.out_seq += 1;
                            encode(&Frame::PositionReport(report), c.out_seq, &mut c.wbuf);
                        }
                    }
                    Err(e) => {
                        Self::send_error(
                            c,
                            &self.counters,
                            error_code::UNEXPECTED,
                            t,
                            seq,
                            true,
                            &e.to_string(),
                        );
                    }
                }
            }
            Kind::Heartbeat => {}
            Kind::Logout => {
                let c = &mut self.conns[ci];
                c.out_seq += 1;
                encode(&Frame::Logout(Logout { reason: 0 }), c.out_seq, &mut c.wbuf);
                c.closing = true;
                if let Some(sid) = c.session.take() {
                    self.sim.close_session(sid, now);
                    self.counters
                        .sessions_closed
                        .fetch_add(1, Ordering::Relaxed);
                }
            }
            Kind::Request => {
                let c = &mut self.conns[ci];
                let Some(sid) = c.session else {
                    Self::send_error(
                        c,
                        &self.counters,
                        error_code::UNEXPECTED,
                        t,
                        seq,
                        true,
                        "log on first",
                    );
                    return;
                };
                if let Some(r) = req {
                    self.counters.requests.fetch_add(1, Ordering::Relaxed);
                    if self.sim.submit(sid, r, now).is_err() {
                        Self::send_error(
                            c,
                            &self.counters,
                            error_code::SLOW_CONSUMER,
                            t,
                            seq,
                            true,
                            "request queue full",
                        );
                    }
                }
            }
            Kind::VenueOnly => {
                let c = &mut self.conns[ci];
                let closing = !logged_on;
                Self::send_error(
                    c,
                    &self.counters,
                    error_code::UNEXPECTED,
                    t,
                    seq,
                    closing,
                    "frame type not accepted from clients",
                );
            }
        }
    }

    fn read_subs(&mut self, now: u64) -> usize {
        let mut work = 0;
        for si in 0..self.subs.len() {
            let s = &mut self.subs[si];
            if s.dead {
                continue;
            }
            let want = s.rbuf.len() - s.rend;
            match s.stream.read(&mut s.rbuf[s.rend..s.rend + want]) {
                Ok(0) => {
                    s.dead = true;
                    continue;
                }
                Ok(k) => {
                    s.rend += k;
                    work += 1;
                }
                Err(e)
                    if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted => {}
                Err(_) => {
                    s.dead = true;
                    continue;
                }
            }
            let mut off = 0;
            let mut requests: [u32; 8] = [u32::MAX; 8];
            let mut nreq = 0;
            while off < s.rend {
                match decode(&s.rbuf[off..s.rend]) {
                    Ok((_, f, used)) => {
                        off += used;
                        if let Frame::SnapshotRequest(r) = f {
                            if nreq < requests.len() {
                                requests[nreq] = r.instrument_id;
                                nreq += 1;
                            }
                        }
                    }
                    Err(DecodeError::Truncated { .. }) => break,
                    Err(e) => {
                        // Market data is one-way: a subscriber sending garbage is closed.
                        encode(
                            &error_frame(e.code(), 0, 0, true, &e.to_string()),
                            0,
                            &mut s.wbuf,
                        );
                        self.counters.errors_sent.fetch_add(1, Ordering::Relaxed);
                        s.dead = true;
                        off = s.rend;
                        break;
                    }
                }
            }
            s.rbuf.copy_within(off..s.rend, 0);
            s.rend -= off;
            for &iid in &requests[..nreq] {
                let ids = if iid == 0 {
                    self.sim.instrument_ids()
                } else {
                    vec![iid]
                };
                for id in ids {
                    let s = &mut self.subs[si];
                    self.sim
                        .snapshot_into(id, now, SNAPSHOT_LEVELS, &mut s.wbuf);
                }
            }
        }
        work
    }

    fn housekeeping(&mut self, now: u64) {
        let hb = self.cfg.heartbeat_interval_ns;
        let timeout = self.cfg.session_timeout_ns;
        for c in self.conns.iter_mut().filter(|c| !c.dead && !c.closing) {
            if now.saturating_sub(c.last_recv_ns) > timeout {
                Self::send_error(
                    c,
                    &self.counters,
                    error_code::TIMEOUT,
                    0,
                    0,
                    true,
                    "no frame within the session timeout",
                );
                continue;
            }
            if now.saturating_sub(c.last_send_ns) >= hb {
                c.out_seq += 1;
                encode(
                    &Frame::Heartbeat(Heartbeat { send_ns: now }),
                    c.out_seq,
                    &mut c.wbuf,
                );
                c.last_send_ns = now;
            }
        }
        let released = self.sim.md_released_seq();
        for s in self.subs.iter_mut().filter(|s| !s.dead) {
            if s.dropped && s.wbuf.len() - s.wpos < self.cfg.send_buffer_bytes as usize / 2 {
                // Resynchronise a slow subscriber: fresh snapshots at the released sequence.
                for iid in self.sim.instrument_ids() {
                    self.sim
                        .snapshot_into(iid, now, SNAPSHOT_LEVELS, &mut s.wbuf);
                }
                s.dropped = false;
                s.last_send_ns = now;
            }
            if now.saturating_sub(s.last_send_ns) >= hb {
                encode(
                    &Frame::Heartbeat(Heartbeat { send_ns: now }),
                    released,
                    &mut s.wbuf,
                );
                s.last_send_ns = now;
            }
        }
    }

    fn write_all(&mut self, _now: u64) -> usize {
        let mut n = 0;
        for c in self.conns.iter_mut().filter(|c| !c.dead) {
            match flush(&mut c.stream, &mut c.wbuf, &mut c.wpos) {
                Ok(k) => n += k,
                Err(()) => c.dead = true,
            }
            if c.closing && c.wpos == c.wbuf.len() {
                let _ = c.stream.shutdown(std::net::Shutdown::Both);
                c.dead = true;
            }
        }
        for s in self.subs.iter_mut().filter(|s| !s.dead) {
            match flush(&mut s.stream, &mut s.wbuf, &mut s.wpos) {
                Ok(k) => n += k,
                Err(()) => s.dead = true,
            }
        }
        n
    }

    fn reap(&mut self, now: u64) {
        let mut i = 0;
        while i < self.conns.len() {
            if self.conns[i].dead {
                let c = self.conns.swap_remove(i);
                if let Some(sid) = c.session {
                    self.sim.close_session(sid, now);
                    self.counters
                        .sessions_closed
                        .fetch_add(1, Ordering::Relaxed);
                }
            } else {
                i += 1;
            }
        }
        self.subs.retain(|s| !s.dead);
    }

    fn shutdown(&mut self) {
        for c in self.conns.iter_mut().filter(|c| !c.dead) {
            Self::send_error(
                c,
                &self.counters,
                error_code::SHUTDOWN,
                0,
                0,
                true,
                "venue shutting down",
            );
            c.out_seq += 1;
            encode(
                &Frame::Logout(Logout {
                    reason: error_code::SHUTDOWN,
                }),
                c.out_seq,
                &mut c.wbuf,
            );
        }
        // Bounded attempt to deliver the goodbyes.
        for _ in 0..100 {
            let mut pending = false;
            for c in self.conns.iter_mut().filter(|c| !c.dead) {
                if flush(&mut c.stream, &mut c.wbuf, &mut c.wpos).is_err() {
                    c.dead = true;
                }
                pending |= c.wpos < c.wbuf.len();
            }
            if !pending {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let now = crate::monotonic_ns();
        for c in self.conns.drain(..) {
            let _ = c.stream.shutdown(std::net::Shutdown::Both);
            if let Some(sid) = c.session {
                self.sim.close_session(sid, now);
            }
        }
        self.subs.clear();
    }
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Logon {
        account: u32,
        stp_id: u64,
        heartbeat_ms: u32,
    },
    Heartbeat,
    Logout,
    Request,
    VenueOnly,
}

fn f_kind(f: &Frame<'_>) -> Kind {
    match f {
        Frame::Logon(l) => Kind::Logon {
            account: l.account,
            stp_id: l.stp_id,
            heartbeat_ms: l.heartbeat_ms,
        },
        Frame::Heartbeat(_) => Kind::Heartbeat,
        Frame::Logout(_) => Kind::Logout,
        Frame::NewOrder(_) | Frame::CancelOrder(_) | Frame::ModifyOrder(_) => Kind::Request,
        // Error from a client: accepted silently (it is informational); others are venue-only.
        Frame::Error(_) => Kind::Heartbeat,
        _ => Kind::VenueOnly,
    }
}

fn to_request(f: &Frame<'_>) -> Option<Request> {
    match f {
        Frame::NewOrder(m) => Some(Request::New(*m)),
        Frame::CancelOrder(m) => Some(Request::Cancel(*m)),
        Frame::ModifyOrder(m) => Some(Request::Modify(*m)),
        _ => None,
    }
}
