import { DomainError, type DomainErrorCode } from '../domain-errors';

// given(events).when(command).then(events) for any decider (emmett's DeciderSpecification, trimmed down).
// Test-only; imported by the *.decider.spec.ts files. Never `return` or `await` the result of when():
// it has a `then` method, so a Promise machinery would treat it as a thenable.

export interface Decider<Command, Event, State, Context> {
  initialState: () => State;
  evolve: (state: State, event: Event) => State;
  decide: (command: Command, state: State, ctx: Context) => Event[];
}

export interface DeciderOutcome<Event> {
  then: (expected: Event[]) => void;
  thenNothing: () => void;
  thenThrows: (code: DomainErrorCode, details?: Record<string, unknown>) => void;
}

export const deciderSpec = <Command, Event, State, Context>(
  decider: Decider<Command, Event, State, Context>,
  defaultContext: () => Context,
) => ({
  given: (history: Event[]) => ({
    when: (command: Command, context: Partial<Context> = {}): DeciderOutcome<Event> => {
      const run = (): Event[] => {
        const state = history.reduce(decider.evolve, decider.initialState());
        return decider.decide(command, state, { ...defaultContext(), ...context });
      };
      const outcome: DeciderOutcome<Event> = {
        then: (expected) => expect(run()).toEqual(expected),
        thenNothing: () => outcome.then([]),
        thenThrows: (code, details) => {
          let thrown: unknown;
          try {
            const events = run();
            thrown = new Error(`expected ${code}, but decide returned ${JSON.stringify(events)}`);
          } catch (error) {
            thrown = error;
          }
          if (!(thrown instanceof DomainError)) throw thrown;
          expect((thrown as DomainError).code).toBe(code);
          if (details) expect((thrown as DomainError).details).toMatchObject(details);
        },
      };
      return outcome;
    },
  }),
});
