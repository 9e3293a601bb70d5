// The real `skiff` command against a real master process and nats-server.
import { suite, test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, ROOT, setup, skiff, startMaster, startNats, tempDir, waitFor, type Master, type Nats } from './harness.ts';

const COMMANDS = ['apply', 'create', 'get', 'describe', 'delete', 'logs', 'exec', 'api-resources', 'up'];

test('cli - every command has --help', async () => {
  for (const c of COMMANDS) {
    const r = await skiff([c, '--help']);
    assert.is(r.code, 0, `${c} --help: ${r.stderr}`);
    assert.match(r.stdout, /Usage:/);
  }
  const top = await skiff(['--help']);
  assert.is(top.code, 0);
  for (const c of COMMANDS) assert.match(top.stdout, new RegExp(`\\n  ${c} `));
});

test('cli - a cluster that is not running is one line naming the command that starts it', async () => {
  const r = await skiff(['get', 'pods'], { url: `nats://127.0.0.1:${await freePort()}` });
  assert.is(r.code, 1);
  assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /cannot reach the skiff cluster at nats:\/\/127\.0\.0\.1:\d+.*start one with: skiff up/);
});

test('cli - usage mistakes exit 2 and point at --help', async () => {
  const r = await skiff(['get', 'podz']);
  assert.is(r.code, 2);
  assert.match(r.stderr, /doesn't have a resource type "podz" \(did you mean "pods"\?\)/);
  const flag = await skiff(['get', 'pods', '--bogus']);
  assert.is(flag.code, 2);
  assert.match(flag.stderr, /see: skiff get --help/);
});

test.run();

const DEPLOY = `apiVersion: apps/v1
kind: Deployment
metadata: { name: web, labels: { app: web } }
spec:
  replicas: 2
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      containers:
        - name: web
          command: ["sleep", "3600"]
---
apiVersion: v1
kind: Service
metadata: { name: web }
spec:
  selector: { app: web }
  ports: [{ port: 8080 }]
`;

const BAD = `apiVersion: v1
kind: Service
metadata: { name: fine }
spec:
  ports: [{ port: 80 }]
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: broken }
spec:
  replicas: three
  selector: { matchLabels: { app: b } }
  template:
    metadata: { labels: { app: b } }
    spec:
      containers:
        - name: b
          image: nginx
          imagePullPolcy: Always
`;

const e2e = suite<{ nats: Nats; master: Master; url: string; dir: string }>('cli against a cluster');

e2e.before(setup(async (ctx) => {
  ctx.nats = await startNats();
  ctx.url = ctx.nats.url;
  ctx.master = await startMaster(ctx.url);
  ctx.dir = tempDir();
}));

e2e.after(async (ctx) => {
  await ctx.master?.stop();
  await ctx.nats?.stop();
});

e2e('apply creates, then reports unchanged and configured; get prints kubectl tables', async ({ url, dir }) => {
  const file = join(dir, 'web.yaml');
  writeFileSync(file, DEPLOY);
  let r = await skiff(['apply', '-f', file], { url });
  assert.is(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim().split('\n'), ['deployment.apps/web created', 'service/web created']);
  r = await skiff(['apply', '-f', file], { url });
  assert.equal(r.stdout.trim().split('\n'), ['deployment.apps/web unchanged', 'service/web unchanged']);
  r = await skiff(['apply', '-f', '-'], { url, input: DEPLOY.replace('replicas: 2', 'replicas: 4') });
  assert.equal(r.stdout.trim().split('\n'), ['deployment.apps/web configured', 'service/web unchanged']);
  r = await skiff(['get', 'deploy'], { url });
  assert.match(r.stdout.trim(), /^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE\nweb\s+\d\/4\s+\d\s+\d\s+\d+s$/);
  r = await skiff(['get', 'deployment', 'web', '-o', 'json'], { url });
  const obj = JSON.parse(r.stdout);
  assert.is(obj.spec.replicas, 4);
  assert.is(obj.metadata.generation, 2);
  r = await skiff(['get', 'svc,deploy', '-o', 'name'], { url });
  assert.equal(r.stdout.trim().split('\n'), ['service/web', 'deployment.apps/web']);
  r = await skiff(['get', 'pods', '-n', 'kube-node-lease'], { url });
  assert.match(r.stderr, /No resources found/);
  r = await skiff(['describe', 'deploy/web'], { url });
  assert.match(r.stdout, /^Name:\s+web\nNamespace:\s+default\nLabels:\s+app=web/);
  assert.match(r.stdout, /Events:/);
});

e2e('an invalid manifest lists every error with file, document and field, and writes nothing', async ({ url, dir }) => {
  const file = join(dir, 'bad.yaml');
  writeFileSync(file, BAD);
  const r = await skiff(['apply', '-f', file], { url });
  assert.is(r.code, 1);
  assert.match(r.stderr, /nothing was applied/);
  assert.ok(r.stderr.includes(`${file}, document 2 (Deployment "broken"): spec.replicas: must be an integer (got the string "three")`), r.stderr);
  assert.ok(r.stderr.includes(`${file}, document 2 (Deployment "broken"): spec.template.spec.containers[0].command: required (a process needs a command; image alone cannot run)`), r.stderr);
  assert.ok(r.stderr.includes(`${file}, document 2 (Deployment "broken"): spec.template.spec.containers[0].imagePullPolcy: unknown field (did you mean "imagePullPolicy"?)`), r.stderr);
  const svc = await skiff(['get', 'svc', 'fine'], { url });
  assert.is(svc.code, 1, 'the valid document of the same apply was not written');
  assert.match(svc.stderr, /NotFound/);
});

e2e('a server-side refusal also stops the whole apply', async ({ url }) => {
  const r = await skiff(['apply', '-f', '-'], {
    url,
    input: 'apiVersion: v1\nkind: Service\nmetadata: { name: early }\nspec: { ports: [{ port: 1 }] }\n---\napiVersion: v1\nkind: Service\nmetadata: { name: lost, namespace: nowhere }\nspec: { ports: [{ port: 2 }] }\n',
  });
  assert.is(r.code, 1);
  assert.match(r.stderr, /<stdin>, document 2 \(Service "lost"\): namespace "nowhere" not found/);
  assert.is((await skiff(['get', 'svc', 'early'], { url })).code, 1);
});

e2e('a namespace and its objects apply together; --validate=false ignores unknown fields', async ({ url }) => {
  const r = await skiff(['apply', '--validate=false', '-f', '-'], {
    url,
    input: 'apiVersion: v1\nkind: Service\nmetadata: { name: s1, namespace: team }\nspec: { ports: [{ port: 1 }], extra: true }\n---\napiVersion: v1\nkind: Namespace\nmetadata: { name: team }\n',
  });
  assert.is(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim().split('\n'), ['namespace/team created', 'service/s1 created']);
});

e2e('delete by manifest and by selector; the deleted are gone', async ({ url, dir }) => {
  const file = join(dir, 'web.yaml');
  let r = await skiff(['delete', '-f', file], { url });
  assert.is(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim().split('\n'), ['service "web" deleted', 'deployment.apps "web" deleted']);
  assert.is((await skiff(['get', 'deploy', 'web'], { url })).code, 1);
  await skiff(['create', 'namespace', 'scratch'], { url });
  for (const n of ['a', 'b']) {
    await skiff(['apply', '-n', 'scratch', '-f', '-'], { url, input: `apiVersion: v1\nkind: Service\nmetadata: { name: ${n}, labels: { tier: x } }\nspec: { ports: [{ port: ${n === 'a' ? 80 : 81} }] }\n` });
  }
  r = await skiff(['delete', 'svc', '-n', 'scratch', '-l', 'tier=x'], { url });
  assert.equal(r.stdout.trim().split('\n').sort(), ['service "a" deleted', 'service "b" deleted']);
  r = await skiff(['delete', 'svc', 'nope'], { url });
  assert.is(r.code, 1);
  assert.match(r.stderr, /Error from server \(NotFound\): services "nope" not found/);
});

e2e('get -w prints changes as they happen', async ({ url }) => {
  const child = spawn(process.execPath, [join(ROOT, 'cli/skiff.js'), 'get', 'svc', '-w'], { cwd: ROOT, env: { ...process.env, SKIFF_NATS_URL: url } });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  const exited = new Promise((r) => child.once('exit', r));
  try {
    await waitFor('the watch header', () => out.includes('NAME'), 15_000);
    await skiff(['apply', '-f', '-'], { url, input: 'apiVersion: v1\nkind: Service\nmetadata: { name: watched }\nspec: { ports: [{ port: 9 }] }\n' });
    await waitFor('the new service row', () => /\nwatched\s+ClusterIP\s+127\.1\.\d+\.\d+\s+<none>\s+9\/TCP/.test(out), 10_000);
    await skiff(['delete', 'svc', 'watched'], { url });
    await waitFor('the deletion row', () => /watched.*\(deleted\)/.test(out), 10_000);
  } finally {
    child.kill('SIGINT');
    await exited;
  }
});

e2e.run();
