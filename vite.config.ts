import { readFileSync } from 'node:fs';
import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { VitePWA } from 'vite-plugin-pwa';
import { modelsDirPlugin } from './scripts/models-dir.ts';

/**
 * WASM threads need SharedArrayBuffer, which needs cross-origin isolation. Any static host must send
 * these two headers too (see README).
 */
export const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

const { version } = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as { version: string };

export default defineConfig({
  base: './',
  define: { __APP_VERSION__: JSON.stringify(version) },
  plugins: [
    svelte(),
    modelsDirPlugin(process.env.MODELS_DIR),
    // The app shell (including onnxruntime's ~28 MB WASM) is precached so the page opens offline;
    // model files have their own Cache Storage (src/data/model-fetch.ts).
    VitePWA({
      registerType: 'autoUpdate',
      injectRegister: 'script',
      manifest: {
        name: 'Zero-Shot Workbench',
        short_name: 'ZS Workbench',
        description: 'Evaluate CLIP-family models zero-shot on your own images, in your browser.',
        theme_color: '#1f3a5f',
        background_color: '#ffffff',
        display: 'standalone',
        icons: [{ src: 'favicon.svg', sizes: 'any', type: 'image/svg+xml' }],
      },
      workbox: {
        globPatterns: ['**/*.{js,css,html,svg,wasm,json}'],
        maximumFileSizeToCacheInBytes: 64 * 1024 * 1024,
        navigateFallbackDenylist: [/^\/models\//],
        // The app server's model list, so its picker still lists the (cached) models offline.
        runtimeCaching: [{ urlPattern: /\/models\/index\.json$/, handler: 'NetworkFirst' }],
      },
    }),
  ],
  server: { host: '127.0.0.1', port: 5173, headers: ISOLATION_HEADERS },
  preview: { host: '127.0.0.1', port: 4173, headers: ISOLATION_HEADERS },
  worker: { format: 'es' },
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  build: { target: 'es2022', chunkSizeWarningLimit: 1024 },
});
