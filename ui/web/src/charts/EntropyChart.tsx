import { useCallback } from 'react';
import uPlot from 'uplot';
import type { FrameStore } from '../store';
import { clock } from './axes';
import { axis, UPlotChart } from './UPlotChart';

/** Sonar's entropy score over time (0…1). */
export function EntropyChart({ store, revision }: { store: FrameStore; revision: number }) {
  const data = useCallback((): uPlot.AlignedData => {
    const pts = store.entropy.toArray();
    return [pts.map((p) => p[0]), pts.map((p) => p[1])];
  }, [store]);
  const makeOpts = useCallback(
    (width: number, height: number): uPlot.Options => ({
      width,
      height,
      legend: { show: false },
      cursor: { show: false },
      scales: { x: { time: true }, y: { range: [0, 1] } },
      axes: [
        axis({ space: 80, values: (_u, vals) => vals.map((v) => (v == null ? '' : clock(v))) }),
        axis({ size: 40, splits: () => [0, 0.5, 1] }),
      ],
      series: [{}, { label: 'entropy', stroke: '#f4a261', width: 1.25, fill: 'rgba(244,162,97,0.08)', points: { show: false } }],
    }),
    [],
  );
  return <UPlotChart makeOpts={makeOpts} data={data} revision={revision} testId="entropy-chart" />;
}
