// Copies the browser builds of our npm dependencies into gridgov/static/dist (git-ignored),
// where Django's staticfiles serves them. One entry per file the templates load.
import { copyFileSync, mkdirSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "gridgov", "static", "dist");

const assets = [
  ["htmx.org/dist/htmx.min.js", "htmx.min.js"],
  ["leaflet/dist/leaflet.js", "leaflet/leaflet.js"],
  ["leaflet/dist/leaflet.css", "leaflet/leaflet.css"],
  ["leaflet/dist/images/marker-icon.png", "leaflet/images/marker-icon.png"],
  ["leaflet/dist/images/marker-icon-2x.png", "leaflet/images/marker-icon-2x.png"],
  ["leaflet/dist/images/marker-shadow.png", "leaflet/images/marker-shadow.png"],
  ["echarts/dist/echarts.min.js", "echarts/echarts.min.js"],
  ["@geoman-io/leaflet-geoman-free/dist/leaflet-geoman.min.js", "geoman/leaflet-geoman.min.js"],
  ["@geoman-io/leaflet-geoman-free/dist/leaflet-geoman.css", "geoman/leaflet-geoman.css"],
];

mkdirSync(out, { recursive: true });
for (const [from, to] of assets) {
  const src = join(root, "node_modules", from);
  if (!existsSync(src)) {
    console.error(`missing ${src}: run npm ci first`);
    process.exit(1);
  }
  mkdirSync(dirname(join(out, to)), { recursive: true });
  copyFileSync(src, join(out, to));
  console.log(`dist/${to} <- ${from}`);
}
