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

/**
 * Whether one register's history is linearizable, starting from `initial`; if not, a description
 * of where it failed. The search is iterative (a history has thousands of operations, deeper than
 * a call stack) and remembers the states it has been in by a Zobrist hash of the set of operations
 * taken and the register's value.
 */
export function linearizable(ops: Op[], initial: number): string | undefined {
  // Failed operations took no effect, and reads that failed read nothing: left out.
  const live = ops.filter((o) => o.outcome !== 'fail' && !(o.f === 'read' && o.outcome === 'unknown'))
    .sort((a, b) => a.invoke - b.invoke);
  const n = live.length;
  if (n === 0) return undefined;
  const end = live.map((o) => (o.outcome === 'unknown' ? Infinity : o.complete!));
  const mustDo = live.map((o) => o.outcome === 'ok');
  const zobrist = live.map(() => [(Math.random() * 2 ** 32) >>> 0, (Math.random() * 2 ** 32) >>> 0]);
  const done = new Uint8Array(n);
  const seen = new Set<string>();
  const stack: { value: number; from: number; picked: number }[] = [];
  let value = initial;
  let left = mustDo.filter(Boolean).length;
  let h1 = 0;
  let h2 = 0;
  let from = 0;
  let fresh = true;
  let furthest = 0;
  let stuckAt: Op | undefined;
  const toggle = (i: number) => {
    done[i] ^= 1;
    h1 ^= zobrist[i][0];
    h2 ^= zobrist[i][1];
  };
  for (;;) {
    if (left === 0) return undefined;
    if (fresh) {
      const key = `${value}|${h1}|${h2}`;
      if (seen.has(key)) from = n; // been here: nothing new below
      seen.add(key);
      fresh = false;
    }
    // Only an operation invoked before every pending completed operation completed may go next.
    let horizon = Infinity;
    for (let i = 0; i < n; i++) if (!done[i] && mustDo[i] && end[i] < horizon) horizon = end[i];
    let picked = -1;
    let next = value;
    for (let i = from; i < n; i++) {
      if (done[i]) continue;
      const o = live[i];
      if (o.invoke > horizon) break;
      if (o.f === 'read' ? o.value === value : o.from === value) {
        picked = i;
        next = o.f === 'read' ? value : o.to!;
        break;
      }
    }
    if (picked >= 0) {
      stack.push({ value, from: picked + 1, picked });
      toggle(picked);
      if (mustDo[picked]) left--;
      value = next;
      from = 0;
      fresh = true;
      if (stack.length >= furthest) furthest = stack.length;
      continue;
    }
    if (stack.length >= furthest) stuckAt = live.find((o, i) => !done[i] && mustDo[i] && end[i] === horizon);
    const back = stack.pop();
    if (!back) break;
    toggle(back.picked);
    if (mustDo[back.picked]) left++;
    value = back.value;
    from = back.from;
  }
  const o = stuckAt;
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
