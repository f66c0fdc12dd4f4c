//! Non-blocking clients for the venue: [`OrderClient`] (order entry, used by the
//! Execution actor) and [`MdClient`] (market data, used by the Feed actor).
//!
//! Both wrap a std `TcpStream` in non-blocking mode with bounded buffers, for use
//! inside an actor's own poll loop: `send_*` writes the bytes at once (what the kernel
//! does not take is kept and flushed on the next call), `poll` reads what is there and
//! hands decoded frames to a closure. No async runtime, no allocation after connect.

use crate::protocol::{
    decode, encode, error_code, CancelOrderMsg, DecodeError, ErrorFrame, Frame, Header, Heartbeat,
    Logon, LogonAck, Logout, ModifyOrderMsg, NewOrderMsg, PositionReportMsg, SnapshotRequestMsg,
    HEADER_LEN, MAX_BODY_LEN,
};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ClientError {
    #[error("cannot connect to the venue at {addr}: {source} (is the venue running? see config/venue.ron `listen`)")]
    Connect {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("socket error: {0}")]
    Io(#[from] std::io::Error),
    #[error("the venue closed the connection")]
    Closed,
    #[error("undecodable frame from the venue: {0}")]
    Decode(DecodeError),
    #[error("send buffer full ({pending} bytes unsent): the venue is not reading")]
    SendBufferFull { pending: usize },
    #[error("no LogonAck within {0} ms")]
    LogonTimeout(u64),
    #[error("the venue sent {got} of its {expected} position reports within {timeout_ms} ms of the logon")]
    PositionsTimeout {
        got: usize,
        expected: u32,
        timeout_ms: u64,
    },
    #[error("the venue's LogonAck announces {0} instruments; a client takes at most {max}", max = POSITIONS_MAX)]
    TooManyInstruments(u32),
    #[error("venue error {code}: {detail}")]
    Venue { code: u16, detail: String },
}

/// Buffer sizes and timeouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientConfig {
    /// Read buffer; at least one maximum frame.
    pub read_buf_bytes: usize,
    /// Unsent bytes allowed before `send_*` fails.
    pub write_buf_bytes: usize,
    pub connect_timeout_ms: u64,
    /// Heartbeat after this long without sending.
    pub heartbeat_interval_ms: u64,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            read_buf_bytes: 1 << 20,
            write_buf_bytes: 1 << 20,
            connect_timeout_ms: 2_000,
            heartbeat_interval_ms: 1_000,
        }
    }
}

/// What a send did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendInfo {
    /// Sequence number of the frame.
    pub seq: u64,
    /// Clock reading right after the write call returned (tick-to-order end point).
    pub written_ns: u64,
    /// Whether every byte reached the kernel (false: the rest goes out on the next call).
    pub flushed: bool,
}

/// A framed non-blocking connection.
struct Conn {
    stream: TcpStream,
    rbuf: Box<[u8]>,
    rstart: usize,
    rend: usize,
    wbuf: Vec<u8>,
    wpos: usize,
    wlimit: usize,
    out_seq: u64,
    clock: fn() -> u64,
    last_send_ns: u64,
    heartbeat_ns: u64,
    closed: bool,
    skipped_frames: u64,
}

impl Conn {
    fn connect(
        addr: SocketAddr,
        cfg: &ClientConfig,
        clock: fn() -> u64,
    ) -> Result<Conn, ClientError> {
        let stream =
            TcpStream::connect_timeout(&addr, Duration::from_millis(cfg.connect_timeout_ms))
                .map_err(|source| ClientError::Connect { addr, source })?;
        stream.set_nodelay(true)?;
        stream.set_nonblocking(true)?;
        Ok(Conn {
            stream,
            rbuf: vec![0u8; cfg.read_buf_bytes.max(4 * (HEADER_LEN + MAX_BODY_LEN))]
                .into_boxed_slice(),
            rstart: 0,
            rend: 0,
            wbuf: Vec::with_capacity(cfg.write_buf_bytes),
            wpos: 0,
            wlimit: cfg.write_buf_bytes,
            out_seq: 0,
            clock,
            last_send_ns: clock(),
            heartbeat_ns: cfg.heartbeat_interval_ms * 1_000_000,
            closed: false,
            skipped_frames: 0,
        })
    }

    fn send(&mut self, f: &Frame<'_>) -> Result<SendInfo, ClientError> {
        self.queue(f)?;
        self.send_queued()
    }

    /// Encode `f` behind the bytes not yet written, without writing; returns its sequence
    /// number.
    fn queue(&mut self, f: &Frame<'_>) -> Result<u64, ClientError> {
        if self.closed {
            return Err(ClientError::Closed);
        }
        if self.wpos == self.wbuf.len() {
            self.wbuf.clear();
            self.wpos = 0;
        }
        let pending = self.wbuf.len() - self.wpos;
        if pending + HEADER_LEN + 64 > self.wlimit {
            return Err(ClientError::SendBufferFull { pending });
        }
        self.out_seq += 1;
        encode(f, self.out_seq, &mut self.wbuf);
        Ok(self.out_seq)
    }

    /// Write what is queued (one `write` call when the socket takes it all).
    fn send_queued(&mut self) -> Result<SendInfo, ClientError> {
        if self.closed {
            return Err(ClientError::Closed);
        }
        let flushed = self.flush()?;
        let written_ns = (self.clock)();
        self.last_send_ns = written_ns;
        Ok(SendInfo {
            seq: self.out_seq,
            written_ns,
            flushed,
        })
    }

    /// Write pending bytes; true when none remain.
    fn flush(&mut self) -> Result<bool, ClientError> {
        while self.wpos < self.wbuf.len() {
            match self.stream.write(&self.wbuf[self.wpos..]) {
                Ok(0) => {
                    self.closed = true;
                    return Err(ClientError::Closed);
                }
                Ok(n) => self.wpos += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.closed = true;
                    return Err(e.into());
                }
            }
        }
        self.wbuf.clear();
        self.wpos = 0;
        Ok(true)
    }

    /// Read what is available (bounded by the buffer).
    fn fill(&mut self) -> Result<usize, ClientError> {
        if self.rstart > 0 && (self.rstart == self.rend || self.rend > self.rbuf.len() / 2) {
            self.rbuf.copy_within(self.rstart..self.rend, 0);
            self.rend -= self.rstart;
            self.rstart = 0;
        }
        let mut total = 0;
        while self.rend < self.rbuf.len() {
            match self.stream.read(&mut self.rbuf[self.rend..]) {
                Ok(0) => {
                    self.closed = true;
                    if total == 0 && self.rstart == self.rend {
                        return Err(ClientError::Closed);
                    }
                    break;
                }
                Ok(n) => {
                    self.rend += n;
                    total += n;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.closed = true;
                    return Err(e.into());
                }
            }
        }
        Ok(total)
    }

    /// Flush, read, and hand up to `max_frames` decoded frames to `f`.
    fn poll<F: FnMut(&Header, &Frame<'_>)>(
        &mut self,
        max_frames: usize,
        mut f: F,
    ) -> Result<usize, ClientError> {
        if !self.closed {
            self.flush()?;
            self.fill()?;
        }
        let mut n = 0;
        while n < max_frames && self.rstart < self.rend {
            match decode(&self.rbuf[self.rstart..self.rend]) {
                Ok((h, frame, used)) => {
                    self.rstart += used;
                    n += 1;
                    f(&h, &frame);
                }
                Err(DecodeError::Truncated { .. }) => break,
                Err(e) if e.frame_skippable() => {
                    // Boundaries intact: skip this frame by its length (see the protocol document).
                    let len = crate::protocol::decode_header(&self.rbuf[self.rstart..self.rend])
                        .map(|h| HEADER_LEN + h.body_len as usize)
                        .unwrap_or(HEADER_LEN);
                    if self.rend - self.rstart < len {
                        break;
                    }
                    self.rstart += len;
                    self.skipped_frames += 1;
                }
                Err(e) => {
                    self.closed = true;
                    return Err(ClientError::Decode(e));
                }
            }
        }
        if n == 0 && self.closed && self.rstart == self.rend {
            return Err(ClientError::Closed);
        }
        Ok(n)
    }

    fn maintain(&mut self) -> Result<(), ClientError> {
        let now = (self.clock)();
        if now.saturating_sub(self.last_send_ns) >= self.heartbeat_ns {
            self.send(&Frame::Heartbeat(Heartbeat { send_ns: now }))?;
        }
        Ok(())
    }
}

fn venue_error(e: &ErrorFrame) -> ClientError {
    ClientError::Venue {
        code: e.code,
        detail: runtime::msg::get_str(&e.detail),
    }
}

/// Position reports an order-entry client accepts after its logon (one per instrument).
pub const POSITIONS_MAX: usize = 4_096;

/// Order-entry session.
pub struct OrderClient {
    conn: Conn,
    ack: LogonAck,
    positions: Vec<PositionReportMsg>,
}

impl OrderClient {
    /// Connect and log on (blocks until LogonAck, at most `connect_timeout_ms`).
    pub fn connect(
        addr: SocketAddr,
        logon: Logon,
        cfg: ClientConfig,
    ) -> Result<OrderClient, ClientError> {
        Self::connect_with_clock(addr, logon, cfg, crate::monotonic_ns)
    }

    /// As [`Self::connect`], stamping sends with `clock` (the actor's monotonic clock).
    pub fn connect_with_clock(
        addr: SocketAddr,
        logon: Logon,
        cfg: ClientConfig,
        clock: fn() -> u64,
    ) -> Result<OrderClient, ClientError> {
        let mut conn = Conn::connect(addr, &cfg, clock)?;
        conn.send(&Frame::Logon(logon))?;
        let deadline = std::time::Instant::now() + Duration::from_millis(cfg.connect_timeout_ms);
        let mut ack: Option<Result<LogonAck, ClientError>> = None;
        while ack.is_none() {
            if std::time::Instant::now() > deadline {
                return Err(ClientError::LogonTimeout(cfg.connect_timeout_ms));
            }
            conn.poll(1, |_, f| match f {
                Frame::LogonAck(a) => ack = Some(Ok(*a)),
                Frame::Error(e) => ack = Some(Err(venue_error(e))),
                _ => {}
            })?;
            if ack.is_none() {
                std::thread::sleep(Duration::from_micros(200));
            }
        }
        let ack = ack.unwrap_or(Err(ClientError::Closed))?;
        // The venue follows LogonAck with one PositionReport per instrument, before anything
        // else: the session is not handed out until the account's position is known.
        if ack.instruments as usize > POSITIONS_MAX {
            return Err(ClientError::TooManyInstruments(ack.instruments));
        }
        let mut positions = Vec::with_capacity(ack.instruments as usize);
        let mut failed: Option<ClientError> = None;
        while positions.len() < ack.instruments as usize {
            if std::time::Instant::now() > deadline {
                return Err(ClientError::PositionsTimeout {
                    got: positions.len(),
                    expected: ack.instruments,
                    timeout_ms: cfg.connect_timeout_ms,
                });
            }
            let n = conn.poll(1, |_, f| match f {
                Frame::PositionReport(p) => positions.push(*p),
                Frame::Error(e) => failed = Some(venue_error(e)),
                _ => {}
            })?;
            if let Some(e) = failed {
                return Err(e);
            }
            if n == 0 {
                std::thread::sleep(Duration::from_micros(200));
            }
        }
        Ok(OrderClient {
            conn,
            ack,
            positions,
        })
    }

    pub fn logon_ack(&self) -> LogonAck {
        self.ack
    }

    /// The account's position in each instrument as the venue reported it at logon (every
    /// fill of every earlier session, delivered or not), in the venue's instrument order.
    pub fn logon_positions(&self) -> &[PositionReportMsg] {
        &self.positions
    }

    /// Send a new order now; `send_ns` is stamped from the clock.
    pub fn send_new_order(&mut self, mut m: NewOrderMsg) -> Result<SendInfo, ClientError> {
        m.send_ns = (self.conn.clock)();
        self.conn.send(&Frame::NewOrder(m))
    }

    /// Send a cancel now (with anything queued before it).
    pub fn send_cancel(&mut self, m: CancelOrderMsg) -> Result<SendInfo, ClientError> {
        self.queue_cancel(m)?;
        self.send_queued()
    }

    /// Send a modification now (with anything queued before it).
    pub fn send_modify(&mut self, m: ModifyOrderMsg) -> Result<SendInfo, ClientError> {
        self.queue_modify(m)?;
        self.send_queued()
    }

    /// Queue a cancel without writing it: it leaves with the next send or
    /// [`Self::send_queued`], in order, in the same `write` call (one system call for a cancel
    /// and the order that replaces it). Returns the frame's sequence number.
    pub fn queue_cancel(&mut self, mut m: CancelOrderMsg) -> Result<u64, ClientError> {
        m.send_ns = (self.conn.clock)();
        self.conn.queue(&Frame::CancelOrder(m))
    }

    /// Queue a modification without writing it (see [`Self::queue_cancel`]).
    pub fn queue_modify(&mut self, mut m: ModifyOrderMsg) -> Result<u64, ClientError> {
        m.send_ns = (self.conn.clock)();
        self.conn.queue(&Frame::ModifyOrder(m))
    }

    /// Write every queued frame now. `written_ns` is when the write call returned; `seq` is
    /// the last frame's sequence number.
    pub fn send_queued(&mut self) -> Result<SendInfo, ClientError> {
        self.conn.send_queued()
    }

    /// Bytes queued or partly written and not yet accepted by the kernel.
    pub fn unwritten_bytes(&self) -> usize {
        self.conn.wbuf.len() - self.conn.wpos
    }

    pub fn send_logout(&mut self) -> Result<SendInfo, ClientError> {
        self.conn.send(&Frame::Logout(Logout { reason: 0 }))
    }

    /// Send raw bytes (tests of the venue's error handling).
    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        self.conn.wbuf.extend_from_slice(bytes);
        self.conn.flush().map(|_| ())
    }

    /// Flush, read, decode: up to `max_frames` frames to `f`. `Err(Closed)` once the
    /// venue has closed and everything it sent has been handed out.
    pub fn poll<F: FnMut(&Header, &Frame<'_>)>(
        &mut self,
        max_frames: usize,
        f: F,
    ) -> Result<usize, ClientError> {
        self.conn.poll(max_frames, f)
    }

    /// Heartbeat when idle; call every loop pass.
    pub fn maintain(&mut self) -> Result<(), ClientError> {
        self.conn.maintain()
    }

    /// Frames skipped as unknown or invalid (forward compatibility).
    pub fn skipped_frames(&self) -> u64 {
        self.conn.skipped_frames
    }
}

/// Market-data subscriber.
pub struct MdClient {
    conn: Conn,
}

impl MdClient {
    /// Connect; the venue starts with a Snapshot of every instrument.
    pub fn connect(addr: SocketAddr, cfg: ClientConfig) -> Result<MdClient, ClientError> {
        Ok(MdClient {
            conn: Conn::connect(addr, &cfg, crate::monotonic_ns)?,
        })
    }

    pub fn connect_with_clock(
        addr: SocketAddr,
        cfg: ClientConfig,
        clock: fn() -> u64,
    ) -> Result<MdClient, ClientError> {
        Ok(MdClient {
            conn: Conn::connect(addr, &cfg, clock)?,
        })
    }

    /// Ask for a snapshot (0 = every instrument): after a gap the Feed asks this.
    pub fn request_snapshot(&mut self, instrument_id: u32) -> Result<SendInfo, ClientError> {
        self.conn.send(&Frame::SnapshotRequest(SnapshotRequestMsg {
            instrument_id,
        }))
    }

    /// Read and decode up to `max_frames` frames; the caller stamps `recv_ns`.
    pub fn poll<F: FnMut(&Header, &Frame<'_>)>(
        &mut self,
        max_frames: usize,
        f: F,
    ) -> Result<usize, ClientError> {
        self.conn.poll(max_frames, f)
    }

    pub fn maintain(&mut self) -> Result<(), ClientError> {
        self.conn.maintain()
    }

    pub fn skipped_frames(&self) -> u64 {
        self.conn.skipped_frames
    }
}

/// Is this Error frame one after which the venue closes?
pub fn is_closing(e: &ErrorFrame) -> bool {
    e.closing || matches!(e.code, error_code::SHUTDOWN | error_code::TIMEOUT)
}
