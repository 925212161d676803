import { IsOptional, IsString } from 'class-validator';
import { strictValidationPipe } from './bootstrap';
import { PlainRecord } from './plain-record';

class Dto {
  @IsString() name!: string;
  @IsOptional() @PlainRecord() metadata?: Record<string, string>;
}

// Prototype-named keys are data inside a free-form map and refused as fields anywhere else, at any depth.
describe('the strict validation pipe and prototype-named keys', () => {
  const pipe = strictValidationPipe();
  const run = (value: unknown) => pipe.transform(value, { type: 'body', metatype: Dto });

  it.each(['constructor', '__proto__', 'prototype', 'toString', 'valueOf'])(
    'refuses a field named %s',
    async (k) => {
      const body = JSON.parse(`{"name":"a",${JSON.stringify(k)}:{}}`) as unknown;
      await expect(run(body)).rejects.toMatchObject({ response: { code: 'VALIDATION_FAILED' } });
    },
  );

  it('keeps them as data in a free-form map', async () => {
    const metadata = JSON.parse('{"constructor":"c","__proto__":"p","prototype":"x"}') as Record<
      string,
      string
    >;
    const dto = (await run({ name: 'a', metadata })) as Dto;
    expect(Object.entries(dto.metadata!).sort()).toEqual(Object.entries(metadata).sort());
  });
});
