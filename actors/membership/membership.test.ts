// Membership over a real nats-server: members on their own connections join, see each other,
// notice a member whose connection vanished (as a SIGKILL leaves it), and hear a graceful leave.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { NatsConnection } from 'nats';
import { pack } from 'msgpackr';
import { Registry } from 'prom-client';
import { createActor, waitFor as waitForActor } from 'xstate';
import { connectNats } from '../platform/nats.ts';
import { silentLogger } from '../platform/log.ts';
import { PROTOCOL_VERSION } from '../../protocol/codec.ts';
import { gossipSubject } from '../../protocol/subjects.ts';
import { metricSum, setup, skiff, startNats, testConfig, waitFor, type Nats } from '../../test/harness.ts';
import { Membership, realClock } from './membership.ts';
import { membershipMachine } from './membership.machine.ts';

interface Ctx {
  nats: Nats;
  conns: NatsConnection[];
  members: Membership[];
  /** master-a's metrics. */
  registry: Registry;
}

const s = suite<Ctx>('membership over NATS');

async function member(ctx: Ctx, name: string, registry?: Registry): Promise<Membership> {
  const nc = await connectNats({ url: ctx.nats.url, name, persistent: true });
  ctx.conns.push(nc);
  const m = new Membership({ nc, name, role: name.startsWith('master') ? 'master' : 'node', cfg: testConfig(ctx.nats.url), log: silentLogger, registry });
  ctx.members.push(m);
  return m;
}

const everyoneSees = (members: Membership[], name: string, state: string) => members.every((m) => m.name === name || m.state(name) === state);

s.before(setup(async (ctx) => {
  ctx.nats = await startNats();
  ctx.conns = [];
  ctx.members = [];
}));

s.after(async (ctx) => {
  for (const m of ctx.members ?? []) m.stop();
  for (const nc of ctx.conns ?? []) await nc.close().catch(() => {});
  await ctx.nats?.stop();
});

s('members started together find each other through the join subject', async (ctx) => {
  ctx.registry = new Registry();
  const ms = [await member(ctx, 'master-a', ctx.registry), await member(ctx, 'node-a'), await member(ctx, 'node-b'), await member(ctx, 'node-c')];
  for (const m of ms) m.start();
  await waitFor('all four see all four alive', () => ms.every((m) => ms.every((o) => m.state(o.name) === 'alive')), 15_000);
});

s('skiff get members shows one member\'s view; --from picks whose', async (ctx) => {
  const any = await skiff(['get', 'members'], { url: ctx.nats.url });
  assert.is(any.code, 0, any.stderr);
  assert.match(any.stdout, /MEMBER\s+ROLE\s+STATE\s+INCARNATION\s+LAST CHANGE/);
  for (const n of ['master-a', 'node-a', 'node-b', 'node-c']) assert.match(any.stdout, new RegExp(`${n}\\s+(master|node)\\s+alive\\s+0\\s`));
  const from = await skiff(['get', 'members', '--from', 'node-b', '-o', 'json'], { url: ctx.nats.url });
  assert.is(JSON.parse(from.stdout).self, 'node-b');
  const missing = await skiff(['get', 'members', '--from', 'node-zz'], { url: ctx.nats.url });
  assert.is(missing.code, 1);
  assert.match(missing.stderr, /member node-zz does not answer/);
  const misuse = await skiff(['get', 'pods', '--from', 'node-a'], { url: ctx.nats.url });
  assert.is(misuse.code, 2);
  assert.match(misuse.stderr, /--from applies to skiff get members only/);
});

s('a member whose connection vanishes (SIGKILL) is declared dead by all, through "no responders"', async (ctx) => {
  const victim = ctx.members.find((m) => m.name === 'node-c')!;
  const rest = ctx.members.filter((m) => m !== victim);
  const at = Date.now();
  victim.swim.stop();
  // No leave, no flush: the connection just goes, as the kernel closes a killed process's socket.
  await ctx.conns[ctx.members.indexOf(victim)].close();
  await waitFor('everyone sees node-c dead', () => everyoneSees(rest, 'node-c', 'dead'), 10_000);
  const took = Date.now() - at;
  // Within the minimum suspicion timeout would be luck; within the maximum is the bound.
  assert.ok(took < 8000, `took ${took} ms`);
  // How long it was suspected, as master-a measured it: no longer than the whole detection.
  const text = await ctx.registry.metrics();
  const count = metricSum(text, 'skiff_gossip_suspicion_to_dead_seconds_count');
  const sum = metricSum(text, 'skiff_gossip_suspicion_to_dead_seconds_sum');
  assert.ok(count >= 1, text.split('\n').filter((l) => l.includes('suspicion')).join('\n'));
  assert.ok(sum / count <= took / 1000, `suspected ${sum / count} s of ${took / 1000} s`);
});

s('a graceful leave through the actor is seen as "left"', async (ctx) => {
  const registry = new Registry();
  const leaver = await member(ctx, 'node-d', registry);
  const actor = createActor(membershipMachine, { input: { membership: leaver, nc: ctx.conns.at(-1)! } }).start();
  await waitForActor(actor, (st) => st.matches({ active: 'joined' }), { timeout: 10_000 });
  const others = ctx.members.filter((m) => m.name !== 'node-c' && m !== leaver);
  await waitFor('node-d known', () => everyoneSees(others, 'node-d', 'alive'), 10_000);
  assert.ok(metricSum(await registry.metrics(), 'skiff_gossip_members', { state: 'alive' }) >= 4);
  actor.send({ type: 'LEAVE' });
  await waitForActor(actor, (st) => st.status === 'done', { timeout: 5000 });
  await waitFor('everyone sees node-d left', () => everyoneSees(others, 'node-d', 'left'), 3000);
});

s('a malformed message is counted and dropped; the member carries on', async (ctx) => {
  const registry = new Registry();
  const m = await member(ctx, 'node-e', registry);
  m.start();
  const nc = ctx.conns.at(-1)!;
  nc.publish(gossipSubject('node-e'), pack({ v: PROTOCOL_VERSION, type: 'ping', from: 'x' }));
  nc.publish(gossipSubject('node-e'), new Uint8Array([0xc1]));
  await waitFor('two malformed counted', async () => metricSum(await registry.metrics(), 'skiff_gossip_malformed_messages_total') === 2, 5000);
  await waitFor('node-e still joins', () => m.state('master-a') === 'alive', 10_000);
});

s.run();

const clock = suite('realClock');

clock('a timer never fires before now() says it is due', async () => {
  const early: string[] = [];
  await Promise.all(Array.from({ length: 200 }, (_, i) => new Promise<void>((resolve) => {
    const ms = 1 + (i % 15);
    const start = realClock.now();
    realClock.after(ms, () => {
      const waited = realClock.now() - start;
      if (waited < ms) early.push(`${ms} ms timer after ${waited} ms`);
      resolve();
    });
  })));
  assert.equal(early, []);
});

clock('a cancelled timer does not fire', async () => {
  let fired = 0;
  const t = realClock.after(5, () => fired++);
  t.cancel();
  await new Promise((r) => setTimeout(r, 30));
  assert.is(fired, 0);
});

clock.run();
