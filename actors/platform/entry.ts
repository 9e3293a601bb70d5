// Where this code runs from: the TypeScript sources (through tsx, in tests and development) or the
// compiled bundles in dist/ (`npm run build`). A process that starts another of skiff's programs
// (the kubelet its reaper, `skiff up` its guardian) starts it the same way it runs itself.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** True in dist/, where esbuild has turned every module into JavaScript. */
export const compiled = import.meta.url.endsWith('.js');

/** The project's top folder: the nearest one up with a package.json (dist/ has none). */
export const PROJECT_ROOT = ((): string => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
  return dir;
})();

/**
 * What node needs to run one of skiff's programs (`actors/kubelet/reaper-main`, no extension),
 * whatever the caller's directory: its build in dist/, or its source through tsx. By default the
 * way this code itself runs; tests and benchmarks choose.
 */
export function programArgs(program: string, fromDist = compiled): string[] {
  if (fromDist) return [join(PROJECT_ROOT, 'dist', `${program}.js`)];
  return ['--import', import.meta.resolve('tsx'), join(PROJECT_ROOT, `${program}.ts`)];
}

/** The command that runs one of skiff's programs the way this code runs. */
export function programCommand(program: string, args: string[]): string[] {
  return [process.execPath, ...programArgs(program), ...args];
}
