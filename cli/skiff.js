#!/usr/bin/env node
// The `skiff` bin: runs the compiled CLI in dist/ (`npm run build`). Where dist/ is missing or
// older than the sources (a fresh clone, an edit since the last build), it runs the TypeScript
// sources through tsx instead, which is slower but never stale, and says so at a terminal.
import { fileURLToPath } from 'node:url';
import { whyStale } from '../infra/dist-state.js';

const why = whyStale(fileURLToPath(new URL('..', import.meta.url)));
if (why) {
  // Said to a person at a terminal; a script reading stderr gets the command's own output only.
  if (process.stderr.isTTY) process.stderr.write(`skiff: ${why}; running the sources through tsx (npm run build makes skiff start faster)\n`);
  const { register } = await import('tsx/esm/api');
  register();
  await import('./main.ts');
} else {
  await import('../dist/cli/main.js');
}
