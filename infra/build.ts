// `npm run build`: compiles skiff's programs ahead of time into dist/, so that neither the `skiff`
// command nor a cluster's processes load tsx and transpile the sources at every start.
// esbuild bundles each program with the npm packages it uses (one file read instead of hundreds of
// module resolutions) and splits what they share into dist/chunks/, so a CLI command's code is read
// only when that command runs. Why esbuild and not tsc: see the README's benchmark section.
// Usage: node --import tsx infra/build.ts [--quiet]
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { PROJECT_ROOT } from '../actors/platform/entry.ts';
import { whyStale } from './dist-state.js';

/** Every program skiff starts, by its path without extension; each becomes dist/<path>.js. */
export const PROGRAMS = [
  'cli/main',
  'actors/master/main',
  'actors/node/main',
  'infra/nats',
  'infra/prometheus',
  'actors/kubelet/reaper-main',
  'cli/up/guardian-main',
];

/**
 * Bundled CommonJS calls require() for Node's own modules, which ESM does not define; and
 * msgpackr-extract (msgpackr's native decoder) is loaded from node_modules at run time, as a
 * native addon cannot be bundled.
 */
const REQUIRE_SHIM = "import { createRequire as __skiffCreateRequire } from 'node:module'; const require = __skiffCreateRequire(import.meta.url);";

/** Builds into a fresh folder beside dist/ and swaps it in, so a failed build leaves the old one whole. */
export async function buildDist(): Promise<{ files: number; bytes: number; ms: number }> {
  const started = performance.now();
  const out = join(PROJECT_ROOT, 'dist');
  const next = join(PROJECT_ROOT, `dist.building-${process.pid}`);
  rmSync(next, { recursive: true, force: true });
  try {
    const result = await build({
      absWorkingDir: PROJECT_ROOT,
      entryPoints: PROGRAMS.map((p) => ({ in: `${p}.ts`, out: p })),
      outdir: next,
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      chunkNames: 'chunks/[name]-[hash]',
      external: ['msgpackr-extract'],
      banner: { js: REQUIRE_SHIM },
      sourcemap: 'linked',
      metafile: true,
      minifyWhitespace: true,
      minifySyntax: true,
      logLevel: 'warning',
    });
    // Marks the folder as built whole; infra/dist-state.js compares its time with the sources'.
    writeFileSync(join(next, 'built'), `${new Date().toISOString()}\n`);
    rmSync(out, { recursive: true, force: true });
    renameSync(next, out);
    const outputs = Object.entries(result.metafile.outputs).filter(([f]) => f.endsWith('.js'));
    return { files: outputs.length, bytes: outputs.reduce((n, [, o]) => n + o.bytes, 0), ms: performance.now() - started };
  } finally {
    rmSync(next, { recursive: true, force: true });
  }
}

/** Builds dist/ only if it is not current (a benchmark or test about to run it). */
export async function ensureDist(): Promise<void> {
  if (whyStale(PROJECT_ROOT)) await buildDist();
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { files, bytes, ms } = await buildDist();
  if (!process.argv.includes('--quiet')) console.log(`built dist/: ${files} files, ${(bytes / 1024).toFixed(0)} KiB of JavaScript, in ${ms.toFixed(0)} ms`);
}
