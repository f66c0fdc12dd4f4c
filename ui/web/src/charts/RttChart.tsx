import { useCallback } from 'react';
import uPlot from 'uplot';
import { fmtNs } from '../format';
import { clock, decades, nsTick } from './axes';
import type { FrameStore } from '../store';
import { axis, FONT, UPlotChart } from './UPlotChart';

const Y_MIN_NS = 1_000; // 1 µs
const Y_MAX_NS = 200_000_000; // 200 ms: the 20 ms lockdown line always sits in view

/** RTT over time, log scale, with the lockdown threshold drawn as a line. */
export function RttChart({ store, revision }: { store: FrameStore; revision: number }) {
  const data = useCallback((): uPlot.AlignedData => {
    const pts = store.rtt.toArray();
    const xs = new Array<number>(pts.length);
    const last = new Array<number | null>(pts.length);
    const p99 = new Array<number | null>(pts.length);
    for (let i = 0; i < pts.length; i++) {
      const [x, a, b] = pts[i];
      xs[i] = x;
      // log scale: clamp into the visible band so a 0 or an outlier stays drawable
      last[i] = a === null ? null : Math.min(Y_MAX_NS, Math.max(Y_MIN_NS, a));
      p99[i] = b === null ? null : Math.min(Y_MAX_NS, Math.max(Y_MIN_NS, b));
    }
    return [xs, last, p99];
  }, [store]);

  const makeOpts = useCallback(
    (width: number, height: number): uPlot.Options => ({
      width,
      height,
      legend: { show: false },
      cursor: { show: true, drag: { x: false, y: false } },
      scales: {
        x: { time: true },
        y: { distr: 3, log: 10, range: [Y_MIN_NS, Y_MAX_NS] },
      },
      axes: [
        axis({ space: 80, values: (_u, vals) => vals.map((v) => (v == null ? '' : clock(v))) }),
        axis({
          size: 56,
          splits: () => decades(Y_MIN_NS, Y_MAX_NS),
          values: (_u, vals) => vals.map((v) => (v == null ? '' : nsTick(v))),
        }),
      ],
      series: [
        {},
        { label: 'RTT', stroke: '#4cc9f0', width: 1.25, spanGaps: false, points: { show: false } },
        { label: 'RTT p99', stroke: '#f4a261', width: 1, dash: [4, 3], spanGaps: false, points: { show: false } },
      ],
      hooks: {
        draw: [
          (u: uPlot) => {
            const threshold = store.latest?.sentinel?.rtt_threshold_ns || 20_000_000;
            const y = u.valToPos(threshold, 'y', true);
            const ctx = u.ctx;
            ctx.save();
            ctx.strokeStyle = '#ef476f';
            ctx.lineWidth = 1.5 * devicePixelRatio;
            ctx.setLineDash([6 * devicePixelRatio, 4 * devicePixelRatio]);
            ctx.beginPath();
            ctx.moveTo(u.bbox.left, y);
            ctx.lineTo(u.bbox.left + u.bbox.width, y);
            ctx.stroke();
            ctx.setLineDash([]);
            ctx.fillStyle = '#ef476f';
            ctx.font = FONT.replace('11px', `${11 * devicePixelRatio}px`);
            ctx.textAlign = 'right';
            ctx.fillText(`lockdown ${fmtNs(threshold)}`, u.bbox.left + u.bbox.width - 4, y - 4 * devicePixelRatio);
            ctx.restore();
          },
        ],
      },
    }),
    [store],
  );

  return <UPlotChart makeOpts={makeOpts} data={data} revision={revision} testId="rtt-chart" />;
}
