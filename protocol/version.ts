// What a skiff build is: its release (package.json's version, fixed into dist/ when it is built)
// and the wire protocol it speaks. No other module is imported here, so that `skiff version`
// reads nothing else.
import pkg from '../package.json' with { type: 'json' };

export const SKIFF_VERSION: string = pkg.version;

/**
 * 2: watch events in batches (`events`) and the pods' `bind` verb. A process of another version
 * is refused with a message that names both, rather than half understood.
 */
export const PROTOCOL_VERSION = 2;

/** What an apiserver says of itself (the `version` request, as Kubernetes' /version). */
export interface ServerVersion {
  version: string;
  protocol: number;
  /** The apiserver that answered. */
  instance: string;
  /** The nats-server it is connected to. */
  natsVersion?: string;
}
