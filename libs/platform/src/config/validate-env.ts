import 'reflect-metadata';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';

// Fail fast: a bad variable stops the process at start with a message naming it.
// Env classes need explicit property types (`PORT: number = 3001`): conversion reads their design:type.
export const validateEnv =
  <T extends object>(cls: new () => T) =>
  (raw: Record<string, unknown>): T => {
    const env = plainToInstance(cls, raw, { enableImplicitConversion: true, exposeDefaultValues: true });
    const errors = validateSync(env, { skipMissingProperties: false, whitelist: false });
    if (errors.length > 0) {
      const lines = errors.map(
        (e) =>
          `  ${e.property}=${shown(e.property, e.value)}: ${Object.values(e.constraints ?? {}).join('; ')}`,
      );
      throw new Error(`Invalid configuration:\n${lines.join('\n')}`);
    }
    return env;
  };

// A bad secret is named, never printed; a URL is printed without its password.
const shown = (name: string, value: unknown): string => {
  if (value === undefined) return '(unset)';
  if (/TOKEN|KEY|SECRET|PASSWORD/i.test(name)) return '(hidden)';
  return JSON.stringify(value).replace(/(\/\/[^:/@"]*):[^@"]*@/g, '$1:***@');
};

export const loadEnv = <T extends object>(cls: new () => T, raw: Record<string, unknown> = process.env): T =>
  validateEnv(cls)(raw);
