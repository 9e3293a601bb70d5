// The skiff command: kubectl-style verbs against the cluster over NATS, and `up` to run one.
import { parseArgs } from 'node:util';
import type { NatsConnection } from 'nats';
import { ApiClient } from '../actors/lib/client.ts';
import { connectNats } from '../actors/lib/nats.ts';
import { ConfigError, loadConfig } from '../protocol/config.ts';
import { formatError, UsageError, type CliContext, type Command } from './command.ts';
import { apiResourcesCommand } from './commands/api-resources.ts';
import { applyCommand } from './commands/apply.ts';
import { cordonCommand } from './commands/cordon.ts';
import { createCommand } from './commands/create.ts';
import { deleteCommand } from './commands/delete.ts';
import { describeCommand } from './commands/describe.ts';
import { drainCommand } from './commands/drain.ts';
import { getCommand } from './commands/get.ts';
import { execCommand } from './commands/exec.ts';
import { logsCommand } from './commands/logs.ts';
import { rolloutCommand } from './commands/rollout.ts';
import { scaleCommand } from './commands/scale.ts';
import { uncordonCommand } from './commands/uncordon.ts';
import { runUp } from './up/index.ts';

const COMMANDS: Command[] = [
  applyCommand, createCommand, getCommand, describeCommand, deleteCommand, logsCommand, execCommand,
  scaleCommand, rolloutCommand, cordonCommand, uncordonCommand, drainCommand, apiResourcesCommand,
];

function topHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `skiff: a Kubernetes-style orchestrator for processes.

Usage:
  skiff COMMAND [options]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}
  ${'up'.padEnd(width)}  Run a local cluster (or any app) from a Procfile

Run "skiff COMMAND --help" for a command's options.
The cluster is reached over NATS at $SKIFF_NATS_URL (default nats://127.0.0.1:4222).`;
}

// `skiff get pods | head` closes our stdout early; that is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '-h' || name === '--help' || name === 'help') {
    console.log(topHelp());
    return name ? 0 : 2;
  }
  if (name === 'up') return runUp(rest);
  const cmd = COMMANDS.find((c) => c.name === name);
  if (!cmd) {
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
    const { values, positionals } = parseArgs({ args: rest, options: { ...cmd.options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
    if (values.help) {
      console.log(cmd.help);
      return 0;
    }
    const cfg = loadConfig();
    const nats = async () => (nc ??= await connectNats({ url: cfg.natsUrl, name: `skiff ${name}`, persistent: false }));
    let client: ApiClient | undefined;
    const ctx: CliContext = {
      cfg,
      out: (t) => console.log(t),
      err: (t) => console.error(t),
      nats,
      client: async () => (client ??= new ApiClient(await nats(), { timeoutMs: cfg.requestTimeoutMs })),
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
