// A uPlot chart that fills its box, survives re-renders and redraws only when its data revision
// changes. uPlot draws on canvas; React only owns the container.

import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface UPlotChartProps {
  /** Build options for a given size; called on mount only (the chart is re-created when `optsKey` changes). */
  makeOpts: (width: number, height: number) => uPlot.Options;
  /** Current data; read when `revision` changes. */
  data: () => uPlot.AlignedData;
  revision: number;
  optsKey?: string;
  className?: string;
  testId?: string;
}

export function UPlotChart({ makeOpts, data, revision, optsKey, className, testId }: UPlotChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const dataRef = useRef(data);
  dataRef.current = data;

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const w = Math.max(50, el.clientWidth);
    const h = Math.max(40, el.clientHeight);
    const u = new uPlot(makeOpts(w, h), dataRef.current(), el);
    plot.current = u;
    const ro = new ResizeObserver(() => {
      const nw = Math.max(50, el.clientWidth);
      const nh = Math.max(40, el.clientHeight);
      if (nw !== u.width || nh !== u.height) u.setSize({ width: nw, height: nh });
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
    // makeOpts is intentionally read once per optsKey: re-creating uPlot each render would leak canvases.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [optsKey]);

  useEffect(() => {
    plot.current?.setData(dataRef.current());
  }, [revision]);

  return <div ref={box} className={className ?? 'chart'} data-testid={testId} />;
}

/** Shared look: dark grid, muted axes, tabular tick labels. */
export const AXIS_STROKE = '#8b96a8';
export const GRID_STROKE = 'rgba(139,150,168,0.12)';
export const FONT = '11px "JetBrains Mono", "DejaVu Sans Mono", ui-monospace, monospace';

export function axis(over: Partial<uPlot.Axis> = {}): uPlot.Axis {
  return {
    stroke: AXIS_STROKE,
    font: FONT,
    grid: { stroke: GRID_STROKE, width: 1 },
    ticks: { stroke: GRID_STROKE, width: 1, size: 4 },
    ...over,
  };
}
