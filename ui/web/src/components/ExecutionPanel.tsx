import { PnlChart } from '../charts/PnlChart';
import { fmtCount, fmtFixed, fmtInr, fmtNs, fmtPct } from '../format';
import type { FrameStore } from '../store';
import { OTR_SLABS, otrScale } from '../otr';
import type { ExecutionInfo, StateFields } from '../protocol';
import { Badge, Panel, Stat } from './common';

function OtrGauge({ e }: { e: ExecutionInfo | null }) {
  const otr = e?.otr_penalty ?? 0;
  const budget = e?.otr_budget ?? 0;
  return (
    <div className="otr" data-testid="otr">
      <div className="otr-bar">
        {OTR_SLABS.map((s, i) => (
          <div
            key={i}
            className={`otr-slab slab-${i}`}
            title={`OTR ${s.from}–${Number.isFinite(s.to) ? s.to : '∞'}: ${s.paise} paise per order`}
          >
            <span>{s.paise === 0 ? 'nil' : `${s.paise}p`}</span>
          </div>
        ))}
        {budget > 0 && <div className="otr-budget" style={{ left: `${otrScale(budget) * 100}%` }} title={`budget ${budget}`} />}
        {e && <div className="otr-mark" style={{ left: `${otrScale(otr) * 100}%` }} title={`OTR ${otr.toFixed(2)}`} />}
      </div>
      <div className="otr-ticks">
        {[0, 50, 250, 500, 1000, 2000].map((t) => (
          <span key={t} style={{ left: `${otrScale(t) * 100}%` }}>
            {t}
          </span>
        ))}
      </div>
    </div>
  );
}

const BLOCKS: [keyof ExecutionInfo['blocked'], string][] = [
  ['regime', 'regime'],
  ['gate', 'gate'],
  ['lockdown', 'lockdn'],
  ['kill', 'kill'],
  ['nev', 'NEV'],
  ['rate', 'rate'],
  ['otr', 'OTR'],
];

/** Refused for what was asked rather than by a gate: nonzero means a strategy is misconfigured. */
const REFUSED: [string, string, string, (e: ExecutionInfo) => number][] = [
  [
    'intent',
    'intent',
    "intents of user strategy actors refused for what they ask (malformed, unsupported, stale, no touch, marketable, unknown order)",
    (e) => e.intents.refused,
  ],
  [
    'signal',
    'signal',
    "signals refused as malformed (a touch off the instrument's tick, or a strength outside −1 … 1)",
    (e) => e.signals_refused,
  ],
];

export function ExecutionPanel({ store, s, revision }: { store: FrameStore; s: StateFields | null; revision: number }) {
  const e = s?.execution ?? null;
  const overBudget = e ? e.otr_budget > 0 && e.otr_penalty > e.otr_budget : false;
  const tone = (x: number | undefined) => (x === undefined ? undefined : x > 0 ? 'good' : x < 0 ? 'bad' : undefined);
  return (
    <Panel
      title="Execution"
      className="execution"
      testId="panel-execution"
      badge={
        <Badge tone={e ? (e.open_orders > 0 ? 'good' : 'muted') : 'muted'}>
          {e ? `${fmtCount(e.open_orders)} open` : 'NO DATA'}
        </Badge>
      }
    >
      <div className="stat-grid">
        <Stat label="NEV expected" value={fmtInr(e?.nev_expected_inr, { sign: true })} w={12} tone={tone(e?.nev_expected_inr)} />
        <Stat label="NEV realised" value={fmtInr(e?.nev_realised_inr, { sign: true })} w={12} tone={tone(e?.nev_realised_inr)} />
        <Stat label="tick → order" value={fmtNs(e?.tick_to_order_last_ns || null)} w={9} />
        <Stat label="fill rate" value={fmtPct(e?.fill_rate_pct)} w={8} testId="fill-rate" />
        <Stat label="cancel rate" value={fmtPct(e?.cancel_rate_pct)} w={8} />
        <Stat label="rejects" value={fmtCount(e?.rejects)} w={8} />
        <Stat label="orders sent" value={fmtCount(e?.orders_sent)} w={9} testId="orders-sent" />
        <Stat label="fills" value={fmtCount(e?.fills)} w={9} />
        <Stat label="cancels" value={fmtCount(e?.cancels)} w={9} />
        <Stat label="open orders" value={fmtCount(e?.open_orders)} w={9} testId="open-orders" />
        <Stat label="position" value={fmtFixed(e?.position, 4)} w={11} testId="position" />
        <Stat
          label="intents"
          value={e ? `${fmtCount(e.intents.placed)} of ${fmtCount(e.intents.received)}` : '—'}
          w={11}
          testId="intents"
          title="order intents of user strategy actors (intent.ring): placed as orders, of those received"
        />
      </div>
      <div className="subhead">PnL</div>
      <div className="pnl">
        <div className="pnl-row">
          <span>gross</span>
          <span className={`num ${tone(e?.pnl_gross_inr) ?? ''}`}>{fmtInr(e?.pnl_gross_inr, { sign: true })}</span>
        </div>
        <div className="pnl-row">
          <span>taxes &amp; fees</span>
          <span className="num bad">{e ? fmtInr(-Math.abs(e.costs_inr)) : '—'}</span>
        </div>
        <div className="pnl-row total">
          <span>net after taxes &amp; fees</span>
          <span className={`num ${tone(e?.pnl_net_inr) ?? ''}`} data-testid="pnl-net">
            {fmtInr(e?.pnl_net_inr, { sign: true })}
          </span>
        </div>
      </div>
      <div className="chart-box pnl-box">
        <PnlChart store={store} revision={revision} />
      </div>
      <div className="subhead">
        Order-to-trade ratio
        <span className={`otr-value ${overBudget ? 'bad' : ''}`} data-testid="otr-value">
          {fmtFixed(e?.otr_penalty, 2)}
          <span className="muted"> / budget {fmtFixed(e?.otr_budget, 0)} · raw {fmtFixed(e?.otr_raw, 2)}</span>
        </span>
      </div>
      <OtrGauge e={e} />
      <div className="otr-note">
        penalty slab now:{' '}
        <b className={e && e.penalty_paise_per_order > 0 ? 'bad' : 'good'}>
          {e ? (e.penalty_paise_per_order > 0 ? `${e.penalty_paise_per_order} paise / order` : 'nil') : '—'}
        </b>
      </div>
      <div className="subhead">Orders not placed, by first reason</div>
      <div className="blocked" data-testid="blocked">
        {BLOCKS.map(([k, label]) => (
          <span key={k} className="blk" title={`refused first by ${k}`}>
            <i>{label}</i>
            <b>{fmtCount(e?.blocked[k])}</b>
          </span>
        ))}
        {REFUSED.map(([id, label, title, n]) => {
          const v = e ? n(e) : undefined;
          return (
            <span key={id} className="blk" title={title} data-testid={`refused-${id}`}>
              <i>{label}</i>
              <b className={v ? 'bad' : undefined}>{fmtCount(v)}</b>
            </span>
          );
        })}
      </div>
    </Panel>
  );
}
