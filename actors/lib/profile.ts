// SKIFF_CPU_PROFILE=FILE: record a V8 CPU profile of this process and write it on shutdown, for
// finding where the time goes (open it in Chrome's DevTools). --cpu-prof cannot be passed through
// NODE_OPTIONS, and the benchmarks start processes through the harness.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

export function startProfiling(env: NodeJS.ProcessEnv = process.env): (() => void) | undefined {
  const file = env.SKIFF_CPU_PROFILE;
  if (!file) return undefined;
  const session = new Session();
  session.connect();
  session.post('Profiler.enable', () => session.post('Profiler.start'));
  return () => {
    session.post('Profiler.stop', (err, res) => {
      if (!err) writeFileSync(file, JSON.stringify(res.profile));
    });
  };
}
