import { plainToInstance } from 'class-transformer';
import { validate, type ValidationError } from 'class-validator';
import { managementInputProblem, transformHoldingPlainRecords } from '@keygate/platform';
import { DomainError } from '../domain-errors';

const messages = (errors: ValidationError[], path = ''): string[] =>
  errors.flatMap((e) => {
    const at = path ? `${path}.${e.property}` : e.property;
    const own = Object.values(e.constraints ?? {}).map((m) => (path ? `${path}.${m}` : m));
    return [...own, ...messages(e.children ?? [], at)];
  });

// The REST DTOs and rules, applied to a request message already translated to the REST field names, so both
// transports accept and refuse the same input. Values never appear in the messages.
export const validated = async <T extends object>(
  dto: new () => T,
  plain: Record<string, unknown>,
): Promise<T> => {
  const problem = managementInputProblem(plain);
  if (problem) throw new DomainError('VALIDATION_FAILED', problem);
  const refuse = (message: string) => new DomainError('VALIDATION_FAILED', message);
  return transformHoldingPlainRecords(
    dto,
    plain,
    async (value) => {
      const instance = plainToInstance(dto, value);
      const errors = await validate(instance, {
        whitelist: true,
        forbidNonWhitelisted: true,
        validationError: { target: false, value: false },
      });
      if (errors.length) throw refuse(messages(errors).join('; '));
      return instance;
    },
    refuse,
  );
};

// Ids in request messages: proto3 sends "" as absent, which must not reach a query as undefined.
export const requireId = (value: unknown, field: string): string => {
  if (typeof value !== 'string' || value.length === 0 || value.length > 64)
    throw new DomainError('VALIDATION_FAILED', `${field} is required`, { field });
  return value;
};

// Drops undefined entries so "absent" stays absent for `has(field)` checks in the services.
export const defined = (o: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
