// Copies the browser builds of our npm dependencies into gridgov/static/dist (git-ignored),
// where Django's staticfiles serves them. One entry per file the templates load.
import { copyFileSync, mkdirSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "gridgov", "static", "dist");

const assets = [
  ["htmx.org/dist/htmx.min.js", "htmx.min.js"],
];

mkdirSync(out, { recursive: true });
for (const [from, to] of assets) {
  const src = join(root, "node_modules", from);
  if (!existsSync(src)) {
    console.error(`missing ${src}: run npm ci first`);
    process.exit(1);
  }
  copyFileSync(src, join(out, to));
  console.log(`dist/${to} <- ${from}`);
}
