import { RegimeStrip } from '../charts/RegimeStrip';
import { fmtFixed } from '../format';
import type { StateFields } from '../protocol';
import type { FrameStore } from '../store';
import { Panel, Stat } from './common';

export function SonarPanel({ store, s, revision }: { store: FrameStore; s: StateFields | null; revision: number }) {
  const so = s?.sonar ?? null;
  const regime = so?.regime ?? 'UNKNOWN';
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
          <div className="gate-check" title={so?.failing_check}>
            {so ? (so.gate_open ? 'all checks pass' : `failing: ${so.failing_check || 'unnamed check'}`) : ' '}
          </div>
        </div>
        <Stat label="entropy" value={fmtFixed(so?.entropy, 3)} w={6} testId="entropy" />
      </div>
      <div className="chart-title">
        regime history (60 s) <span className="legend attack">Attack</span> <span className="legend veto">Veto</span>
      </div>
      <RegimeStrip store={store} revision={revision} />
    </Panel>
  );
}
