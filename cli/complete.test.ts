import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { completionFor, type Completion } from './complete.ts';
import { VERBS } from './commands/index.ts';

const OPTIONS = {
  namespace: { type: 'string', short: 'n' },
  'all-namespaces': { type: 'boolean', short: 'A' },
  output: { type: 'string', short: 'o' },
  filename: { type: 'string', short: 'f' },
} as const;

function words(c: Completion): string[] {
  assert.is(c.type, 'words');
  return (c as Extract<Completion, { type: 'words' }>).words;
}
function names(c: Completion): { resource: string; namespace?: string; prefix: string } {
  assert.is(c.type, 'names');
  const n = c as Extract<Completion, { type: 'names' }>;
  return { resource: n.info.resource, namespace: n.namespace, prefix: n.prefix };
}

test('complete - the first word is a verb', () => {
  const w = words(completionFor([''], undefined));
  for (const v of VERBS) assert.ok(w.includes(v.name), v.name);
  assert.ok(w.includes('up'));
});

test('complete - a kind after get, with short names and all; its names after it, in the namespace given', () => {
  const kinds = words(completionFor(['get', ''], OPTIONS));
  for (const k of ['pods', 'po', 'pod', 'deployments', 'deploy', 'svc', 'nodes', 'no', 'all']) assert.ok(kinds.includes(k), k);
  assert.is(new Set(kinds).size, kinds.length, 'no word twice');
  assert.not.ok(words(completionFor(['describe', ''], OPTIONS)).includes('all'));
  assert.equal(names(completionFor(['get', 'po', ''], OPTIONS)), { resource: 'pods', namespace: 'default', prefix: '' });
  assert.equal(names(completionFor(['get', '-n', 'demo', 'deploy', 'w'], OPTIONS)), { resource: 'deployments', namespace: 'demo', prefix: '' });
  assert.equal(names(completionFor(['get', 'deploy', '--namespace=demo', ''], OPTIONS)), { resource: 'deployments', namespace: 'demo', prefix: '' });
  assert.equal(names(completionFor(['get', 'pods', '-A', ''], OPTIONS)), { resource: 'pods', namespace: undefined, prefix: '' });
  assert.equal(names(completionFor(['get', 'nodes', ''], OPTIONS)), { resource: 'nodes', namespace: undefined, prefix: '' });
});

test('complete - KIND/NAME completes the name after the slash', () => {
  assert.equal(names(completionFor(['rollout', 'status', 'deploy/'], OPTIONS)), { resource: 'deployments', namespace: 'default', prefix: 'deploy/' });
  assert.equal(words(completionFor(['get', 'nosuch/'], OPTIONS)), []);
});

test('complete - flag values: namespaces, output formats, files; flags after a dash', () => {
  assert.equal(names(completionFor(['get', 'pods', '-n', ''], OPTIONS)), { resource: 'namespaces', namespace: undefined, prefix: '' });
  assert.equal(words(completionFor(['get', 'pods', '-o', ''], OPTIONS)).sort(), ['json', 'name', 'wide', 'yaml']);
  assert.is(completionFor(['apply', '-f', ''], OPTIONS).type, 'files');
  assert.is(completionFor(['apply', ''], OPTIONS).type, 'files');
  const flags = words(completionFor(['get', '--'], OPTIONS));
  assert.ok(flags.includes('--namespace') && flags.includes('--help') && flags.includes('--output'));
});

test('complete - each verb its own arguments', () => {
  assert.equal(names(completionFor(['logs', ''], OPTIONS)).resource, 'pods');
  assert.equal(names(completionFor(['drain', ''], OPTIONS)).resource, 'nodes');
  assert.ok(words(completionFor(['rollout', ''], OPTIONS)).includes('undo'));
  assert.ok(words(completionFor(['rollout', 'undo', ''], OPTIONS)).includes('deployment'));
  assert.not.ok(words(completionFor(['rollout', 'undo', ''], OPTIONS)).includes('rs'));
  assert.equal(names(completionFor(['rollout', 'undo', 'deployment', ''], OPTIONS)).resource, 'deployments');
  assert.ok(words(completionFor(['scale', ''], OPTIONS)).includes('rs'));
  assert.equal(words(completionFor(['completion', ''], OPTIONS)), ['bash', 'zsh']);
  assert.equal(words(completionFor(['version', ''], OPTIONS)), []);
});

test.run();
