// skiff chaos run: a chaos experiment against the running cluster (cli/chaos/).
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseDuration } from '../../protocol/duration.ts';
import { stringOption, UsageError, type Command } from '../command.ts';
import { ExperimentError, parseExperiment } from '../chaos/experiment.ts';
import { resultHtml, resultTable } from '../chaos/report.ts';
import { runExperiment } from '../chaos/run.ts';

export const chaosCommand: Command = {
  name: 'chaos',
  help: `Run a chaos experiment against the running cluster, and say whether it held.

Usage:
  skiff chaos run FILE [-o table|json] [--report FILE.html] [--dir DIR] [--seed N] [--duration D]

An experiment (kind: ChaosExperiment, apiVersion: skiff.io/v1; examples in infra/chaos/) has a
steady-state hypothesis (probes that must hold before and after), a method (faults at fixed or
seeded-random times over a duration, on targets chosen by mode: one, all, fixed N, fixed-percent,
random-max-percent), probes checked all through the method, and rollbacks (what was paused is
resumed, CPU burners stopped, links healed), always.

Faults: kill-node (SIGKILL), pause-node (SIGSTOP, SIGCONT after its duration), kill-pod (its
containers' processes), kill-leader (the leading master), kill-nats, lame-duck-nats (the server
hands over and stops; skiff up leaves it stopped), burn-cpu (every core, for its
duration), burn-memory (size: 256Mi, for its duration); and on a node's link to NATS, for its
duration: network-delay (latency each way, jitter), network-loss (loss: the percentage of segments
lost, each costing a TCP retransmission) and network-partition (nothing passes). The network
faults need nodes started with SKIFF_NODE_FAULT_LINK=on, as skiff up starts them. Processes are
found by what skiff up and the local cloud provider recorded in DIR/.skiff, never by name.

Probes: http (URL, expected status, timeout, success rate), cmd (exit 0), object (a field of an
object equal to a value, such as a Deployment's status.availableReplicas), prom (a PromQL query's
first sample compared with a value: url, query, comparator, value), recovery (with object or
http: the time until it holds again after each fault, at most 'within'), consistency (clients
increment and read registers by compare-and-swap through the apiserver; the history must be
linearizable, keep every acknowledged write, and hand out no uid twice).

The result: the verdict (Pass only if every probe held), each probe's success percentage, the
resilience score as Litmus computes it, and a timeline. The exit code is 0 on Pass, 1 on Fail.

Options:
  -o, --output FORMAT    table (default) or json: one JSON object with verdict and resilienceScore
      --report FILE      also write an HTML report with the timeline drawn
      --dir DIR          where the cluster was started (its .skiff; default: here)
      --seed N           the seed for random targets and times (default: the experiment's)
      --duration D       a short form: the method lasts D (such as 60s); random times are drawn
                         over it and fixed ones after it left out
  -h, --help             Show this help.

Examples:
  skiff chaos run infra/chaos/node-kill.yaml
  skiff chaos run infra/chaos/partition.yaml
  skiff chaos run infra/chaos/bad-day.yaml -o json --report bad-day.html`,
  options: { output: { type: 'string', short: 'o' }, report: { type: 'string' }, dir: { type: 'string' }, seed: { type: 'string' }, duration: { type: 'string' } },
  async run(values, positionals, ctx) {
    const [verb, file, extra] = positionals;
    if (verb !== 'run') throw new UsageError(verb ? `skiff chaos ${verb}: the only verb is run` : 'give an experiment: skiff chaos run FILE');
    if (!file) throw new UsageError('skiff chaos run FILE: the experiment file is missing');
    if (extra) throw new UsageError(`unexpected argument ${JSON.stringify(extra)}`);
    const output = stringOption(values, 'output') ?? 'table';
    if (output !== 'table' && output !== 'json') throw new UsageError(`-o ${output}: use table or json`);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      ctx.err(`error: cannot read ${file}: ${(err as Error).message}`);
      return 2;
    }
    const duration = stringOption(values, 'duration');
    let durationMs: number | undefined;
    if (duration !== undefined) {
      try {
        durationMs = parseDuration(duration, '--duration');
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
    }
    let experiment;
    try {
      experiment = parseExperiment(text, { durationMs });
    } catch (err) {
      if (!(err instanceof ExperimentError)) throw err;
      ctx.err(`error: ${file}: ${err.message}`);
      return 2;
    }
    const seed = stringOption(values, 'seed');
    if (seed !== undefined) {
      if (!/^\d+$/.test(seed)) throw new UsageError(`--seed ${seed}: a whole number`);
      experiment.seed = Number(seed);
    }
    const client = await ctx.client();
    const say = output === 'json' ? (line: string) => process.stderr.write(`${line}\n`) : (line: string) => ctx.out(line);
    const result = await runExperiment(experiment, { client, dir: resolve(stringOption(values, 'dir') ?? '.'), say });
    if (output === 'json') ctx.out(JSON.stringify(result));
    else ctx.out(`\n${resultTable(result)}`);
    const report = stringOption(values, 'report');
    if (report) writeFileSync(report, resultHtml(result));
    return result.verdict === 'Pass' ? 0 : 1;
  },
};
