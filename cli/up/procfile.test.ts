import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  parseDotenv, parseFormation, parseNameList, parseProcfile, planInstances, portFor,
  DotenvError, ProcfileError, UsageError,
} from './procfile.ts';

const procfileCases: { name: string; text: string; want: [string, string, number][] }[] = [
  { name: 'one line', text: 'web: node server.js', want: [['web', 'node server.js', 1]] },
  {
    name: 'comments, blank lines and CRLF',
    text: '# the cluster\r\n\r\nnats: nats-server -m $PORT\r\n  # indented comment\nmaster:node m.js\n',
    want: [['nats', 'nats-server -m $PORT', 3], ['master', 'node m.js', 5]],
  },
  { name: 'colons in the command', text: 'web: env A=b:c node s.js', want: [['web', 'env A=b:c node s.js', 1]] },
  { name: 'dashes and underscores', text: 'web-2_x: run', want: [['web-2_x', 'run', 1]] },
];

for (const c of procfileCases) {
  test(`procfile - parses ${c.name}`, () => {
    const got = parseProcfile(c.text);
    assert.equal(got.map((e) => [e.name, e.command, e.line]), c.want);
    assert.equal(got.map((e) => e.index), c.want.map((_, i) => i));
  });
}

const procfileErrors: { name: string; text: string; want: RegExp }[] = [
  { name: 'a line without a colon', text: 'web: a\n\nworker b', want: /^line 3: expected "name: command"/ },
  { name: 'a bad name', text: 'my web: a', want: /^line 1: process name "my web" may only contain/ },
  { name: 'an empty command', text: '# x\nweb:   ', want: /^line 2: process "web" has no command/ },
  { name: 'a duplicate name', text: 'web: a\nweb: b', want: /^line 2: process "web" is already defined on line 1/ },
  { name: 'no processes', text: '# only a comment\n', want: /defines no processes/ },
];

for (const c of procfileErrors) {
  test(`procfile - rejects ${c.name}`, () => {
    assert.throws(() => parseProcfile(c.text), (err: Error) => err instanceof ProcfileError && c.want.test(err.message));
  });
}

const dotenvCases: { name: string; text: string; want: Record<string, string> }[] = [
  { name: 'plain pairs', text: 'A=1\nB = two words ', want: { A: '1', B: 'two words' } },
  { name: 'export and comments', text: '# c\nexport PORT=6000 # base\n\n', want: { PORT: '6000' } },
  { name: 'a # inside a value', text: 'URL=http://h/#frag', want: { URL: 'http://h/#frag' } },
  { name: 'single quotes are literal', text: "A='x \\n # y' # c", want: { A: 'x \\n # y' } },
  { name: 'double quotes unescape', text: 'A="l1\\nl2\\t\\"q\\" \\\\ \\$"', want: { A: 'l1\nl2\t"q" \\ \\$' } },
  { name: 'empty values', text: 'A=\nB=""\nC=# only a comment', want: { A: '', B: '', C: '' } },
  { name: 'the last one wins', text: 'A=1\nA=2', want: { A: '2' } },
];

for (const c of dotenvCases) {
  test(`dotenv - parses ${c.name}`, () => {
    assert.equal(parseDotenv(c.text), c.want);
  });
}

const dotenvErrors: { name: string; text: string; want: RegExp }[] = [
  { name: 'a line without =', text: 'A=1\nJUNK', want: /^line 2: expected KEY=VALUE/ },
  { name: 'a bad key', text: '1A=x', want: /^line 1: expected KEY=VALUE/ },
  { name: 'an unclosed quote', text: '\nA="abc', want: /^line 2: the value has no closing "/ },
  { name: 'text after a quote', text: "A='abc' def", want: /^line 1: unexpected "def" after the closing '/ },
];

for (const c of dotenvErrors) {
  test(`dotenv - rejects ${c.name}`, () => {
    assert.throws(() => parseDotenv(c.text), (err: Error) => err instanceof DotenvError && c.want.test(err.message));
  });
}

const names = ['nats', 'master', 'node'];
const formationCases: { spec: string | undefined; want: Record<string, number> }[] = [
  { spec: undefined, want: { nats: 1, master: 1, node: 1 } },
  { spec: '', want: { nats: 1, master: 1, node: 1 } },
  { spec: 'node=3', want: { nats: 1, master: 1, node: 3 } },
  { spec: 'all=2, node=0', want: { nats: 2, master: 2, node: 0 } },
  { spec: 'node=3,all=0,master=2', want: { nats: 0, master: 2, node: 3 } },
];

for (const c of formationCases) {
  test(`formation - ${JSON.stringify(c.spec)}`, () => {
    assert.equal(parseFormation(c.spec, names), c.want);
  });
}

const formationErrors: { spec: string; want: RegExp }[] = [
  { spec: 'node:3', want: /^formation term "node:3": expected name=count/ },
  { spec: 'node=3,nod=1', want: /^formation term "nod=1": the Procfile has no process "nod" \(it has nats, master, node\)/ },
  { spec: 'node=-1', want: /^formation term "node=-1"/ },
  { spec: 'node=101', want: /^formation term "node=101": at most 100 instances/ },
  { spec: 'node=1,,master=1', want: /^formation term "": expected name=count/ },
];

for (const c of formationErrors) {
  test(`formation - rejects ${c.spec}`, () => {
    assert.throws(() => parseFormation(c.spec, names), (err: Error) => err instanceof UsageError && c.want.test(err.message));
  });
}

test('port - the foreman rule', () => {
  assert.is(portFor(5000, 0, 1), 5000);
  assert.is(portFor(5000, 1, 2), 5101);
  assert.is(portFor(5000, 2, 3), 5202);
});

test('plan - instances in Procfile order with PORT and PS names', () => {
  const entries = parseProcfile('nats: n\n# c\nmaster: m\nnode: k');
  const got = planInstances(entries, { nats: 1, master: 2, node: 3 }, 6000);
  assert.equal(got.map((i) => `${i.name}@${i.port}`), [
    'nats.1@6000', 'master.1@6100', 'master.2@6101', 'node.1@6200', 'node.2@6201', 'node.3@6202',
  ]);
  assert.equal(got.map((i) => i.line), [1, 3, 3, 4, 4, 4]);
});

test('plan - selected names keep their Procfile ports', () => {
  const entries = parseProcfile('nats: n\nmaster: m\nnode: k');
  const got = planInstances(entries, { nats: 1, master: 1, node: 2 }, 5000, ['node']);
  assert.equal(got.map((i) => `${i.name}@${i.port}`), ['node.1@5200', 'node.2@5201']);
});

test('plan - rejects unknown names and ports above 65535', () => {
  const entries = parseProcfile('web: w\nworker: k');
  assert.throws(() => planInstances(entries, { web: 1, worker: 1 }, 5000, ['db']), /no process "db" \(it has web, worker\)/);
  assert.throws(() => planInstances(entries, { web: 1, worker: 2 }, 65435), /PORT for worker.2 would be 65536/);
});

test('names - comma lists', () => {
  assert.equal(parseNameList(''), []);
  assert.equal(parseNameList('nats'), ['nats']);
  assert.equal(parseNameList(' nats, master ,'), ['nats', 'master']);
});

test.run();
