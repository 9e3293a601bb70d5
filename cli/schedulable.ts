// Cordoning: a Node's spec.unschedulable, which keeps the scheduler from placing new pods on it.
import type { ApiClient } from '../actors/client/client.ts';
import type { Node } from '../protocol/types.ts';

/** Sets spec.unschedulable; false if the node already had that value (nothing is written then). */
export async function setUnschedulable(client: ApiClient, node: string, unschedulable: boolean): Promise<boolean> {
  const current = await client.get<Node>('nodes', node);
  if ((current.spec?.unschedulable ?? false) === unschedulable) return false;
  await client.patch('nodes', node, undefined, { spec: { unschedulable } });
  return true;
}
