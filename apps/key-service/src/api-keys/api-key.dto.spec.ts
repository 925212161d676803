import { BadRequestException } from '@nestjs/common';
import { strictValidationPipe } from '@keygate/platform';
import { DomainError } from '../domain-errors';
import { validated } from '../grpc/grpc-validation';
import { CreateKeyDto, UpdateKeyDto } from './api-key.dto';

// Hostile input the JSON parser lets through: prototype-named keys are plain data, strings PostgreSQL's jsonb
// cannot hold are a 400 before anything is stored (issue 14).
describe('key DTOs under hostile input', () => {
  const pipe = strictValidationPipe();
  const create = (json: string) =>
    pipe.transform(JSON.parse(json), { type: 'body', metatype: CreateKeyDto }) as Promise<CreateKeyDto>;

  it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty', 'prototype'])(
    'keeps a metadata key named %s as data',
    async (name) => {
      const dto = await create(`{"name":"k","ownerId":"o","metadata":{"${name}":"v","other":"w"}}`);
      expect(Object.entries(dto.metadata ?? {})).toEqual([
        [name, 'v'],
        ['other', 'w'],
      ]);
      expect(({} as Record<string, unknown>).v).toBeUndefined(); // nothing polluted
    },
  );

  it.each([
    ['a name', '{"name":"\\ud800","ownerId":"o"}'],
    ['a metadata value', '{"name":"k","ownerId":"o","metadata":{"a":"x\\udfff"}}'],
    ['a metadata key', '{"name":"k","ownerId":"o","metadata":{"\\udc00":"v"}}'],
    ['a NUL', '{"name":"k\\u0000","ownerId":"o"}'],
  ])('refuses %s that jsonb cannot hold with VALIDATION_FAILED', async (_what, json) => {
    const err = await create(json).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BadRequestException);
    expect((err as BadRequestException).getResponse()).toMatchObject({ code: 'VALIDATION_FAILED' });
  });

  it.each([
    '{"name":"k","ownerId":"o","constructor":{"a":"b"}}',
    '{"name":"k","ownerId":"o","rateLimit":{"__proto__":{"x":1}}}',
    '{"name":"k","ownerId":"o","unknown":{"constructor":"x"}}',
  ])('refuses a prototype-named field outside metadata: %s', async (json) => {
    const err = await create(json).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BadRequestException);
    expect((err as BadRequestException).getResponse()).toMatchObject({ code: 'VALIDATION_FAILED' });
  });

  it('accepts well-formed surrogate pairs', async () => {
    const dto = await create('{"name":"\\ud83d\\udd11 key","ownerId":"o"}');
    expect(dto.name).toBe('🔑 key');
    await expect(
      pipe.transform({ metadata: { constructor: 'x' } }, { type: 'body', metatype: UpdateKeyDto }),
    ).resolves.toMatchObject({ metadata: { constructor: 'x' } });
  });
});

// rateLimit.routes (issue 19): a map of route names, checked entry by entry by the decider's shape rules over REST
// (the strict pipe) and gRPC (validated) alike.
describe('per-route limits in key DTOs', () => {
  const pipe = strictValidationPipe();
  const viaRest = (rateLimit: unknown) =>
    pipe.transform(
      { name: 'k', rateLimit },
      { type: 'body', metatype: CreateKeyDto },
    ) as Promise<CreateKeyDto>;
  const viaGrpc = (rateLimit: unknown) => validated(UpdateKeyDto, { rateLimit });
  const refusal = async (attempt: Promise<unknown>): Promise<string> => {
    const err = await attempt.then(
      () => {
        throw new Error('expected a refusal');
      },
      (e: unknown) => e,
    );
    // A 400 of the pipe: the management error filter answers it as VALIDATION_FAILED.
    if (err instanceof BadRequestException)
      return (err.getResponse() as { message: string | string[] }).message.toString();
    expect(err).toBeInstanceOf(DomainError);
    expect((err as DomainError).code).toBe('VALIDATION_FAILED');
    return (err as DomainError).message;
  };

  it('passes a well-formed map through, route names untouched', async () => {
    const rateLimit = {
      requestsPerMinute: 100,
      routes: { 'gpt-4o': { requestsPerMinute: 10, tokensPerMinute: 9 } },
    };
    await expect(viaRest(rateLimit)).resolves.toMatchObject({ rateLimit });
    await expect(viaGrpc(rateLimit)).resolves.toMatchObject({ rateLimit });
  });

  it.each<[string, unknown, string]>([
    [
      'an entry without a number',
      { 'gpt-4o': {} },
      'rateLimit.routes.gpt-4o needs requestsPerMinute or tokensPerMinute',
    ],
    [
      'an unknown field in an entry',
      { 'gpt-4o': { rpm: 5 } },
      'rateLimit.routes.gpt-4o has unknown fields rpm',
    ],
    [
      'requests per minute out of the key range',
      { 'gpt-4o': { requestsPerMinute: 10_000_001 } },
      'rateLimit.routes.gpt-4o.requestsPerMinute must be an integer from 1 to 10000000',
    ],
    [
      'a non-integer tokens per minute',
      { 'gpt-4o': { tokensPerMinute: 0.5 } },
      'rateLimit.routes.gpt-4o.tokensPerMinute must be an integer from 1 to 1000000000',
    ],
    ['a list', [], 'rateLimit.routes must be an object of route name → limits'],
    [
      '51 routes',
      Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`r${i}`, { requestsPerMinute: 1 }])),
      'rateLimit.routes must have at most 50 routes',
    ],
  ])('refuses %s, saying why, over REST and gRPC', async (_what, routes, message) => {
    expect(await refusal(viaRest({ routes }))).toContain(message);
    expect(await refusal(viaGrpc({ routes }))).toContain(message);
  });

  it('refuses a prototype-named route like any other such field', async () => {
    const routes: unknown = JSON.parse('{"__proto__":{"requestsPerMinute":1}}');
    expect(await refusal(viaRest({ routes }))).toContain('rateLimit.routes.__proto__ should not exist');
  });
});
