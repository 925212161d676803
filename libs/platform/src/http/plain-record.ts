import 'reflect-metadata';

// class-transformer reads a plain object's `constructor` property as its class (a key named "constructor" in
// key metadata was a TypeError: 500 on REST, INTERNAL on gRPC) and silently drops `__proto__`. A free-form map of
// the caller's own names is therefore held away from it: the DTO validates a placeholder, the map itself is put
// back untouched and checked by its decider (strings, sizes). Anywhere else such a key is not a field: refused.

const PLAIN_RECORDS = Symbol.for('keygate.plainRecords');
// Every name Object.prototype answers (constructor, __proto__, toString, valueOf, hasOwnProperty...) and `prototype`:
// class-validator's whitelist takes an own `toString` or `prototype` for a known property and lets it through.
const PROTOTYPE_KEYS = new Set([...Object.getOwnPropertyNames(Object.prototype), 'prototype']);

// Marks a DTO property as a free-form map of caller-chosen names (e.g. key metadata).
export const PlainRecord = (): PropertyDecorator => (target, property) => {
  const ctor = target.constructor;
  const own = (Reflect.getOwnMetadata(PLAIN_RECORDS, ctor) as (string | symbol)[] | undefined) ?? [];
  Reflect.defineMetadata(PLAIN_RECORDS, [...own, property], ctor);
};

const plainRecordsOf = (cls: unknown): string[] => {
  const names: string[] = [];
  for (let c = cls; typeof c === 'function' && c !== Function.prototype; c = Object.getPrototypeOf(c)) {
    const own = Reflect.getOwnMetadata(PLAIN_RECORDS, c) as (string | symbol)[] | undefined;
    for (const name of own ?? []) if (typeof name === 'string') names.push(name);
  }
  return names;
};

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

// The path of the first prototype-named key, at any depth (iterative: depth is bounded elsewhere, not here).
export const prototypeKeyPath = (value: unknown): string | null => {
  const pending: [unknown, string][] = [[value, '']];
  while (pending.length > 0) {
    const [v, path] = pending.pop()!;
    if (v === null || typeof v !== 'object') continue;
    for (const [k, child] of Object.entries(v)) {
      const at = path ? `${path}.${k}` : k;
      if (!Array.isArray(v) && PROTOTYPE_KEYS.has(k)) return at;
      pending.push([child, at]);
    }
  }
  return null;
};

// Runs `transform` (class-transformer, then class-validator) on the value without its plain records and puts them
// back on the result; `refuse` builds the transport's validation error.
export const transformHoldingPlainRecords = async <T>(
  metatype: unknown,
  value: unknown,
  transform: (value: unknown) => Promise<T>,
  refuse: (message: string) => Error,
): Promise<T> => {
  if (!isPlainObject(value)) {
    const path = prototypeKeyPath(value);
    if (path) throw refuse(`property ${path} should not exist`);
    return transform(value);
  }
  const rest: Record<string, unknown> = { ...value };
  const held = new Map<string, Record<string, unknown>>();
  for (const name of plainRecordsOf(metatype)) {
    const record = rest[name];
    if (!isPlainObject(record)) continue; // not an object: the DTO's own validators refuse it
    held.set(name, record);
    rest[name] = {};
  }
  const path = prototypeKeyPath(rest);
  if (path) throw refuse(`property ${path} should not exist`);
  const result = await transform(rest);
  if (isPlainObject(result)) {
    const dto: Record<string, unknown> = result;
    for (const [name, record] of held) dto[name] = record;
  }
  return result;
};
