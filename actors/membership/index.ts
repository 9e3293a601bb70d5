export { Membership, type MembersView } from './membership.ts';
export { decodeMemberChange, type MemberChange } from './messages.ts';
export { membershipMachine, type MemberChanged } from './membership.machine.ts';
export type { Member, MemberRole, MemberState } from './state.ts';
export { swimConfig, type SwimConfig } from './timing.ts';
