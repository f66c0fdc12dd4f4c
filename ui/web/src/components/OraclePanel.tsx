import { Heatmap } from '../charts/Heatmap';
import { SignalChart } from '../charts/SignalChart';
import { fmtFixed, fmtPct, fmtSigned } from '../format';
import type { StateFields } from '../protocol';
import type { FrameStore } from '../store';
import { WOBI_LEVELS } from '../store';
import { Badge, Panel, Stat } from './common';

export function OraclePanel({ store, s, revision }: { store: FrameStore; s: StateFields | null; revision: number }) {
  const o = s?.oracle ?? null;
  const side = !o ? 'muted' : o.strength > 0.05 ? 'good' : o.strength < -0.05 ? 'bad' : 'muted';
  return (
    <Panel
      title="Oracle"
      className="oracle"
      testId="panel-oracle"
      badge={<Badge tone={side}>{!o ? 'NO DATA' : o.strength > 0.05 ? 'BID PRESSURE' : o.strength < -0.05 ? 'ASK PRESSURE' : 'BALANCED'}</Badge>}
    >
      <div className="stats-row">
        <Stat label="WOBI" value={fmtSigned(o?.wobi)} w={7} testId="wobi" />
        <Stat label="strength" value={fmtSigned(o?.strength)} w={7} testId="strength" />
        <Stat label="liq. imbalance" value={fmtPct(o?.imbalance_pct, { sign: true })} w={8} testId="imbalance" />
        <Stat label="microprice" value={fmtFixed(o?.microprice, 2)} w={11} title={o ? `bid ${fmtFixed(o.best_bid, 2)} · ask ${fmtFixed(o.best_ask, 2)}` : undefined} />
      </div>
      <div className="chart-title">
        WOBI heatmap · levels × time <span className="scale-key"><i className="neg" /> asks heavy <i className="pos" /> bids heavy</span>
      </div>
      <div className="heat-wrap">
        <div className="heat-axis">
          {Array.from({ length: WOBI_LEVELS }, (_, i) => (
            <span key={i}>L{i + 1}</span>
          ))}
        </div>
        <Heatmap store={store} revision={revision} />
      </div>
      <div className="chart-title">
        <span className="legend wobi">WOBI</span> <span className="legend strength">strength</span>
      </div>
      <div className="chart-box signal-box">
        <SignalChart store={store} revision={revision} />
      </div>
    </Panel>
  );
}
