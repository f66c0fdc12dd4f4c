// Sonar's regime history as a strip: one slice per frame, Attack green, Veto red, no data dark.

import { useEffect, useRef } from 'react';
import type { FrameStore } from '../store';
import { REGIME_POINTS } from '../store';

const COLOURS: Record<string, string> = { ATTACK: '#2ec4b6', VETO: '#ef476f', UNKNOWN: '#5c6675' };

export function RegimeStrip({ store, revision }: { store: FrameStore; revision: number }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const el = canvas.current;
    const ctx = el?.getContext('2d');
    if (!el || !ctx) return;
    const w = Math.max(1, Math.round(el.clientWidth * devicePixelRatio));
    const h = Math.max(1, Math.round(el.clientHeight * devicePixelRatio));
    if (el.width !== w || el.height !== h) {
      el.width = w;
      el.height = h;
    }
    ctx.fillStyle = '#10141c';
    ctx.fillRect(0, 0, w, h);
    const n = store.regime.length;
    const slice = w / REGIME_POINTS;
    // Runs of equal regime become one rectangle: at most a few dozen fillRect per frame.
    let runStart = 0;
    let runColour: string | null = null;
    const flush = (end: number) => {
      if (runColour) {
        ctx.fillStyle = runColour;
        ctx.fillRect(Math.floor(runStart * slice), 0, Math.ceil((end - runStart) * slice), h);
      }
    };
    const offset = REGIME_POINTS - n;
    for (let i = 0; i < n; i++) {
      const r = store.regime.at(i)?.[1];
      const colour = r ? COLOURS[r] ?? COLOURS.UNKNOWN : null;
      if (colour !== runColour) {
        flush(offset + i);
        runStart = offset + i;
        runColour = colour;
      }
    }
    flush(REGIME_POINTS);
  }, [store, revision]);
  return <canvas ref={canvas} className="strip" data-testid="regime-strip" />;
}
