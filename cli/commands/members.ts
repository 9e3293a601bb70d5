// skiff get members: the gossip group as one member sees it (any member, or --from NAME), and
// with -w each change in that view (or in every member's) as it happens.
import { ErrorCode, type NatsConnection, type NatsError } from 'nats';
import { decode } from '../../protocol/codec.ts';
import { Unavailable } from '../../protocol/errors.ts';
import { gossipChangesSubject, gossipMembersSubject } from '../../protocol/subjects.ts';
import { decodeMemberChange, type Member, type MembersView } from '../../actors/membership/index.ts';
import { stringOption, UsageError, type CliContext, type Values } from '../command.ts';
import { humanDuration, renderTable } from '../table.ts';
import { loadYaml } from '../yaml.ts';

const HEADERS = ['MEMBER', 'ROLE', 'STATE', 'INCARNATION', 'LAST CHANGE'];
const ORDER: Record<Member['state'], number> = { dead: 0, suspect: 1, left: 2, alive: 3 };

function row(m: Member, now: number): string[] {
  return [m.name, m.role, m.state, String(m.incarnation), `${humanDuration(now - m.since)} ago`];
}

async function fetchView(nc: NatsConnection, from: string | undefined, timeoutMs: number): Promise<MembersView> {
  try {
    const reply = await nc.request(gossipMembersSubject(from), new Uint8Array(), { timeout: timeoutMs });
    return decode(reply.data) as unknown as MembersView;
  } catch (err) {
    const code = (err as NatsError).code;
    if (code === ErrorCode.NoResponders || code === ErrorCode.Timeout) {
      throw new Unavailable(from
        ? `member ${from} does not answer: it is not running, or not in the gossip group (see: skiff get members)`
        : 'no gossip member answers: is the cluster running? start one with: skiff up');
    }
    throw err;
  }
}

export async function getMembers(positionals: string[], values: Values, ctx: CliContext): Promise<number> {
  if (positionals.length > 1) throw new UsageError('skiff get members takes no names; use --from NAME to choose whose view to show');
  for (const flag of ['selector', 'field-selector', 'namespace', 'all-namespaces']) {
    if (values[flag] !== undefined) throw new UsageError(`--${flag} does not apply to members`);
  }
  const output = stringOption(values, 'output');
  if (output && output !== 'json' && output !== 'yaml' && output !== 'wide') throw new UsageError(`-o ${output}: members print as a table, or -o json|yaml`);
  const from = stringOption(values, 'from');
  const nc = await ctx.nats();
  const view = await fetchView(nc, from, ctx.cfg.requestTimeoutMs);
  const now = Date.now();
  if (output === 'json') ctx.out(JSON.stringify(view, null, 2));
  else if (output === 'yaml') ctx.out((await loadYaml()).stringify(view).trimEnd());
  else {
    ctx.err(`As seen by ${view.self}${view.health ? ` (local health score ${view.health}: it is slow itself, and probes less often)` : ''}:`);
    const members = [...view.members].sort((a, b) => ORDER[a.state] - ORDER[b.state] || a.name.localeCompare(b.name));
    ctx.out(renderTable(HEADERS, members.map((m) => row(m, now))));
  }
  if (values.watch === true) await watchMembers(nc, from, ctx);
  return 0;
}

const WATCH_COLUMNS: [string, number][] = [['TIME', 14], ['OBSERVER', 16], ['MEMBER', 16], ['STATE', 9], ['WAS', 9], ['INCARNATION', 0]];
const watchLine = (cells: string[]) => cells.map((c, i) => (WATCH_COLUMNS[i][1] ? c.padEnd(WATCH_COLUMNS[i][1] - 1) : c)).join(' ');

async function watchMembers(nc: NatsConnection, from: string | undefined, ctx: CliContext): Promise<void> {
  ctx.out(watchLine(WATCH_COLUMNS.map(([h]) => h)));
  const sub = nc.subscribe(gossipChangesSubject(from ?? '*'), {
    callback: (err, m) => {
      if (err) return;
      try {
        const c = decodeMemberChange(m.data);
        const time = new Date(c.at).toISOString().slice(11, 23);
        ctx.out(watchLine([time, c.observer, c.member.name, c.member.state, c.previous ?? '-', String(c.member.incarnation)]));
      } catch {
        // Not a change message: skip it.
      }
    },
  });
  await ctx.interrupted;
  sub.unsubscribe();
}
