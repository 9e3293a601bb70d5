// Scenarios for a whole group on the in-memory network: the production Swim code, replayed on a
// virtual clock, so each run is exact and takes milliseconds.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../../protocol/config.ts';
import { MemoryGroup } from './memory-group.ts';
import { seededRandom } from './memory-network.ts';
import type { Member } from './state.ts';
import { swimConfig } from './timing.ts';

const cfg = swimConfig(loadConfig({}));

interface Change {
  observer: string;
  member: string;
  state: Member['state'];
  at: number;
}

function group(n: number, opts: { seed?: number; loss?: number } = {}) {
  const changes: Change[] = [];
  const g = MemoryGroup.converged(n, {
    cfg, seed: opts.seed ?? 1, loss: opts.loss, latencyMs: [0.2, 1],
    onChange: (observer, m, _p, at) => changes.push({ observer, member: m.name, state: m.state, at }),
  });
  g.run(5000);
  return { g, changes };
}

const deathsOf = (changes: Change[], name: string) => changes.filter((c) => c.member === name && c.state === 'dead');

test('a killed member is declared dead by every other member, and no one else is', () => {
  const { g, changes } = group(7);
  const killedAt = g.clock.now();
  g.kill('m3');
  g.run(10_000);
  assert.equal(g.viewsOf('m3'), Array(6).fill('dead'));
  const d = deathsOf(changes, 'm3');
  assert.equal(new Set(d.map((c) => c.observer)).size, 6);
  assert.ok(d.every((c) => c.at > killedAt));
  assert.is(changes.filter((c) => c.member !== 'm3' && c.state === 'dead').length, 0, 'no false deaths');
  const views = [...g.members.values()].filter((s) => s.name !== 'm3').map((s) => s.member('m3'));
  assert.ok(views.every((m) => m?.unreachable === true), 'known dead because nobody was at its address');
});

test('the death is found through NATS-style "nobody there" answers well before the suspicion timeout', () => {
  // Over many kills the median is under the minimum suspicion timeout: the second unreachable
  // answer decides, not the timer (bench/gossip.ts reports the distribution).
  const times: number[] = [];
  for (let seed = 1; seed <= 20; seed++) {
    const { g, changes } = group(7, { seed });
    const killedAt = g.clock.now();
    g.kill('m1');
    g.run(10_000);
    times.push(Math.max(...deathsOf(changes, 'm1').map((c) => c.at)) - killedAt);
  }
  times.sort((a, b) => a - b);
  assert.ok(times[10] < cfg.suspicionMult * cfg.periodMs, `median ${times[10]} ms`);
});

test('a member paused for 1 s (SIGSTOP) is at most suspected: it refutes and is never declared dead', () => {
  for (let seed = 1; seed <= 10; seed++) {
    const { g, changes } = group(7, { seed });
    g.net.pause('m2');
    g.run(1000);
    g.net.resume('m2');
    g.run(10_000);
    assert.is(deathsOf(changes, 'm2').length, 0, `seed ${seed}`);
    assert.equal(g.viewsOf('m2'), Array(6).fill('alive'));
    const suspected = changes.some((c) => c.member === 'm2' && c.state === 'suspect');
    if (suspected) assert.ok(g.members.get('m2')!.self.incarnation > 0, 'refuted by raising its incarnation');
  }
});

test('a member paused for 10 s is declared dead by the suspicion timeout, and rejoins when it resumes', () => {
  const { g, changes } = group(7);
  g.net.pause('m2');
  g.run(10_000);
  assert.equal(g.viewsOf('m2'), Array(6).fill('dead'));
  const views = [...g.members.values()].filter((s) => s.name !== 'm2').map((s) => s.member('m2'));
  assert.ok(views.every((m) => !m?.unreachable), 'dead by a suspicion that ran out: its subject still had a subscriber');
  g.net.resume('m2');
  g.run(5000);
  assert.equal(g.viewsOf('m2'), Array(6).fill('alive'), 'it heard of its death and refuted');
  assert.ok(deathsOf(changes, 'm2').length >= 1);
});

test('a graceful leave is known everywhere within a period', () => {
  const { g, changes } = group(7);
  const at = g.clock.now();
  g.leave('m4');
  g.run(cfg.periodMs);
  assert.equal(g.viewsOf('m4'), Array(6).fill('left'));
  assert.ok(changes.filter((c) => c.member === 'm4' && c.state === 'left').every((c) => c.at - at < cfg.periodMs));
});

test('a new member joins through the group and everyone learns of it', () => {
  const { g } = group(7);
  const m = g.add('late');
  g.run(3000);
  assert.equal(g.viewsOf('late'), Array(7).fill('alive'));
  assert.is(m.members().filter((x) => x.state === 'alive').length, 8);
});

test('the first members, started together, find each other', () => {
  const g = new MemoryGroup({ cfg, seed: 9, latencyMs: [0.2, 1] });
  for (const n of ['a', 'b', 'c']) g.add(n);
  g.run(10_000);
  for (const n of ['a', 'b', 'c']) assert.equal(g.viewsOf(n), ['alive', 'alive']);
});

const member = (name: string): Member => ({ name, role: 'node', incarnation: 0, state: 'alive', since: 0 });
const alone = (name: string): Member[] => [member(name)];

test('members that paired off when started together merge into one group within seconds', () => {
  // The join subject's queue group pairs a with b and c with d, as it may when all four start at
  // once; after those four joins it picks at random.
  const pairs: Record<string, string> = { a: 'b', b: 'a', c: 'd', d: 'c' };
  let routed = 0;
  const random = seededRandom(7);
  const g = new MemoryGroup({
    cfg, seed: 5, latencyMs: [0.2, 1],
    joinRoute: (from, others) => (routed++ < 4 ? pairs[from] : others[Math.floor(random() * others.length)]),
  });
  const names = ['a', 'b', 'c', 'd'];
  for (const n of names) g.add(n, alone(n));
  for (const n of names) g.members.get(n)!.join();
  g.run(3_000);
  for (const n of names) assert.equal(g.viewsOf(n), ['alive', 'alive', 'alive'], `${n}'s view`);
});

test('two groups that know nothing of each other merge through the push-pull over the join subject', () => {
  const g = new MemoryGroup({ cfg, seed: 3, latencyMs: [0.2, 1] });
  for (const n of ['a', 'b', 'c']) g.add(n, ['a', 'b', 'c'].map(member));
  for (const n of ['x', 'y', 'z']) g.add(n, ['x', 'y', 'z'].map(member));
  g.run(90_000);
  for (const n of ['a', 'b', 'c', 'x', 'y', 'z']) assert.equal(g.viewsOf(n), Array(5).fill('alive'), `${n}'s view`);
});

test('Lifeguard: a member that lost its connection declares no one dead, and refutes its own death when back', () => {
  const { g, changes } = group(7);
  const lonely = g.members.get('m5')!;
  g.net.partition('m5');
  lonely.networkChanged(false);
  g.run(15_000);
  assert.is(changes.filter((c) => c.observer === 'm5' && c.state === 'dead').length, 0, 'm5 accused no one');
  assert.equal(g.viewsOf('m5'), Array(6).fill('dead'), 'the others, whose links are fine, did declare it');
  g.net.partition('m5', false);
  lonely.networkChanged(true);
  g.run(10_000);
  assert.equal(g.viewsOf('m5'), Array(6).fill('alive'));
  assert.ok(lonely.members().every((m) => m.state === 'alive'), 'and it holds no verdict of its own against the others');
});

test('Lifeguard: a slow member (300 ms each way) slows its own probing and is never declared dead', () => {
  const { g, changes } = group(7);
  g.net.delay('m6', 300);
  g.run(30_000);
  assert.is(changes.filter((c) => c.state === 'dead').length, 0);
  assert.ok(g.members.get('m6')!.awareness.score > 0, 'its health multiplier rose');
});

test('15% message loss for a minute in a group of 30: suspicions refuted, no false deaths', () => {
  const { g, changes } = group(30, { loss: 0.15, seed: 4 });
  g.run(60_000);
  assert.is(changes.filter((c) => c.state === 'dead').length, 0);
  assert.ok(changes.some((c) => c.state === 'suspect'), 'loss did cause suspicions, which were refuted');
});

test.run();
