// A skiff command run in this process against a client of the test's: its exit code and output.
import type { ApiClient } from '../actors/client/client.ts';
import type { CliContext, Command, Values } from '../cli/command.ts';
import { loadConfig } from '../protocol/config.ts';

export async function runCommand(command: Command, values: Values, positionals: string[], client: ApiClient, stdin = ''): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const ctx: CliContext = {
    cfg: loadConfig({}), out: (t) => out.push(t), err: (t) => err.push(t), client: async () => client,
    nats: async () => { throw new Error('not used'); }, readStdin: async () => stdin, interrupted: new Promise(() => {}),
  };
  return { code: await command.run(values, positionals, ctx), out, err };
}
