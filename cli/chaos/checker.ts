// A store checker in the spirit of Jepsen's Knossos: given the history a few clients recorded of
// reads and compare-and-swaps on some registers (each operation's invocation and completion, and
// its outcome: ok, fail, or unknown when the client never heard), it decides whether the history
// is linearizable for a single register with compare-and-swap, per register, by the Wing-Gong
// search with memoized states (Lowe's refinement). A failed operation took no effect; an unknown
// one may have taken effect at any time after it was invoked, or never. It also checks that every
// acknowledged write is in the final value, and that no uid was handed out twice.

export interface Op {
  process: number;
  key: string;
  f: 'read' | 'cas';
  /** When it was invoked and, unless unknown, when it completed (ms, any clock common to the history). */
  invoke: number;
  complete?: number;
  outcome: 'ok' | 'fail' | 'unknown';
  /** read: the value read; cas: the value expected and the value written. */
  value?: number;
  from?: number;
  to?: number;
}

export interface CheckResult {
  ok: boolean;
  /** Per register: linearizable, or the operation at which no order could go on. */
  problems: string[];
  operations: number;
}

/** Whether one register's history is linearizable, starting from `initial`; if not, a description of where it failed. */
export function linearizable(ops: Op[], initial: number): string | undefined {
  // Failed operations took no effect, and reads that failed read nothing: left out.
  const live = ops.filter((o) => o.outcome !== 'fail' && !(o.f === 'read' && o.outcome === 'unknown'))
    .sort((a, b) => a.invoke - b.invoke);
  const n = live.length;
  if (n === 0) return undefined;
  const end = (o: Op) => (o.outcome === 'unknown' ? Infinity : o.complete!);
  const mustDo = live.map((o) => o.outcome === 'ok');
  const done = new Uint8Array(n);
  const seen = new Set<string>();
  let furthest = 0;
  let furthestOp: Op | undefined;
  const search = (value: number, left: number): boolean => {
    if (left === 0) return true;
    const key = `${value}|${Buffer.from(done).toString('base64')}`;
    if (seen.has(key)) return false;
    seen.add(key);
    // Only an operation invoked before every pending completed operation has completed may go next.
    let horizon = Infinity;
    for (let i = 0; i < n; i++) if (!done[i] && mustDo[i]) horizon = Math.min(horizon, end(live[i]));
    for (let i = 0; i < n; i++) {
      if (done[i]) continue;
      const o = live[i];
      if (o.invoke > horizon) break;
      let next: number | undefined;
      if (o.f === 'read') next = o.value === value ? value : undefined;
      else next = o.from === value ? o.to : undefined;
      if (next === undefined) continue;
      done[i] = 1;
      const ok = search(next, left - (mustDo[i] ? 1 : 0));
      done[i] = 0;
      if (ok) return true;
    }
    const count = done.reduce((a, b) => a + b, 0);
    if (count >= furthest) {
      furthest = count;
      furthestOp = live.find((_, i) => !done[i] && mustDo[i]);
    }
    return false;
  };
  const required = mustDo.filter(Boolean).length;
  if (search(initial, required)) return undefined;
  const o = furthestOp;
  return o
    ? `no order of the operations explains ${o.f === 'read' ? `the read of ${o.value}` : `cas ${o.from}→${o.to}`} by client ${o.process} (invoked at ${o.invoke}, completed at ${o.complete}) after ${furthest} of ${n} operations`
    : 'no order of the operations explains the history';
}

/**
 * The whole check: each register linearizable from `initial`, its final value holding every
 * acknowledged compare-and-swap (each adds one: the clients increment), and no uid given twice.
 */
export function checkHistory(ops: Op[], opts: { initial: number; finals: Map<string, number>; uids: string[] }): CheckResult {
  const problems: string[] = [];
  const byKey = new Map<string, Op[]>();
  for (const o of ops) byKey.set(o.key, [...(byKey.get(o.key) ?? []), o]);
  for (const [key, list] of byKey) {
    const why = linearizable(list, opts.initial);
    if (why) problems.push(`${key}: not linearizable: ${why}`);
    const acked = list.filter((o) => o.f === 'cas' && o.outcome === 'ok').length;
    const maybe = list.filter((o) => o.f === 'cas' && o.outcome === 'unknown').length;
    const final = opts.finals.get(key);
    if (final === undefined) problems.push(`${key}: no final value was read`);
    else if (final < opts.initial + acked) problems.push(`${key}: lost writes: the final value is ${final}, but ${acked} increments from ${opts.initial} were acknowledged`);
    else if (final > opts.initial + acked + maybe) problems.push(`${key}: the final value ${final} is more than the ${acked} acknowledged and ${maybe} unknown increments from ${opts.initial} explain`);
  }
  const dup = opts.uids.filter((u, i) => opts.uids.indexOf(u) !== i);
  if (dup.length) problems.push(`uids handed out twice: ${[...new Set(dup)].join(', ')}`);
  return { ok: problems.length === 0, problems, operations: ops.length };
}
