import { Writable } from 'node:stream';
import pinoHttp from 'pino-http';
import { scrubSecrets, serializeError } from './logging.module';

const KEY = 'kg_live_0Zt9cQm1VbX2nR7sLk3PqW8eYh4UjA5oF6iG0dTzMxN1bC2v';

describe('log hygiene', () => {
  it('masks anything shaped like a keygate key, an admin token or a provider key', () => {
    expect(scrubSecrets(`lookup failed for ${KEY}`)).toBe('lookup failed for kg_live_[redacted]');
    expect(scrubSecrets('token kgadm_AbCdEfGhIjKlMnOpQrStUv was revoked')).toBe(
      'token kgadm_[redacted] was revoked',
    );
    expect(scrubSecrets('upstream said: bad key sk-proj-abcdefghijklmnopqrstu')).toBe(
      'upstream said: bad key sk-proj-[redacted]',
    );
    // Ids and masked keys are what logs are supposed to carry.
    expect(scrubSecrets('key key_01HZX revoked, kg_live_…8f2c')).toBe('key key_01HZX revoked, kg_live_…8f2c');
  });

  it('serializes an error as type, code, message and stack only', () => {
    const e = Object.assign(new Error(`rejected ${KEY}`), {
      code: 'E_X',
      config: { headers: { authorization: `Bearer ${KEY}` } },
      body: 'the prompt text',
    });
    const out = serializeError(e);
    expect(Object.keys(out).sort()).toEqual(['code', 'message', 'stack', 'type']);
    expect(JSON.stringify(out)).not.toContain(KEY);
    expect(JSON.stringify(out)).not.toContain('the prompt text');
    expect(out.message).toBe('rejected kg_live_[redacted]');
  });

  it('keeps the message of an error logged through pino-http (which hands over a plain-object rendering)', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const { logger } = pinoHttp({ serializers: { err: serializeError } }, sink);
    class DomainError extends Error {
      code = 'MASTER_KEY_NOT_CONFIGURED';
    }
    logger.error({ err: new DomainError(`no master key; saw ${KEY}`) }, 'request failed');
    const line = JSON.parse(lines[0]) as { err: Record<string, unknown> };
    expect(line.err).toMatchObject({
      type: 'DomainError',
      code: 'MASTER_KEY_NOT_CONFIGURED',
      message: 'no master key; saw kg_live_[redacted]',
    });
    expect(lines[0]).not.toContain(KEY);
  });
});
