import { BadRequestException } from '@nestjs/common';
import { strictValidationPipe } from '@keygate/platform';
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
