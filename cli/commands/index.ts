// The skiff verbs: each one's name and summary, and its code, loaded only when it runs, so that
// `skiff --help` reads one small module and `skiff get` never loads the rollout machinery.
import type { Command } from '../command.ts';

export interface Verb {
  name: string;
  summary: string;
  load(): Promise<Command>;
}

export const VERBS: Verb[] = [
  { name: 'apply', summary: 'Create or update objects from manifests', load: async () => (await import('./apply.ts')).applyCommand },
  { name: 'create', summary: 'Create objects from manifests, or a namespace', load: async () => (await import('./create.ts')).createCommand },
  { name: 'get', summary: 'List objects in a table, or print them as YAML or JSON', load: async () => (await import('./get.ts')).getCommand },
  { name: 'describe', summary: 'Show one or many objects in detail, with their events', load: async () => (await import('./describe.ts')).describeCommand },
  { name: 'delete', summary: 'Delete objects by manifest, name or selector', load: async () => (await import('./delete.ts')).deleteCommand },
  { name: 'logs', summary: 'Print the output of a container in a pod', load: async () => (await import('./logs.ts')).logsCommand },
  { name: 'exec', summary: 'Run a command in a container\'s environment', load: async () => (await import('./exec.ts')).execCommand },
  { name: 'scale', summary: 'Set the number of replicas of a Deployment or ReplicaSet', load: async () => (await import('./scale.ts')).scaleCommand },
  { name: 'autoscale', summary: 'Make a HorizontalPodAutoscaler for a Deployment or ReplicaSet', load: async () => (await import('./autoscale.ts')).autoscaleCommand },
  { name: 'rollout', summary: 'Follow, list, undo, restart, pause or resume the rollout of a Deployment', load: async () => (await import('./rollout.ts')).rolloutCommand },
  { name: 'cordon', summary: 'Mark a node unschedulable, so that no new pods are placed on it', load: async () => (await import('./cordon.ts')).cordonCommand },
  { name: 'uncordon', summary: 'Mark a node schedulable again, after cordon or drain', load: async () => (await import('./uncordon.ts')).uncordonCommand },
  { name: 'drain', summary: 'Cordon a node and evict its pods, one replica of each controller at a time', load: async () => (await import('./drain.ts')).drainCommand },
  { name: 'api-resources', summary: 'List the kinds the cluster serves', load: async () => (await import('./api-resources.ts')).apiResourcesCommand },
  { name: 'chaos', summary: 'Run a chaos experiment against the cluster: faults, probes, a verdict', load: async () => (await import('./chaos.ts')).chaosCommand },
  { name: 'top', summary: 'Show the CPU and memory nodes and pods use', load: async () => (await import('./top.ts')).topCommand },
  { name: 'auth', summary: 'Create and delete users, list identities, ask what a user may do', load: async () => (await import('./auth.ts')).authCommand },
  { name: 'version', summary: 'Print the client\'s and the cluster\'s versions', load: async () => (await import('./version.ts')).versionCommand },
  { name: 'completion', summary: 'Print a bash or zsh script that completes skiff\'s commands, kinds and names', load: async () => (await import('./completion.ts')).completionCommand },
];

export function findVerb(name: string): Verb | undefined {
  return VERBS.find((v) => v.name === name);
}
