// How a child actor reports to the actor that spawned or invoked it: with an event. A machine run
// on its own (a test, a tool) has no parent, and then the report goes nowhere.
import { type AnyActorRef, type EventObject } from 'xstate';

/** Sends `event` to the parent of `self`, if it has one. */
export function toParent(self: AnyActorRef, event: EventObject): void {
  self._parent?.send(event);
}

/** An action that sends `event` to the parent actor, if there is one. */
export const tellParent = (event: EventObject) => ({ self }: { self: AnyActorRef }) => toParent(self, event);
