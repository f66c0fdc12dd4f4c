// The wire protocol between the UI actor (ui/src/frame.rs) and the cockpit.
// ui/README.md documents it; keep the three in step and bump PROTOCOL_VERSION on any
// change a client could misread.

export const PROTOCOL_VERSION = 1;

export type EngineState =
  | 'STARTING'
  | 'RUNNING'
  | 'LOCKDOWN'
  | 'HALTED'
  | 'STOPPING'
  | 'STOPPED'
  | 'UNKNOWN'
  | 'DETACHED';

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
  /** Press received → the watcher saw the last hot actor report HALTED; null while waiting. */
  all_halted_after_ns: number | null;
  /** Press received → the latest time a hot actor recorded seeing the flag (its own clock). */
  last_actor_saw_after_ns: number | null;
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
  /** Processing latency the actor last published (0: none yet). */
  latency_p50_ns: number;
  latency_p99_ns: number;
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
  rtt_samples: number;
  lockdown: boolean;
  /** Why (rtt_over_threshold, ack_timeout, …) while in lockdown, else ''. */
  lockdown_reason: string;
  lockdowns: number;
  outstanding_acks: number;
  oldest_ack_age_ns: number;
  /** What Sentinel last escalated (restart X, halt), or ''. */
  emergency: string;
  emergencies: number;
}

export type Regime = 'ATTACK' | 'VETO' | 'UNKNOWN';

export interface SonarInfo {
  regime: Regime;
  entropy: number;
  gate_open: boolean;
  /** Name of the first zero-trust check that closed the gate, or '' when open. */
  failing_check: string;
  /** Every failing check. */
  failing_checks: string[];
  regime_changes: number;
}

export interface OracleInfo {
  wobi: number;
  strength: number;
  imbalance_pct: number;
  microprice: number;
  best_bid: number;
  best_ask: number;
  /** Per-level imbalance −1…+1, level 0 = top of book; one heatmap column per frame. */
  level_imbalance: number[];
  events: number;
  signals_sent: number;
}

export interface BlockedCounts {
  regime: number;
  gate: number;
  lockdown: number;
  kill: number;
  nev: number;
  rate: number;
  otr: number;
}

export interface FeedInfo {
  connected: boolean;
  md_seq: number;
  events: number;
  gaps: number;
  reconnects: number;
}

export interface ExecutionInfo {
  orders_sent: number;
  fills: number;
  cancels: number;
  rejects: number;
  fill_rate_pct: number;
  cancel_rate_pct: number;
  nev_expected_inr: number;
  nev_realised_inr: number;
  pnl_gross_inr: number;
  pnl_net_inr: number;
  costs_inr: number;
  otr_raw: number;
  /** OTR counting only penalty-relevant orders (exemptions applied): what the slabs apply to. */
  otr_penalty: number;
  otr_budget: number;
  /** Exchange penalty per order at the current penalty-relevant OTR (paise). */
  penalty_paise_per_order: number;
  open_orders: number;
  position: number;
  tick_to_order_last_ns: number;
  blocked: BlockedCounts;
  /** Signals refused as malformed: nonzero means the strategy's tick size disagrees with the venue's. */
  signals_refused: number;
  /** Order intents of user strategy actors (intents stopped by a gate count in `blocked`). */
  intents: IntentCounts;
}

export interface IntentCounts {
  received: number;
  placed: number;
  refused: number;
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
  feed: FeedInfo | null;
  histograms: HistInfo[];
}

/** History a fresh client needs to draw its charts at once (oldest first). */
export interface History {
  /** [wall_ms, rtt_last_ns, rtt_p99_ns] (null: no Sentinel data then) */
  rtt: [number, number | null, number | null][];
  /** [wall_ms, regime, entropy] */
  regime: [number, Regime | null, number | null][];
  /** One column per frame, each `level_imbalance` (null: no Oracle data then). */
  wobi: (number[] | null)[];
  /** [wall_ms, wobi, strength, imbalance_pct] */
  signal: [number, number | null, number | null, number | null][];
  /** [wall_ms, pnl_net_inr, position] */
  pnl: [number, number | null, number | null][];
}

export interface SnapshotFrame extends StateFields {
  type: 'snapshot';
  history: History;
}

export interface UpdateFrame extends StateFields {
  type: 'update';
}

export type Frame = SnapshotFrame | UpdateFrame;
