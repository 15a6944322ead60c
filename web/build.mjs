// Bundles the third-party browser libraries (DESIGN.md §1, §3b) into web/static/dist/, which the
// pages load as plain ES modules from /static/dist/. Run by `make web` (npm run build); the output
// is not committed. No network: esbuild's binary comes with its npm optional dependency.

import { mkdir, rm, stat } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = fileURLToPath(new URL(".", import.meta.url));
const outdir = `${here}static/dist`;

await rm(outdir, { recursive: true, force: true });
await mkdir(outdir, { recursive: true });

const result = await esbuild.build({
  absWorkingDir: here,
  entryPoints: { notes: "src/notes.js", charts: "src/charts.js" },
  outdir,
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["es2020", "chrome90", "firefox90", "safari15"],
  minify: true,
  sourcemap: "linked",
  legalComments: "linked",
  metafile: true,
  logLevel: "warning",
});

for (const [file, { bytes }] of Object.entries(result.metafile.outputs)) {
  if (!file.endsWith(".js")) continue;
  const size = (await stat(`${here}${file}`)).size;
  console.log(`${file}: ${(size / 1024).toFixed(1)} KiB`);
}
