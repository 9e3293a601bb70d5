// apply's "nothing half-written" across the documents of one batch, against an apiserver in this
// process: claims made twice within a file are refused before any write, and a write refused
// after the dry run passed (the cluster changed in between) undoes what the batch had written.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ApiClient } from '../actors/client/client.ts';
import type { Service } from '../protocol/types.ts';
import { apiserverForTests } from '../test/harness.ts';
import { runCommand } from '../test/cli-run.ts';
import type { Command } from './command.ts';
import { applyCommand } from './commands/apply.ts';
import { createCommand } from './commands/create.ts';

const cluster = apiserverForTests(test);

/** Runs a command on `yaml` (given as -f -); its exit code, and what it printed. */
const run = (command: Command, yaml: string, client: ApiClient = cluster.api.client) => runCommand(command, { filename: ['-'] }, [], client, yaml);

const service = (name: string, spec: string) => `apiVersion: v1\nkind: Service\nmetadata: { name: ${name} }\nspec: { selector: { app: ${name} }, ${spec} }\n`;
const exists = (name: string) => cluster.api.client.get('services', name, 'default').then(() => true, () => false);

for (const command of [applyCommand, createCommand]) {
  test(`${command.name}: two documents claiming one ClusterIP, one node port or one object write nothing, each named`, async () => {
    const ip = await run(command, `${service('ip-a', 'clusterIP: 127.1.9.9, ports: [{ port: 80 }]')}---\n${service('ip-b', 'clusterIP: 127.1.9.9, ports: [{ port: 80 }]')}`);
    assert.is(ip.code, 1);
    assert.match(ip.err.join('\n'), /document 2 \(Service "ip-b"\): spec\.clusterIP 127\.1\.9\.9 is also claimed by <stdin>, document 1 \(Service "ip-a"\)/);
    const port = await run(command, `${service('np-a', 'type: NodePort, ports: [{ port: 80, nodePort: 30999 }]')}---\n${service('np-b', 'type: NodePort, ports: [{ port: 81, nodePort: 30999 }]')}`);
    assert.match(port.err.join('\n'), /document 2 \(Service "np-b"\): spec\.ports\[0\]\.nodePort 30999 is also claimed by <stdin>, document 1/);
    const twice = await run(command, `${service('same', 'ports: [{ port: 80 }]')}---\n${service('same', 'ports: [{ port: 81 }]')}`);
    assert.match(twice.err.join('\n'), /document 2 \(Service "same"\): the same object as <stdin>, document 1 \(Service "same"\)/);
    for (const name of ['ip-a', 'ip-b', 'np-a', 'np-b', 'same']) assert.not.ok(await exists(name), `${name} was written`);
    // Two services on one port, each with its own address: valid, both written.
    const ok = await run(command, `${service(`${command.name}-x`, 'ports: [{ port: 80 }]')}---\n${service(`${command.name}-y`, 'ports: [{ port: 80 }]')}`);
    assert.is(ok.code, 0, ok.err.join('\n'));
    for (const name of [`${command.name}-x`, `${command.name}-y`]) await cluster.api.client.delete('services', name, 'default');
  });

  test(`${command.name}: a write refused after the dry run passed undoes what the batch had written`, async () => {
    const real = cluster.api.client;
    const existing = await real.create<Service>({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'kept', labels: { v: '1' } }, spec: { selector: { app: 'kept' }, ports: [{ port: 80 }] } });
    // Between the dry run and the write of the last document, someone else takes its address.
    let rivalled = false;
    const racing = new Proxy(real, {
      get(target, prop, receiver) {
        if (prop !== 'create') return Reflect.get(target, prop, receiver);
        return async (obj: Service, opts?: { dryRun?: boolean }) => {
          if (!opts?.dryRun && obj.metadata.name === 'late' && !rivalled) {
            rivalled = true;
            await real.create<Service>({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'rival' }, spec: { selector: { app: 'rival' }, clusterIP: '127.1.8.8', ports: [{ port: 80 }] } });
          }
          return target.create(obj as never, opts as never);
        };
      },
    }) as ApiClient;
    const keptChange = command === applyCommand ? `---\n${service('kept', 'ports: [{ port: 80 }]').replace('metadata: { name: kept }', 'metadata: { name: kept, labels: { v: "2" } }')}` : '';
    const r = await run(command, `${service('early', 'ports: [{ port: 80 }]')}${keptChange}---\n${service('late', 'clusterIP: 127.1.8.8, ports: [{ port: 80 }]')}`, racing);
    assert.is(r.code, 1);
    const text = r.err.join('\n');
    assert.match(text, /document \d \(Service "late"\): .*spec\.clusterIP: 127\.1\.8\.8 is already allocated to service default\/rival/);
    assert.match(text, /service\/early deleted again/);
    assert.not.ok(await exists('early'), 'what the batch created is gone');
    assert.not.ok(await exists('late'));
    const kept = await real.get<Service>('services', 'kept', 'default');
    assert.is(kept.metadata.labels?.v, '1', 'what the batch changed is as it was');
    assert.is(kept.spec.clusterIP, existing.spec.clusterIP);
    if (command === applyCommand) assert.match(text, /service\/kept put back as it was/);
    for (const name of ['kept', 'rival']) await real.delete('services', name, 'default');
  });
}

test.run();
