import { EntropyChart } from '../charts/EntropyChart';
import { RegimeStrip } from '../charts/RegimeStrip';
import { fmtCount, fmtFixed } from '../format';
import type { StateFields } from '../protocol';
import type { FrameStore } from '../store';
import { Panel, Stat } from './common';

export function SonarPanel({ store, s, revision }: { store: FrameStore; s: StateFields | null; revision: number }) {
  const so = s?.sonar ?? null;
  const regime = so?.regime ?? 'UNKNOWN';
  const feed = s?.feed ?? null;
  return (
    <Panel title="Sonar" className="sonar" testId="panel-sonar">
      <div className="sonar-top">
        <div className={`regime regime-${regime.toLowerCase()}`} data-testid="regime">
          <div className="regime-label">regime</div>
          <div className="regime-value">{so ? regime : '—'}</div>
        </div>
        <div className={`gate ${so ? (so.gate_open ? 'open' : 'closed') : ''}`} data-testid="gate">
          <div className="regime-label">zero-trust gate</div>
          <div className="gate-value">{so ? (so.gate_open ? 'OPEN' : 'CLOSED') : '—'}</div>
          <div className="gate-check" title={so?.failing_checks.join(', ')} data-testid="gate-check">
            {so ? (so.gate_open ? 'all checks pass' : `failing: ${so.failing_check || 'unnamed check'}`) : ' '}
            {so && so.failing_checks.length > 1 ? ` +${so.failing_checks.length - 1}` : ''}
          </div>
        </div>
        <Stat label="entropy" value={fmtFixed(so?.entropy, 3)} w={6} testId="entropy" />
      </div>
      <div className="chart-title">
        regime history (60 s) <span className="legend attack">Attack</span> <span className="legend veto">Veto</span>
      </div>
      <RegimeStrip store={store} revision={revision} />
      <div className="chart-title">
        <span className="legend entropy">entropy</span>
      </div>
      <div className="chart-box entropy-box">
        <EntropyChart store={store} revision={revision} />
      </div>
      <div className="stats-row">
        <Stat label="changes" value={fmtCount(so?.regime_changes)} w={7} />
        <Stat
          label="feed"
          value={feed ? (feed.connected ? 'UP' : 'DOWN') : '—'}
          tone={feed ? (feed.connected ? 'good' : 'bad') : undefined}
          w={10}
        />
        <Stat label="md events" value={fmtCount(feed?.events)} w={10} testId="md-events" />
        <Stat label="feed gaps" value={fmtCount(feed?.gaps)} w={6} tone={feed && feed.gaps > 0 ? 'warn' : undefined} />
        <Stat label="reconn." value={fmtCount(feed?.reconnects)} w={6} />
      </div>
    </Panel>
  );
}
