import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';

// The built files are embedded into the `ui` binary (rust-embed), which serves them from `/`.
// `npm run dev` proxies the live endpoints to a running UI actor on the default port.
export default defineConfig({
  plugins: [react()],
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 600,
  },
  server: {
    proxy: {
      '/ws': { target: 'ws://127.0.0.1:8787', ws: true },
      '/api': 'http://127.0.0.1:8787',
      '/metrics': 'http://127.0.0.1:8787',
    },
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.ts', 'src/**/*.test.tsx'],
  },
});
