// The Procfile's nats process: nats-server as a child, /healthz and /metrics on PORT.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { connectNats } from '../actors/platform/nats.ts';
import { freePort, spawnProc, tempDir, waitFor } from './harness.ts';

test('nats process - serves /healthz and /metrics on PORT, and stops nats-server with it', async () => {
  const [port, client, monitor] = [await freePort(), await freePort(), await freePort()];
  const proc = spawnProc(process.execPath, ['--import', 'tsx', 'infra/nats.ts'], {
    env: { PORT: String(port), SKIFF_NATS_PORT: String(client), SKIFF_NATS_MONITOR_PORT: String(monitor), SKIFF_NATS_STORE: tempDir() },
  });
  try {
    await waitFor('the nats process to be healthy', async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok, 15_000);
    const nc = await connectNats({ url: `nats://127.0.0.1:${client}`, name: 'test', persistent: false });
    await waitFor('a scrape to count the connection', async () => /skiff_nats_connections\{[^}]*\} 1/.test(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()), 5000, 100);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.match(metrics, /skiff_nats_up\{component="nats"[^}]*\} 1/);
    assert.match(metrics, /# TYPE skiff_nats_in_messages_total counter/);
    assert.match(metrics, /process_cpu_seconds_total/);
    await nc.close();
  } finally {
    await proc.stop();
  }
  assert.is(await proc.exited, 0, 'a requested stop is a clean exit');
  const reachable = await connectNats({ url: `nats://127.0.0.1:${client}`, name: 'test', persistent: false, timeoutMs: 500 }).then((c) => c.close().then(() => true), () => false);
  assert.not.ok(reachable, 'nats-server stopped with it');
});

test.run();
