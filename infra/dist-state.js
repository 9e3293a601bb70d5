// Whether dist/ (infra/build.ts) is current: built whole, and newer than every file it is built
// from (the non-test TypeScript under cli, actors, protocol and infra, and package-lock.json, as
// the packages are bundled too). Plain JavaScript, as the bin reads it before it can run
// TypeScript. The one place this rule is written: the bin, bootstrap.sh and the build use it.
// Usage: node infra/dist-state.js   (exit 0 if current; else prints why not and exits 1)
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SOURCE_DIRS = ['cli', 'actors', 'protocol', 'infra'];

/** Why `root`'s dist/ is not current, or undefined when it is. */
export function whyStale(root) {
  const built = join(root, 'dist', 'built');
  if (!existsSync(built)) return 'dist/ has not been built';
  const than = statSync(built).mtimeMs;
  const newer = (p) => `${relative(root, p)} is newer than dist/`;
  const lock = join(root, 'package-lock.json');
  if (existsSync(lock) && statSync(lock).mtimeMs > than) return newer(lock);
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
  for (const dir of SOURCE_DIRS) {
    const found = walk(join(root, dir));
    if (found) return newer(found);
  }
  return undefined;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const why = whyStale(fileURLToPath(new URL('..', import.meta.url)));
  if (why) console.log(why);
  process.exitCode = why ? 1 : 0;
}
