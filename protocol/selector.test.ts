import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fieldsMatch, formatSelector, fromLabelSelector, labelSelectorMatches, matches, parseFieldSelector, parseSelector, SelectorError } from './selector.ts';

const labels = { app: 'web', tier: 'front', env: 'prod' };

const cases: [string, boolean][] = [
  ['', true],
  ['app=web', true],
  ['app==web', true],
  ['app=db', false],
  ['app!=db', true],
  ['app!=web', false],
  ['missing!=x', true],
  ['app=web,tier=front', true],
  ['app=web,tier=back', false],
  ['env in (prod,staging)', true],
  ['env in (dev, staging)', false],
  ['env notin (dev)', true],
  ['env notin (prod,dev)', false],
  ['missing notin (x)', true],
  ['app', true],
  ['missing', false],
  ['!missing', true],
  ['!app', false],
  ['app=web, env in (prod), !legacy', true],
];
for (const [sel, want] of cases) {
  test(`selector - ${JSON.stringify(sel)} ${want ? 'matches' : 'does not match'}`, () => {
    assert.is(matches(parseSelector(sel), labels), want);
  });
}

for (const bad of ['=web', 'a b', 'env in ()', 'env in (a', 'app=web,,x', 'bad key=1', 'app=in valid']) {
  test(`selector - ${JSON.stringify(bad)} is refused`, () => {
    assert.throws(() => parseSelector(bad), (e: Error) => e instanceof SelectorError);
  });
}

test('selector - an empty value is a value, as in Kubernetes', () => {
  assert.ok(matches(parseSelector('app='), { app: '' }));
  assert.not.ok(matches(parseSelector('app='), {}));
});

test('selector - LabelSelector objects, set-based', () => {
  const sel = { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'env', operator: 'In' as const, values: ['prod'] }, { key: 'legacy', operator: 'DoesNotExist' as const }] };
  assert.ok(labelSelectorMatches(sel, labels));
  assert.not.ok(labelSelectorMatches(sel, { ...labels, legacy: 'yes' }));
  assert.ok(labelSelectorMatches({}, labels), 'an empty selector matches everything');
  assert.not.ok(labelSelectorMatches(undefined, labels), 'no selector matches nothing');
  assert.is(formatSelector(fromLabelSelector(sel)), 'app=web,env=prod,!legacy');
});

test('selector - round trip through formatSelector', () => {
  for (const s of ['app=web', 'env in (a,b)', 'x notin (y,z)', 'k', '!k', 'a!=b']) {
    assert.equal(parseSelector(formatSelector(parseSelector(s))), parseSelector(s));
  }
});

test('field selector - nodeName and phase', () => {
  const pod = { metadata: { name: 'p', namespace: 'default' }, spec: { nodeName: 'node-1' }, status: { phase: 'Running' } };
  assert.ok(fieldsMatch(parseFieldSelector('spec.nodeName=node-1'), pod));
  assert.not.ok(fieldsMatch(parseFieldSelector('spec.nodeName=node-2'), pod));
  assert.ok(fieldsMatch(parseFieldSelector('spec.nodeName!=node-2,status.phase=Running'), pod));
  assert.ok(fieldsMatch(parseFieldSelector('spec.nodeName='), { metadata: {}, spec: {} }), 'empty value matches unset');
  assert.throws(() => parseFieldSelector('spec.containers=x'), /not supported/);
});

test.run();
