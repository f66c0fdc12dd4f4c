import { useCallback } from 'react';
import uPlot from 'uplot';
import type { FrameStore } from '../store';
import { clock } from './axes';
import { axis, UPlotChart } from './UPlotChart';

/** WOBI and signal strength over time, both on a fixed −1…+1 scale. */
export function SignalChart({ store, revision }: { store: FrameStore; revision: number }) {
  const data = useCallback((): uPlot.AlignedData => {
    const pts = store.signal.toArray();
    return [pts.map((p) => p[0]), pts.map((p) => p[1]), pts.map((p) => p[2])];
  }, [store]);
  const makeOpts = useCallback(
    (width: number, height: number): uPlot.Options => ({
      width,
      height,
      legend: { show: false },
      cursor: { show: false },
      scales: { x: { time: true }, y: { range: [-1, 1] } },
      axes: [
        axis({ space: 80, values: (_u, vals) => vals.map((v) => (v == null ? '' : clock(v))) }),
        // Five ticks when there is room, three when the panel is short.
        axis({ size: 40, splits: (u) => (u.bbox.height / devicePixelRatio < 90 ? [-1, 0, 1] : [-1, -0.5, 0, 0.5, 1]) }),
      ],
      series: [
        {},
        { label: 'WOBI', stroke: '#90be6d', width: 1.25, points: { show: false } },
        { label: 'strength', stroke: '#c77dff', width: 1.25, points: { show: false } },
      ],
    }),
    [],
  );
  return <UPlotChart makeOpts={makeOpts} data={data} revision={revision} testId="signal-chart" />;
}
