import { useState } from 'react';
import { HistChart } from '../charts/HistChart';
import { fmtCount, fmtNs } from '../format';
import type { StateFields } from '../protocol';
import { Panel } from './common';

/** Latency histograms: every stage's percentiles, and plots of tick-to-order, RTT and one chosen stage. */
export function LatencyPanel({ s, revision }: { s: StateFields | null; revision: number }) {
  const hs = s?.histograms ?? [];
  const procStages = hs.filter((h) => h.stage.endsWith('_proc'));
  const [chosen, setChosen] = useState<string | null>(null);
  const third = hs.find((h) => h.stage === chosen) ?? procStages[0];
  const plots = [hs.find((h) => h.stage === 'tick_to_order'), hs.find((h) => h.stage === 'rtt'), third];
  return (
    <Panel title="Sentinel · latency" className="latency" testId="panel-latency">
      <div className="table-wrap hist-wrap">
      <table className="grid-table hist-table" data-testid="hist-table">
        <thead>
          <tr>
            <th className="l">stage</th>
            <th>count</th>
            <th>p50</th>
            <th>p99</th>
            <th>p99.9</th>
            <th>max</th>
          </tr>
        </thead>
        <tbody>
          {hs.map((h) => (
            <tr
              key={h.stage}
              className={h.stage === third?.stage ? 'chosen' : ''}
              onClick={() => setChosen(h.stage)}
              title="click to plot"
            >
              <td className="l name">{h.label}</td>
              <td>{fmtCount(h.count)}</td>
              <td>{fmtNs(h.count ? h.p50_ns : null)}</td>
              <td>{fmtNs(h.count ? h.p99_ns : null)}</td>
              <td>{fmtNs(h.count ? h.p999_ns : null)}</td>
              <td>{fmtNs(h.count ? h.max_ns : null)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      </div>
      <div className="hist-grid">
        {plots.map((h, i) => (
          <div className="hist-cell" key={i}>
            <div className="chart-title">{h ? h.label : '—'}</div>
            <div className="chart-box hist-box">
              <HistChart hist={h} revision={revision} />
            </div>
          </div>
        ))}
      </div>
    </Panel>
  );
}
