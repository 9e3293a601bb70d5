// The reaper's last step (reaper.ts), run by its shell once a kubelet has been gone for the grace.
// Usage: node --import tsx actors/kubelet/reaper-main.ts DATA_DIR DEAD_KUBELET_PID
import { createLogger } from '../platform/log.ts';
import { reapAbandoned } from './reaper.ts';

const [dataDir, pid] = process.argv.slice(2);
const log = createLogger({ component: 'reaper', dataDir });
if (!dataDir || !Number.isInteger(Number(pid))) {
  log.error('usage: reaper-main.ts DATA_DIR DEAD_KUBELET_PID');
  process.exit(2);
}
const killed = reapAbandoned(dataDir, Number(pid));
log.info(killed.length ? 'the kubelet did not come back: killed its containers' : 'nothing to reap', { kubeletPid: Number(pid), killedGroups: killed });
