/// <reference types="vitest/config" />
// Vite build of the Scriberr web app. `npm run dev` serves it on :5173 and proxies the API
// (and the docs) to a `scriberr serve` on SCRIBERR_DEV_API (default http://127.0.0.1:8080).
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

const api = process.env.SCRIBERR_DEV_API ?? "http://127.0.0.1:8080";
const proxied = ["/api", "/v1", "/docs", "/docs-assets", "/openapi.json", "/health"];

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    target: "es2022",
    assetsInlineLimit: 0,
  },
  server: {
    proxy: Object.fromEntries(proxied.map((path) => [path, { target: api, changeOrigin: false }])),
  },
  test: {
    environment: "node",
    include: ["src/**/*.test.ts"],
  },
});
