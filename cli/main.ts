// The skiff command: kubectl-style verbs against the cluster over NATS, and `up` to run one.
import { parseArgs } from 'node:util';
import type { NatsConnection } from 'nats';
import type { ApiClient } from '../actors/client/client.ts';
import { ConfigError, loadConfig } from '../protocol/config.ts';
import { formatError, UsageError, type CliContext } from './command.ts';
import { findVerb, VERBS } from './commands/index.ts';
import { takeCredentialsFlag } from './global-flags.ts';

function topHelp(): string {
  const width = Math.max(...VERBS.map((v) => v.name.length));
  return `skiff: a Kubernetes-style orchestrator for processes.

Usage:
  skiff COMMAND [options]

Commands:
${VERBS.map((v) => `  ${v.name.padEnd(width)}  ${v.summary}`).join('\n')}
  ${'up'.padEnd(width)}  Run a local cluster (or any app) from a Procfile

Run "skiff COMMAND --help" for a command's options.
The cluster is reached over NATS at $SKIFF_NATS_URL (default nats://127.0.0.1:4222).

Global options (before or after the command):
  --credentials FILE  who you are on the cluster; else $SKIFF_CREDENTIALS, else the
                      local cluster's .skiff/auth/admin.creds (see: skiff auth --help)`;
}

// `skiff get pods | head` closes our stdout early; that is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

export async function main(argvWithGlobals: string[]): Promise<number> {
  let argv: string[];
  let credentialsFlag: string | undefined;
  try {
    ({ credentials: credentialsFlag, args: argv } = takeCredentialsFlag(argvWithGlobals));
  } catch (err) {
    console.error(`error: ${(err as Error).message}`);
    return 2;
  }
  const [name, ...rest] = argv;
  if (!name || name === '-h' || name === '--help' || name === 'help') {
    console.log(topHelp());
    return name ? 0 : 2;
  }
  if (name === 'up') return (await import('./up/index.ts')).runUp(rest);
  if (name === '__complete') return (await import('./complete.ts')).printCompletions(rest);
  const verb = findVerb(name);
  if (!verb) {
    console.error(`error: unknown command ${JSON.stringify(name)}; see: skiff --help`);
    return 2;
  }
  let nc: NatsConnection | undefined;
  let stopWaiting = () => {};
  const interrupted = new Promise<void>((resolve) => {
    stopWaiting = resolve;
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  try {
    const cmd = await verb.load();
    const { values, positionals } = parseArgs({ args: rest, options: { ...cmd.options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
    if (values.help) {
      console.log(cmd.help);
      return 0;
    }
    const cfg = loadConfig();
    // NATS and the API client are loaded on first use: --help and local commands never need them.
    const nats = async () => {
      if (nc) return nc;
      const { findCredentials } = await import('../actors/platform/credentials.ts');
      const credentials = findCredentials(credentialsFlag, { localAdmin: true });
      return (nc = await (await import('../actors/platform/nats.ts')).connectNats({ url: cfg.natsUrl, name: `skiff ${name}`, persistent: false, credentials }));
    };
    let client: ApiClient | undefined;
    const ctx: CliContext = {
      cfg,
      out: (t) => console.log(t),
      err: (t) => console.error(t),
      nats,
      client: async () => {
        if (client) return client;
        const { ApiClient } = await import('../actors/client/client.ts');
        return (client = new ApiClient(await nats(), { timeoutMs: cfg.requestTimeoutMs }));
      },
      readStdin: async () => {
        const chunks: Buffer[] = [];
        for await (const c of process.stdin) chunks.push(c as Buffer);
        return Buffer.concat(chunks).toString('utf8');
      },
      interrupted,
    };
    return await cmd.run(values, positionals, ctx);
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith?.('ERR_PARSE_ARGS')) {
      const message = (err as Error).message;
      console.error(`error: ${message}${message.includes('see: ') ? '' : `; see: skiff ${name} --help`}`);
      return 2;
    }
    if (err instanceof ConfigError) {
      console.error(`error: ${err.message}`);
      return 2;
    }
    console.error(formatError(err));
    return 1;
  } finally {
    stopWaiting();
    await nc?.close().catch(() => {});
  }
}

process.exitCode = await main(process.argv.slice(2));
