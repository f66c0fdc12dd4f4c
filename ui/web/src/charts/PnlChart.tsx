import { useCallback } from 'react';
import uPlot from 'uplot';
import { fmtInr } from '../format';
import type { FrameStore } from '../store';
import { clock } from './axes';
import { axis, UPlotChart } from './UPlotChart';

/** Net PnL (after taxes and fees) over time, with a zero line. */
export function PnlChart({ store, revision }: { store: FrameStore; revision: number }) {
  const data = useCallback((): uPlot.AlignedData => {
    const pts = store.pnl.toArray();
    return [pts.map((p) => p[0]), pts.map((p) => p[1])];
  }, [store]);
  const makeOpts = useCallback(
    (width: number, height: number): uPlot.Options => ({
      width,
      height,
      legend: { show: false },
      cursor: { show: false },
      scales: {
        x: { time: true },
        // symmetric around zero so the sign reads at a glance
        y: { range: (_u, min, max) => { const m = Math.max(1, Math.abs(min ?? 0), Math.abs(max ?? 0)) * 1.1; return [-m, m]; } },
      },
      axes: [
        axis({ space: 80, values: (_u, vals) => vals.map((v) => (v == null ? '' : clock(v))) }),
        axis({ size: 70, values: (_u, vals) => vals.map((v) => (v == null ? '' : fmtInr(v).replace('.00', ''))) }),
      ],
      series: [{}, { label: 'net PnL', stroke: '#4cc9f0', width: 1.25, fill: 'rgba(76,201,240,0.08)', points: { show: false } }],
      hooks: {
        draw: [
          (u: uPlot) => {
            const y = u.valToPos(0, 'y', true);
            u.ctx.save();
            u.ctx.strokeStyle = 'rgba(215,221,232,0.35)';
            u.ctx.lineWidth = devicePixelRatio;
            u.ctx.beginPath();
            u.ctx.moveTo(u.bbox.left, y);
            u.ctx.lineTo(u.bbox.left + u.bbox.width, y);
            u.ctx.stroke();
            u.ctx.restore();
          },
        ],
      },
    }),
    [],
  );
  return <UPlotChart makeOpts={makeOpts} data={data} revision={revision} testId="pnl-chart" />;
}
