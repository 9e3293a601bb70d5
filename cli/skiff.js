#!/usr/bin/env node
// The `skiff` bin: runs the compiled CLI in dist/ (`npm run build`). Where dist/ is missing or
// older than the sources (a fresh clone, an edit since the last build), it runs the TypeScript
// sources through tsx instead, which is slower but never stale, and says so at a terminal.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

const root = fileURLToPath(new URL('..', import.meta.url));
const built = join(root, 'dist', 'built');

/** The first of the files dist/ is built from that changed after `than`, if any (tests are not built). */
function newerSource(than) {
  const lock = join(root, 'package-lock.json');
  if (existsSync(lock) && statSync(lock).mtimeMs > than) return lock;
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        const found = walk(p);
        if (found) return found;
      } else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && statSync(p).mtimeMs > than) return p;
    }
    return undefined;
  };
  for (const dir of ['cli', 'actors', 'protocol', 'infra']) {
    const found = walk(join(root, dir));
    if (found) return found;
  }
  return undefined;
}

let why;
if (!existsSync(built)) why = 'dist/ has not been built';
else {
  const newer = newerSource(statSync(built).mtimeMs);
  if (newer) why = `${newer.slice(root.length)} is newer than dist/`;
}
if (why) {
  // Said to a person at a terminal; a script reading stderr gets the command's own output only.
  if (process.stderr.isTTY) process.stderr.write(`skiff: ${why}; running the sources through tsx (npm run build makes skiff start faster)\n`);
  const { register } = await import('tsx/esm/api');
  register();
  await import('./main.ts');
} else {
  await import('../dist/cli/main.js');
}
