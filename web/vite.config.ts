import { defineConfig } from "vite";
import solid from "vite-plugin-solid";

// `npm run dev` proxies the API and the WebSocket to a local sova (SOVA_URL, default :8080).
const target = process.env.SOVA_URL ?? "http://127.0.0.1:8080";

export default defineConfig({
  plugins: [solid()],
  build: {
    target: "es2022",
    // CSP forbids inline scripts and styles: never inline assets or CSS into HTML.
    assetsInlineLimit: 0,
    cssCodeSplit: false,
    modulePreload: { polyfill: false },
    sourcemap: false,
  },
  worker: { format: "es" },
  server: {
    proxy: {
      "/api": { target, changeOrigin: false },
      "/ws": { target: target.replace(/^http/, "ws"), ws: true },
      "/health": { target },
    },
  },
});
