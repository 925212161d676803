export * from './kafka';
export * from './trace-context';
export * from './event-producer';
export * from './event-consumer';
export * from './threaded-producer';
export * from './background-consumer';
