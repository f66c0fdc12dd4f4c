// The wire protocol between the UI actor (ui/src/frame.rs) and the cockpit.
// ui/README.md documents it; keep the three in step and bump PROTOCOL_VERSION on any
// change a client could misread.

export const PROTOCOL_VERSION = 1;

export type EngineState = 'STARTING' | 'RUNNING' | 'LOCKDOWN' | 'HALTED' | 'STOPPED' | 'DETACHED';

export interface KillInfo {
  set: boolean;
  by: string;
  reason: string;
  /** Monotonic ns when the flag was written (0 if unknown). */
  at_ns: number;
}

/** The UI actor's own measurement of the last kill it wrote: press received → every hot actor HALTED. */
export interface KillLatency {
  /** Monotonic ns when the UI actor received the press. */
  received_ns: number;
  /** Press received → flag written. */
  flag_written_after_ns: number;
  /** Press received → last hot actor reported HALTED; null while still waiting. */
  all_halted_after_ns: number | null;
  /** Hot actors still not HALTED (names), empty once done. */
  waiting_for: string[];
  /** True when the watch gave up (bounded wait) before every actor halted. */
  timed_out: boolean;
}

export interface EngineInfo {
  name: string;
  state: EngineState;
  /** Why the UI actor cannot see the engine (shared memory missing, header mismatch), or ''. */
  detail: string;
  kill: KillInfo;
  kill_latency: KillLatency | null;
  uptime_ns: number;
}

export interface ActorRow {
  index: number;
  name: string;
  kind: string;
  pid: number;
  /** Configured core (-1: not pinned). */
  core: number;
  /** Core the process last ran on, from /proc/<pid>/stat (-1: unknown). */
  last_cpu: number;
  state: string;
  restarts: number;
  heartbeat_age_ms: number;
  ctx_voluntary: number;
  ctx_nonvoluntary: number;
  /** CPU time used over the last sample interval, percent of one core. */
  cpu_pct: number;
  msgs_in: number;
  msgs_out: number;
}

export interface CoreRow {
  core: number;
  /** Busy time over the last sample interval, percent. */
  busy_pct: number;
}

export interface SentinelInfo {
  rtt_last_ns: number;
  rtt_p50_ns: number;
  rtt_p99_ns: number;
  rtt_threshold_ns: number;
  lockdown: boolean;
  /** What Sentinel last escalated (restart X, halt), or ''. */
  emergency: string;
  emergencies: number;
}

export type Regime = 'ATTACK' | 'VETO' | 'UNKNOWN';

export interface SonarInfo {
  regime: Regime;
  entropy: number;
  gate_open: boolean;
  /** Name of the zero-trust check that closed the gate, or '' when open. */
  failing_check: string;
}

export interface OracleInfo {
  wobi: number;
  strength: number;
  imbalance_pct: number;
  microprice: number;
  /** Per-level imbalance −1…+1, level 0 = top of book; one heatmap column per frame. */
  level_imbalance: number[];
}

export interface ExecutionInfo {
  orders_sent: number;
  fills: number;
  cancels: number;
  fill_rate_pct: number;
  cancel_rate_pct: number;
  nev_expected_inr: number;
  nev_realised_inr: number;
  pnl_gross_inr: number;
  pnl_net_inr: number;
  costs_inr: number;
  otr: number;
  otr_budget: number;
  /** Penalty (INR) the current OTR slab would cost, 0 under the first slab. */
  otr_penalty_inr: number;
  open_orders: number;
  position: number;
}

export interface HistBucket {
  /** Upper edge of the bucket (ns, inclusive). */
  le_ns: number;
  /** Samples in this bucket (not cumulative). */
  count: number;
}

export interface HistInfo {
  stage: string;
  label: string;
  count: number;
  min_ns: number;
  p50_ns: number;
  p99_ns: number;
  p999_ns: number;
  max_ns: number;
  buckets: HistBucket[];
}

export interface StateFields {
  version: number;
  seq: number;
  /** Server monotonic ns when the frame was sampled. */
  server_ns: number;
  /** Server wall clock, ms since the Unix epoch: the x axis of every time series. */
  wall_ms: number;
  engine: EngineInfo;
  actors: ActorRow[];
  cores: CoreRow[];
  sentinel: SentinelInfo | null;
  sonar: SonarInfo | null;
  oracle: OracleInfo | null;
  execution: ExecutionInfo | null;
  histograms: HistInfo[];
}

/** History a fresh client needs to draw its charts at once (oldest first). */
export interface History {
  /** [wall_ms, rtt_last_ns, rtt_p99_ns] */
  rtt: [number, number, number][];
  /** [wall_ms, regime] */
  regime: [number, Regime][];
  /** One column per frame, each `level_imbalance`. */
  wobi: number[][];
  /** [wall_ms, wobi, strength, imbalance_pct] */
  signal: [number, number, number, number][];
}

export interface SnapshotFrame extends StateFields {
  type: 'snapshot';
  history: History;
}

export interface UpdateFrame extends StateFields {
  type: 'update';
}

export type Frame = SnapshotFrame | UpdateFrame;
