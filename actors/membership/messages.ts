// The SWIM messages on `skiff.gossip.<member>`. Each carries its sender; all but nack and the
// full-state exchange carry piggybacked news. And the change a member publishes on
// `skiff.gossip.<member>.changes` when its view of another changes.
import { BadRequest } from '../../protocol/errors.ts';
import { decode, encode } from '../../protocol/codec.ts';
import type { Member, MemberState, News } from './state.ts';

export type Message =
  /** Are you there? Answered with an ack to the reply address. */
  | { type: 'ping'; from: string; target: string; news: News[] }
  | { type: 'ack'; from: string; news: News[] }
  /** Probe `target` for me: answered with its ack, or with a nack when it does not answer. */
  | { type: 'ping-req'; from: string; target: string; news: News[] }
  /** The relay tried and heard nothing (or, with `unreachable`, learnt that nobody is there). */
  | { type: 'nack'; from: string; unreachable?: boolean }
  | { type: 'gossip'; from: string; news: News[] }
  /** Full state, asking for the other's in return (a join is the first one). */
  | { type: 'push-pull'; from: string; join: boolean; members: Member[] }
  | { type: 'state'; from: string; members: Member[] };

export type MessageType = Message['type'];
export const MESSAGE_TYPES: readonly MessageType[] = ['ping', 'ack', 'ping-req', 'nack', 'gossip', 'push-pull', 'state'];

export function encodeMessage(msg: Message): Uint8Array {
  const { type, ...body } = msg;
  return encode(type, body);
}

const NEWS_TYPES = new Set(['alive', 'suspect', 'dead']);
const STATES = new Set(['alive', 'suspect', 'dead', 'left']);

/** Decodes and checks the shape; a malformed message is a BadRequest naming the field. */
export function decodeMessage(data: Uint8Array): Message {
  const env = decode(data);
  if (!(MESSAGE_TYPES as readonly string[]).includes(env.type)) throw new BadRequest(`unknown gossip message type ${JSON.stringify(env.type)}`);
  if (typeof env.from !== 'string' || !env.from) throw new BadRequest(`gossip ${env.type}: field from must be the sender's name`);
  if ((env.type === 'ping' || env.type === 'ping-req') && typeof env.target !== 'string') throw new BadRequest(`gossip ${env.type}: field target must be a member name`);
  if ('news' in env || env.type === 'ping' || env.type === 'ack' || env.type === 'ping-req' || env.type === 'gossip') {
    if (!Array.isArray(env.news)) throw new BadRequest(`gossip ${env.type}: field news must be a list`);
    env.news.forEach((n, i) => {
      const x = n as Partial<News> | null;
      if (!x || !NEWS_TYPES.has(x.type as string) || typeof x.name !== 'string' || typeof x.incarnation !== 'number') {
        throw new BadRequest(`gossip ${env.type}: news[${i}] must have type (alive|suspect|dead), name and incarnation`);
      }
    });
  }
  if (env.type === 'push-pull' || env.type === 'state') {
    if (!Array.isArray(env.members)) throw new BadRequest(`gossip ${env.type}: field members must be a list`);
    env.members.forEach((m, i) => {
      const x = m as Partial<Member> | null;
      if (!x || typeof x.name !== 'string' || typeof x.incarnation !== 'number' || !STATES.has(x.state as string)) {
        throw new BadRequest(`gossip ${env.type}: members[${i}] must have name, incarnation and state`);
      }
    });
  }
  const { v: _v, ...msg } = env;
  return msg as unknown as Message;
}

/** What a member publishes on gossipChangesSubject(itself) each time its view of another changes. */
export interface MemberChange {
  observer: string;
  member: Member;
  previous?: MemberState;
  at: number;
}

const MEMBER_CHANGE = 'member-change';

export function encodeMemberChange(change: MemberChange): Uint8Array {
  return encode(MEMBER_CHANGE, { ...change });
}

/** A change as published; throws on a message that is not one. */
export function decodeMemberChange(data: Uint8Array): MemberChange {
  const msg = decode(data);
  if (msg.type !== MEMBER_CHANGE) throw new BadRequest(`not a member change: ${msg.type}`);
  return msg as unknown as MemberChange;
}
