import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { applyNews, mergeNews, newsOf, refutedIncarnation, type Member, type News, type Outcome } from './state.ts';

const NOW = 1000;
const m = (state: Member['state'], incarnation: number): Member => ({ name: 'b', role: 'node', incarnation, state, since: 0 });
const alive = (incarnation: number, name = 'b'): News => ({ type: 'alive', name, incarnation, role: 'node' });
const suspect = (incarnation: number, name = 'b', from = 'c'): News => ({ type: 'suspect', name, incarnation, from });
const dead = (incarnation: number, name = 'b', from = 'c'): News => ({ type: 'dead', name, incarnation, from });
const self = { name: 'a', incarnation: 3, leaving: false };

const summary = (o: Outcome) => (o.kind === 'join' || o.kind === 'change' ? `${o.kind}:${o.member.state}@${o.member.incarnation}` : o.kind);

const cases: [string, Member | undefined, News, string][] = [
  // alive
  ['alive about a stranger: it joins', undefined, alive(0), 'join:alive@0'],
  ['alive at the same incarnation: old news', m('alive', 2), alive(2), 'ignore'],
  ['alive at an older incarnation: old news', m('alive', 2), alive(1), 'ignore'],
  ['alive at the suspected incarnation does not clear the suspicion', m('suspect', 2), alive(2), 'ignore'],
  ['alive at a newer incarnation refutes the suspicion', m('suspect', 2), alive(3), 'change:alive@3'],
  ['alive at a newer incarnation brings back the dead', m('dead', 2), alive(3), 'change:alive@3'],
  ['alive at a newer incarnation brings back one that left', m('left', 2), alive(3), 'change:alive@3'],
  // suspect
  ['suspect about a stranger: ignored', undefined, suspect(0), 'ignore'],
  ['suspect at the current incarnation', m('alive', 2), suspect(2), 'change:suspect@2'],
  ['suspect at a newer incarnation', m('alive', 2), suspect(4), 'change:suspect@4'],
  ['suspect at an older incarnation: already refuted', m('alive', 2), suspect(1), 'ignore'],
  ['a second suspicion confirms', m('suspect', 2), suspect(2), 'confirm'],
  ['suspicion of the dead: ignored', m('dead', 2), suspect(2), 'ignore'],
  ['suspicion of one that left: ignored', m('left', 2), suspect(5), 'ignore'],
  // dead
  ['dead about a stranger: ignored', undefined, dead(0), 'ignore'],
  ['dead at the current incarnation', m('alive', 2), dead(2), 'change:dead@2'],
  ['dead of a suspect', m('suspect', 2), dead(2), 'change:dead@2'],
  ['dead at an older incarnation: already refuted', m('suspect', 2), dead(1), 'ignore'],
  ['dead twice: ignored', m('dead', 2), dead(3), 'ignore'],
  ['its own death notice: it left', m('alive', 2), dead(2, 'b', 'b'), 'change:left@2'],
  // about ourselves
  ['suspicion of us: refute', undefined, suspect(3, 'a'), 'refute'],
  ['suspicion of us at a newer incarnation: refute', undefined, suspect(7, 'a'), 'refute'],
  ['suspicion of us at an older incarnation: already refuted', undefined, suspect(2, 'a'), 'ignore'],
  ['death of us: refute', undefined, dead(3, 'a'), 'refute'],
  ['alive of us at a newer incarnation: an earlier run of us, out-bid it', undefined, alive(9, 'a'), 'refute'],
  ['alive of us at our incarnation: ignored', undefined, alive(3, 'a'), 'ignore'],
];

for (const [name, current, news, want] of cases) {
  test(`applyNews: ${name}`, () => {
    assert.is(summary(applyNews(current, news, self, NOW)), want);
  });
}

test('applyNews: a leaving member lets the news of its departure stand', () => {
  assert.is(applyNews(undefined, dead(3, 'a', 'a'), { ...self, leaving: true }, NOW).kind, 'ignore');
  assert.is(applyNews(undefined, suspect(3, 'a'), { ...self, leaving: true }, NOW).kind, 'ignore');
});

test('applyNews: a change records when it happened; a suspect stays suspect since its first suspicion', () => {
  const o = applyNews(m('alive', 1), suspect(1), self, NOW);
  assert.is(o.kind === 'change' && o.member.since, NOW);
  const again = applyNews({ ...m('suspect', 1), since: 10 }, suspect(2), self, NOW);
  assert.is(again.kind === 'change' && again.member.since, 10);
});

test('refutedIncarnation: above both our own and the accusation', () => {
  assert.is(refutedIncarnation(3, 3), 4);
  assert.is(refutedIncarnation(3, 7), 8);
  assert.is(refutedIncarnation(9, 2), 10);
});

test('mergeNews: a remote death arrives as suspicion, a departure stands, strangers join first', () => {
  const remote: Member[] = [
    { name: 'x', role: 'node', incarnation: 1, state: 'alive', since: 0 },
    { name: 'y', role: 'node', incarnation: 2, state: 'dead', since: 0 },
    { name: 'z', role: 'master', incarnation: 0, state: 'left', since: 0 },
  ];
  const news = mergeNews(remote, 'r');
  assert.equal(news.map((n) => `${n.type}:${n.name}@${n.incarnation}${'from' in n ? `/${n.from}` : ''}`), [
    'alive:x@1', 'alive:y@2', 'suspect:y@2/r', 'alive:z@0', 'dead:z@0/z',
  ]);
});

test('a death by nobody at the address is told as such, and forgotten when the member comes back', () => {
  const o = applyNews(m('suspect', 2), { type: 'dead', name: 'b', incarnation: 2, from: 'c', unreachable: true }, self, NOW);
  assert.ok(o.kind === 'change' && o.member.unreachable === true);
  const gone = (o as { member: Member }).member;
  assert.equal(newsOf(gone, 'a'), { type: 'dead', name: 'b', incarnation: 2, from: 'a', unreachable: true }, 'passed on with its cause');
  const suspicionRanOut = applyNews(m('suspect', 2), dead(2), self, NOW);
  assert.ok(suspicionRanOut.kind === 'change' && suspicionRanOut.member.unreachable === undefined);
  const back = applyNews(gone, alive(3), self, NOW);
  assert.ok(back.kind === 'change' && !('unreachable' in back.member), 'alive again: the cause goes');
});

test.run();
