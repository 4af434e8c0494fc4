import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

const root = fileURLToPath(new URL(".", import.meta.url));
const repo = fileURLToPath(new URL("..", import.meta.url));

/**
 * The dashboard build: web/ → web/dist, served by the API server (src/server/dashboard.ts). Everything is
 * bundled: no CDN script, no web font. `npm run dev:web` proxies the API to a running `entourage serve`.
 */
export default defineConfig({
  root,
  base: "/",
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    assetsInlineLimit: 0,
    reportCompressedSize: false,
  },
  server: {
    fs: { allow: [repo] },
    proxy: {
      "^/(runs|events|auth|openapi\\.json|health)": {
        target: process.env.ENTOURAGE_URL ?? "http://127.0.0.1:4317",
        changeOrigin: false,
      },
    },
  },
});
