import { useCallback, useRef } from 'react';
import uPlot from 'uplot';
import type { HistInfo } from '../protocol';
import { decades, nsTick, thin } from './axes';
import { axis, FONT, UPlotChart } from './UPlotChart';

const bars = uPlot.paths.bars!({ size: [0.85, 40], align: 0 });

/** One latency histogram: bucket counts on log axes, with p50 / p99 / p99.9 marked. */
export function HistChart({ hist, revision }: { hist: HistInfo | undefined; revision: number }) {
  const data = useCallback((): uPlot.AlignedData => {
    const b = hist?.buckets ?? [];
    return [b.map((x) => x.le_ns), b.map((x) => (x.count > 0 ? x.count : null))];
  }, [hist]);

  const histRef = useRef(hist);
  const makeOpts = useCallback(
    (width: number, height: number): uPlot.Options => ({
      width,
      height,
      legend: { show: false },
      cursor: { show: false },
      scales: {
        x: {
          time: false,
          distr: 3,
          log: 10,
          // The decades around the data (at least three), so bars are wide enough to read.
          range: () => xRange(histRef.current),
        },
        y: { distr: 3, log: 10, range: (_u, _min, max) => [1, Math.max(10, 10 ** Math.ceil(Math.log10(Math.max(1, max ?? 1)) + 0.01))] },
      },
      axes: [
        axis({
          space: 30,
          splits: (u) => thin(decades(u.scales.x.min ?? 100, u.scales.x.max ?? 1e10), u.bbox.width / devicePixelRatio),
          values: (_u, vals) => vals.map((v) => (v == null ? '' : nsTick(v))),
        }),
        axis({
          size: 36,
          splits: (u) => decades(1, u.scales.y.max ?? 10),
          values: (_u, vals) => vals.map((v) => (v == null ? '' : compact(v))),
        }),
      ],
      series: [{}, { label: 'count', stroke: '#4cc9f0', fill: 'rgba(76,201,240,0.35)', paths: bars, points: { show: false } }],
      hooks: {
        draw: [
          (u: uPlot) => {
            const h = histRef.current;
            if (!h || h.count === 0) return;
            const ctx = u.ctx;
            const marks: [number, string, string][] = [
              [h.p50_ns, '#90be6d', 'p50'],
              [h.p99_ns, '#f4a261', 'p99'],
              [h.p999_ns, '#ef476f', 'p99.9'],
            ];
            ctx.save();
            ctx.font = FONT.replace('11px', `${10 * devicePixelRatio}px`);
            // Lines at the percentiles; their names as a legend in the top-right corner, so
            // close percentiles never overprint each other.
            ctx.textAlign = 'right';
            marks.forEach(([v, color, label], i) => {
              if (!(v > 0)) return;
              const x = u.valToPos(v, 'x', true);
              ctx.strokeStyle = color;
              ctx.fillStyle = color;
              ctx.lineWidth = devicePixelRatio;
              ctx.beginPath();
              ctx.moveTo(x, u.bbox.top);
              ctx.lineTo(x, u.bbox.top + u.bbox.height);
              ctx.stroke();
              ctx.fillText(label, u.bbox.left + u.bbox.width - 2 * devicePixelRatio, u.bbox.top + (10 + i * 11) * devicePixelRatio);
            });
            ctx.restore();
          },
        ],
      },
    }),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [],
  );
  histRef.current = hist;
  return <UPlotChart makeOpts={makeOpts} data={data} revision={revision} className="chart hist" />;
}

/** Decades around the non-empty buckets: one below the first, one above the last, ≥ 3 wide. */
export function xRange(h: HistInfo | undefined): [number, number] {
  const filled = (h?.buckets ?? []).filter((b) => b.count > 0);
  if (filled.length === 0) return [1e3, 1e7];
  const lo = Math.floor(Math.log10(filled[0].le_ns) - 1e-9) - 1;
  let hi = Math.ceil(Math.log10(filled[filled.length - 1].le_ns) + 1e-9);
  if (hi - lo < 3) hi = lo + 3;
  return [10 ** Math.max(2, lo), 10 ** Math.min(10, hi)];
}

function compact(v: number): string {
  if (v >= 1e6) return `${(v / 1e6).toFixed(0)}M`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(0)}k`;
  return `${v}`;
}
