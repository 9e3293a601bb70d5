// How a child actor reports to the actor that spawned or invoked it: with an event. A machine run
// on its own (a test, a tool) has no parent, and then the report goes nowhere.
import { type AnyActorRef, type EventObject } from 'xstate';

/** An action that sends `event` to the parent actor, if there is one. */
export const tellParent = (event: EventObject) => ({ self }: { self: AnyActorRef }) => {
  self._parent?.send(event);
};
