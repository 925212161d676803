import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';

export type RawBodyRequest = FastifyRequest & { rawBody?: Buffer };

// A signature is over the bytes as sent, not over the parsed JSON: keep them for the routes that verify one.
// A chunked upload declares no length: the cap is counted here, as Fastify's parser would.
export const keepRawBody = (fastify: FastifyInstance, paths: string[], limitBytes: number): void => {
  fastify.addHook('preParsing', async (req: RawBodyRequest, _reply, payload) => {
    if (!paths.includes(req.url.split('?')[0])) return payload;
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of payload) {
      size += (chunk as Buffer).length;
      if (size > limitBytes)
        throw Object.assign(new Error('request body too large'), {
          statusCode: 413,
          code: 'PAYLOAD_TOO_LARGE',
        });
      chunks.push(chunk as Buffer);
    }
    req.rawBody = Buffer.concat(chunks);
    const replay = Readable.from([req.rawBody]) as Readable & { receivedEncodedLength: number };
    replay.receivedEncodedLength = req.rawBody.length;
    return replay;
  });
};
