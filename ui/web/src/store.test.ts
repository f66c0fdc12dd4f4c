import { describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION, type Frame, type StateFields } from './protocol';
import { FrameStore, WOBI_COLUMNS } from './store';

function state(seq: number, over: Partial<StateFields> = {}): StateFields {
  return {
    version: PROTOCOL_VERSION,
    seq,
    server_ns: seq * 50_000_000,
    wall_ms: 1_700_000_000_000 + seq * 50,
    engine: {
      name: 'test',
      state: 'RUNNING',
      detail: '',
      kill: { set: false, by: '', reason: '', at_ns: 0 },
      kill_latency: null,
      uptime_ns: 0,
    },
    actors: [],
    cores: [],
    sentinel: {
      rtt_last_ns: 1000 * seq,
      rtt_p50_ns: 900,
      rtt_p99_ns: 5000,
      rtt_threshold_ns: 20_000_000,
      rtt_samples: seq,
      lockdown: false,
      lockdown_reason: '',
      lockdowns: 0,
      outstanding_acks: 0,
      oldest_ack_age_ns: 0,
      emergency: '',
      emergencies: 0,
    },
    sonar: {
      regime: 'ATTACK',
      entropy: 0.5,
      gate_open: true,
      failing_check: '',
      failing_checks: [],
      regime_changes: 0,
    },
    oracle: {
      wobi: 0.1,
      strength: 0.2,
      imbalance_pct: 10,
      microprice: 100,
      best_bid: 99.5,
      best_ask: 100.5,
      level_imbalance: [seq, 0, 0, 0, 0, 0, 0, 0],
      events: seq,
      signals_sent: 0,
    },
    execution: null,
    feed: null,
    histograms: [],
    ...over,
  };
}

function snapshot(seq: number, rttHistory: number[] = []): Frame {
  return {
    ...state(seq),
    type: 'snapshot',
    history: {
      rtt: rttHistory.map((ns, i) => [1_700_000_000_000 + i * 50, ns, ns * 2]),
      regime: [],
      wobi: rttHistory.map(() => [1, 1, 1, 1, 1, 1, 1, 1]),
      signal: [],
      pnl: [],
    },
  };
}

function update(seq: number, over: Partial<StateFields> = {}): Frame {
  return { ...state(seq, over), type: 'update' };
}

describe('snapshot then updates', () => {
  it('ignores updates until the first snapshot', () => {
    const s = new FrameStore();
    expect(s.accept(update(3))).toEqual({ kind: 'ignored', reason: 'before-snapshot' });
    expect(s.latest).toBeNull();
    expect(s.ignoredFrames).toBe(1);
  });

  it('a snapshot seeds the history and updates append one point each', () => {
    const s = new FrameStore();
    expect(s.accept(snapshot(10, [111, 222]))).toEqual({ kind: 'snapshot' });
    expect(s.rtt.length).toBe(2);
    expect(s.rtt.at(0)).toEqual([1_700_000_000, 111, 222]);
    expect(s.accept(update(11))).toEqual({ kind: 'update' });
    expect(s.accept(update(12))).toEqual({ kind: 'update' });
    expect(s.rtt.length).toBe(4);
    // update 12: rtt_last_ns = 1000 × 12, p99 = 5000, x = wall seconds
    expect(s.rtt.last()).toEqual([1_700_000_000.6, 12_000, 5000]);
    expect(s.wobi.length).toBe(4);
    expect(s.wobi.last()).toEqual([12, 0, 0, 0, 0, 0, 0, 0]);
    expect(s.latest?.seq).toBe(12);
    expect(s.missedFrames).toBe(0);
  });

  it('a second snapshot replaces the history instead of appending to it', () => {
    const s = new FrameStore();
    s.accept(snapshot(1, [1, 2, 3]));
    s.accept(update(2));
    s.accept(snapshot(100, [7]));
    expect(s.rtt.length).toBe(1);
    expect(s.rtt.at(0)?.[1]).toBe(7);
    expect(s.snapshots).toBe(2);
    expect(s.accept(update(101))).toEqual({ kind: 'update' });
  });

  it('after a reconnect the next frame must be a snapshot again', () => {
    const s = new FrameStore();
    s.accept(snapshot(1));
    s.resetConnection();
    expect(s.accept(update(2))).toEqual({ kind: 'ignored', reason: 'before-snapshot' });
  });
});

describe('sequence gaps', () => {
  it('counts the missed frames and breaks every series before applying the update', () => {
    const s = new FrameStore();
    s.accept(snapshot(1));
    s.accept(update(2));
    const before = s.rtt.length; // 1 (from update 2)
    expect(s.accept(update(6))).toEqual({ kind: 'gap', missed: 3 });
    expect(s.missedFrames).toBe(3);
    // one break point then the new point
    expect(s.rtt.length).toBe(before + 2);
    const brk = s.rtt.at(before)!;
    expect(brk[1]).toBeNull();
    expect(brk[2]).toBeNull();
    // break x lies between update 2 (…000.1 s) and update 6 (…000.3 s)
    expect(brk[0]).toBeCloseTo(1_700_000_000.2, 6);
    // the heatmap gets one empty column per missed frame, then the new column
    expect(s.wobi.toArray().slice(-4)).toEqual([null, null, null, [6, 0, 0, 0, 0, 0, 0, 0]]);
    expect(s.latest?.seq).toBe(6);
  });

  it('a gap longer than the heatmap fills it with empty columns, never more', () => {
    const s = new FrameStore();
    s.accept(snapshot(1));
    s.accept(update(1_000_000));
    expect(s.wobi.length).toBe(WOBI_COLUMNS);
    expect(s.wobi.at(0)).toBeNull();
  });

  it('drops stale and duplicate updates', () => {
    const s = new FrameStore();
    s.accept(snapshot(5));
    s.accept(update(6));
    expect(s.accept(update(6))).toEqual({ kind: 'ignored', reason: 'stale' });
    expect(s.accept(update(4))).toEqual({ kind: 'ignored', reason: 'stale' });
    expect(s.latest?.seq).toBe(6);
    expect(s.ignoredFrames).toBe(2);
  });
});

describe('version and malformed frames', () => {
  it('stops at a version it does not know and says what to do', () => {
    const s = new FrameStore();
    s.accept(snapshot(1));
    const bad = { ...update(2), version: PROTOCOL_VERSION + 1 };
    expect(s.accept(bad)).toEqual({ kind: 'version', got: PROTOCOL_VERSION + 1 });
    expect(s.versionError).toMatch(/reload/);
    // the model is frozen: even a valid update is refused afterwards
    expect(s.accept(update(3)).kind).toBe('version');
    expect(s.latest?.seq).toBe(1);
  });

  it('counts text that is not JSON or lacks type/seq, without changing state', () => {
    const s = new FrameStore();
    s.accept(snapshot(1));
    expect(s.acceptText('{not json').kind).toBe('malformed');
    expect(s.acceptText(JSON.stringify({ version: PROTOCOL_VERSION, type: 'bogus', seq: 2 })).kind).toBe(
      'malformed',
    );
    expect(s.acceptText('42').kind).toBe('malformed'); // not an object: junk, not a new protocol
    expect(s.malformedFrames).toBe(3);
    expect(s.versionError).toBeNull();
    expect(s.latest?.seq).toBe(1);
  });

  it('a frame without an Oracle section leaves an empty heatmap column', () => {
    const s = new FrameStore();
    s.accept(snapshot(1));
    s.accept(update(2, { oracle: null, sentinel: null }));
    expect(s.wobi.last()).toBeNull();
    expect(s.rtt.last()).toEqual([1_700_000_000.1, null, null]);
  });
});
