// SKIFF_CPU_PROFILE=FILE: record a V8 CPU profile of this process and write it on shutdown, for
// finding where the time goes (open it in Chrome's DevTools). SKIFF_HEAP_PROFILE=FILE: sample
// allocations, those the garbage collector has since freed included, and write a heap profile on
// shutdown, for finding what makes the garbage. --cpu-prof cannot be passed through NODE_OPTIONS,
// and the benchmarks start processes through the harness.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

export function startProfiling(env: NodeJS.ProcessEnv = process.env): (() => void) | undefined {
  const cpuFile = env.SKIFF_CPU_PROFILE;
  const heapFile = env.SKIFF_HEAP_PROFILE;
  if (!cpuFile && !heapFile) return undefined;
  const session = new Session();
  session.connect();
  if (cpuFile) session.post('Profiler.enable', () => session.post('Profiler.start'));
  if (heapFile) {
    session.post('HeapProfiler.enable', () => session.post('HeapProfiler.startSampling', {
      samplingInterval: 32 * 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true,
    } as object));
  }
  const save = (method: 'Profiler.stop' | 'HeapProfiler.stopSampling', file: string) => {
    session.post(method, (err: Error | null, res?: { profile: unknown }) => {
      if (!err && res) writeFileSync(file, JSON.stringify(res.profile));
    });
  };
  return () => {
    if (cpuFile) save('Profiler.stop', cpuFile);
    if (heapFile) save('HeapProfiler.stopSampling', heapFile);
  };
}
