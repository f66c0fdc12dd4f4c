// WOBI heatmap: levels × time, one column per frame. Cells are written into a small ImageData
// (one pixel per cell), put on an offscreen canvas and drawn scaled onto the visible canvas
// with smoothing off: one drawImage per frame whatever the size.

import { useEffect, useRef } from 'react';
import type { FrameStore } from '../store';
import { WOBI_COLUMNS, WOBI_LEVELS } from '../store';

const EMPTY: [number, number, number] = [16, 20, 28];

/** −1 (asks heavy) red … 0 dark … +1 (bids heavy) teal. */
export function imbalanceColour(v: number): [number, number, number] {
  const t = Math.max(-1, Math.min(1, v));
  const base = [22, 27, 36];
  const pos = [46, 196, 182];
  const neg = [239, 71, 111];
  const to = t >= 0 ? pos : neg;
  const a = Math.sqrt(Math.abs(t)); // emphasise small imbalances: most live values are small
  return [0, 1, 2].map((i) => Math.round(base[i] + (to[i] - base[i]) * a)) as [number, number, number];
}

export function Heatmap({ store, revision }: { store: FrameStore; revision: number }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const off = useRef<{ c: HTMLCanvasElement; img: ImageData } | null>(null);

  useEffect(() => {
    const el = canvas.current;
    if (!el) return;
    const ctx = el.getContext('2d');
    if (!ctx) return;
    if (!off.current) {
      const c = document.createElement('canvas');
      c.width = WOBI_COLUMNS;
      c.height = WOBI_LEVELS;
      const octx = c.getContext('2d');
      if (!octx) return;
      off.current = { c, img: octx.createImageData(WOBI_COLUMNS, WOBI_LEVELS) };
    }
    const { c, img } = off.current;
    const px = img.data;
    const n = store.wobi.length;
    // newest column at the right edge; columns before the history starts are empty
    for (let col = 0; col < WOBI_COLUMNS; col++) {
      const idx = n - WOBI_COLUMNS + col;
      const column = idx >= 0 ? store.wobi.at(idx) : null;
      for (let lvl = 0; lvl < WOBI_LEVELS; lvl++) {
        const v = column ? column[lvl] : undefined;
        const rgb = v === undefined || v === null || !Number.isFinite(v) ? EMPTY : imbalanceColour(v);
        const o = (lvl * WOBI_COLUMNS + col) * 4;
        px[o] = rgb[0];
        px[o + 1] = rgb[1];
        px[o + 2] = rgb[2];
        px[o + 3] = 255;
      }
    }
    c.getContext('2d')!.putImageData(img, 0, 0);
    const w = Math.max(1, Math.round(el.clientWidth * devicePixelRatio));
    const h = Math.max(1, Math.round(el.clientHeight * devicePixelRatio));
    if (el.width !== w || el.height !== h) {
      el.width = w;
      el.height = h;
    }
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(c, 0, 0, w, h);
    // level separators keep rows readable when neighbours have similar colours
    ctx.fillStyle = 'rgba(0,0,0,0.35)';
    for (let lvl = 1; lvl < WOBI_LEVELS; lvl++) {
      ctx.fillRect(0, Math.round((lvl * h) / WOBI_LEVELS), w, Math.max(1, devicePixelRatio));
    }
  }, [store, revision]);

  return <canvas ref={canvas} className="heatmap" data-testid="wobi-heatmap" />;
}
