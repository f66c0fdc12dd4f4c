// Frame handling: a pure, bounded model of what the server has told us.
//
// Rules (tested in store.test.ts):
// - The first frame of a connection must be a snapshot; updates before it are ignored.
// - A snapshot replaces everything, history included.
// - Updates carry the latest full state; an update with seq <= the last seen is stale and
//   ignored; seq > last + 1 is a gap: the missed frames are counted and a break is drawn in
//   every time series (no line across missing data), then the update is applied.
// - A frame whose version differs from PROTOCOL_VERSION stops the model: the cockpit cannot
//   know what the fields mean, so it shows an error instead of guessing.
// - Every history is a fixed-capacity ring, so memory does not grow with session length.

import { Ring } from './ring';
import {
  PROTOCOL_VERSION,
  type Frame,
  type Regime,
  type StateFields,
} from './protocol';

export const RTT_POINTS = 1200; // 60 s at 20 Hz
export const SIGNAL_POINTS = 1200;
export const REGIME_POINTS = 1200;
export const WOBI_COLUMNS = 300; // 15 s at 20 Hz, one column per frame
export const WOBI_LEVELS = 8;

export type Outcome =
  | { kind: 'snapshot' }
  | { kind: 'update' }
  | { kind: 'gap'; missed: number }
  | { kind: 'ignored'; reason: 'before-snapshot' | 'stale' }
  | { kind: 'version'; got: unknown }
  | { kind: 'malformed'; error: string };

/** [x (wall s), y1, y2] with nulls where data is missing. */
export type Point3 = [number, number | null, number | null];
export type Point4 = [number, number | null, number | null, number | null];

export class FrameStore {
  latest: StateFields | null = null;
  lastSeq = -1;
  snapshots = 0;
  updates = 0;
  missedFrames = 0;
  ignoredFrames = 0;
  malformedFrames = 0;
  versionError: string | null = null;
  /** Bumped on every accepted frame; React subscribes to it. */
  revision = 0;

  readonly rtt = new Ring<Point3>(RTT_POINTS);
  readonly signal = new Ring<Point4>(SIGNAL_POINTS);
  readonly regime = new Ring<[number, Regime | null]>(REGIME_POINTS);
  readonly entropy = new Ring<[number, number | null]>(REGIME_POINTS);
  /** [x, net PnL INR, position] */
  readonly pnl = new Ring<Point3>(RTT_POINTS);
  /** One column per frame; null = no data for that frame (gap or no Oracle). */
  readonly wobi = new Ring<number[] | null>(WOBI_COLUMNS);

  /** Parse and apply one message as received from the socket. */
  acceptText(text: string): Outcome {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      this.malformedFrames += 1;
      return { kind: 'malformed', error: `not JSON: ${(e as Error).message}` };
    }
    return this.accept(parsed);
  }

  accept(raw: unknown): Outcome {
    if (this.versionError !== null) {
      return { kind: 'version', got: (raw as { version?: unknown })?.version };
    }
    if (typeof raw !== 'object' || raw === null) {
      this.malformedFrames += 1;
      return { kind: 'malformed', error: 'frame is not an object' };
    }
    const f = raw as Partial<Frame>;
    if (f.version !== PROTOCOL_VERSION) {
      this.versionError =
        `server speaks protocol version ${String(f.version)}, this cockpit expects ` +
        `${PROTOCOL_VERSION}: reload the page (the server may have been upgraded)`;
      return { kind: 'version', got: f.version };
    }
    if ((f.type !== 'snapshot' && f.type !== 'update') || typeof f.seq !== 'number') {
      this.malformedFrames += 1;
      return { kind: 'malformed', error: `bad type/seq: ${String(f.type)}/${String(f.seq)}` };
    }
    const frame = raw as Frame;
    if (frame.type === 'snapshot') {
      this.applySnapshot(frame);
      return { kind: 'snapshot' };
    }
    if (this.lastSeq < 0) {
      this.ignoredFrames += 1;
      return { kind: 'ignored', reason: 'before-snapshot' };
    }
    if (frame.seq <= this.lastSeq) {
      this.ignoredFrames += 1;
      return { kind: 'ignored', reason: 'stale' };
    }
    const missed = frame.seq - this.lastSeq - 1;
    if (missed > 0) {
      this.missedFrames += missed;
      this.insertBreak(frame.wall_ms / 1000, missed);
    }
    this.applyUpdate(frame);
    return missed > 0 ? { kind: 'gap', missed } : { kind: 'update' };
  }

  /** A new connection starts: forget the sequence (the next frame must be a snapshot). */
  resetConnection(): void {
    this.lastSeq = -1;
  }

  private applySnapshot(f: Frame & { type: 'snapshot' }): void {
    this.rtt.clear();
    this.signal.clear();
    this.regime.clear();
    this.entropy.clear();
    this.pnl.clear();
    this.wobi.clear();
    const h = f.history;
    for (const [t, last, p99] of h?.rtt ?? []) this.rtt.push([t / 1000, last, p99]);
    for (const [t, w, s, imb] of h?.signal ?? []) this.signal.push([t / 1000, w, s, imb]);
    for (const [t, r, ent] of h?.regime ?? []) {
      this.regime.push([t / 1000, r]);
      this.entropy.push([t / 1000, ent]);
    }
    for (const [t, p, pos] of h?.pnl ?? []) this.pnl.push([t / 1000, p, pos]);
    for (const col of h?.wobi ?? []) this.wobi.push(col);
    this.latest = f;
    this.lastSeq = f.seq;
    this.snapshots += 1;
    this.revision += 1;
  }

  private applyUpdate(f: Frame): void {
    const t = f.wall_ms / 1000;
    const s = f.sentinel;
    this.rtt.push([t, s ? s.rtt_last_ns : null, s ? s.rtt_p99_ns : null]);
    const o = f.oracle;
    this.signal.push([t, o ? o.wobi : null, o ? o.strength : null, o ? o.imbalance_pct : null]);
    this.regime.push([t, f.sonar ? f.sonar.regime : null]);
    this.entropy.push([t, f.sonar ? f.sonar.entropy : null]);
    const e = f.execution;
    this.pnl.push([t, e ? e.pnl_net_inr : null, e ? e.position : null]);
    this.wobi.push(o ? o.level_imbalance.slice(0, WOBI_LEVELS) : null);
    this.latest = f;
    this.lastSeq = f.seq;
    this.updates += 1;
    this.revision += 1;
  }

  private insertBreak(t: number, missed: number): void {
    const prev = this.rtt.last();
    const bt = prev ? (prev[0] + t) / 2 : t - 0.001;
    this.rtt.push([bt, null, null]);
    this.signal.push([bt, null, null, null]);
    this.regime.push([bt, null]);
    this.entropy.push([bt, null]);
    this.pnl.push([bt, null, null]);
    for (let i = 0; i < Math.min(missed, WOBI_COLUMNS); i++) this.wobi.push(null);
  }
}
