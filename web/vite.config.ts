/**
 * The web view's bundle: one self-contained index.html (scripts and styles inlined by
 * vite-plugin-singlefile), so that `ptlab serve` serves one file and `ptlab view` can write a copy
 * that opens offline. Built by `npm run build` into dist/web.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import { viteSingleFile } from 'vite-plugin-singlefile';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  logLevel: 'warn',
  plugins: [viteSingleFile()],
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    // The bundle carries the model, zod and vega: one file of a few MB is the point, not a problem.
    chunkSizeWarningLimit: 8000,
    reportCompressedSize: false,
    rollupOptions: {
      // zod carries /* @__PURE__ */ comments where rollup cannot use them; harmless, and not ours.
      onwarn(w, warn) {
        if (w.code !== 'INVALID_ANNOTATION') warn(w);
      },
    },
  },
});
