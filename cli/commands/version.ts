// skiff version: this client's release and protocol, and the cluster's as an apiserver tells it,
// as `kubectl version` shows them. The client's part is printed before the cluster is asked, so
// it shows also when no cluster answers.
import { PROTOCOL_VERSION, SKIFF_VERSION, type ServerVersion } from '../../protocol/version.ts';
import { formatError, stringOption, UsageError, type Command } from '../command.ts';
import { loadYaml } from '../yaml.ts';

interface Versions {
  clientVersion: { version: string; protocol: number };
  serverVersion?: ServerVersion;
}

function describe(v: { version: string; protocol: number }): string {
  return `${v.version} (protocol v${v.protocol})`;
}

export const versionCommand: Command = {
  name: 'version',
  help: `Print the version of this client and of the cluster it reaches.

Usage:
  skiff version [--client] [-o json|yaml]

The cluster's version comes from one of its apiservers. A client and a cluster of different
protocol versions cannot talk to each other: upgrade the older one.

Options:
      --client   Only this client's version; the cluster is not asked.
  -o, --output   json or yaml instead of lines of text.
  -h, --help     Show this help.`,
  options: { client: { type: 'boolean' }, output: { type: 'string', short: 'o' } },
  async run(values, positionals, ctx) {
    if (positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    const output = stringOption(values, 'output');
    if (output !== undefined && output !== 'json' && output !== 'yaml') throw new UsageError(`-o ${output}: unsupported output format (use json or yaml)`);
    const versions: Versions = { clientVersion: { version: SKIFF_VERSION, protocol: PROTOCOL_VERSION } };
    if (!output) ctx.out(`Client Version: ${describe(versions.clientVersion)}`);
    if (values.client === true) {
      if (output) ctx.out(await render(versions, output));
      return 0;
    }
    let failure: unknown;
    try {
      versions.serverVersion = await (await ctx.client()).version();
    } catch (err) {
      failure = err;
    }
    if (output) ctx.out(await render(versions, output));
    else if (versions.serverVersion) {
      const s = versions.serverVersion;
      ctx.out(`Server Version: ${describe(s)}, apiserver ${s.instance}${s.natsVersion ? `, nats-server ${s.natsVersion}` : ''}`);
    }
    if (failure) {
      ctx.err(formatError(failure));
      return 1;
    }
    if (versions.serverVersion!.version !== SKIFF_VERSION) {
      ctx.err(`WARNING: this client (${SKIFF_VERSION}) and the cluster (${versions.serverVersion!.version}) are different releases`);
    }
    return 0;
  },
};

async function render(versions: Versions, output: 'json' | 'yaml'): Promise<string> {
  if (output === 'json') return JSON.stringify(versions, null, 2);
  return (await loadYaml()).stringify(versions).trimEnd();
}
