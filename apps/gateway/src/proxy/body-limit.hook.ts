import type { FastifyInstance } from 'fastify';
import { openAiError, sendOpenAiError } from './openai-error';

const DISCARD_UP_TO = 64 * 1024 * 1024;

// A body declared larger than the limit is answered 413 before it is parsed. The upload is read and
// discarded first (up to 64 MiB): closing the socket mid-upload makes most clients report a connection
// reset instead of the 413 they were sent.
export const rejectOversizedBodies = (fastify: FastifyInstance, limitBytes: number): void => {
  fastify.addHook('onRequest', (req, reply, done) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (!(declared > limitBytes)) return done();
    const answer = () =>
      sendOpenAiError(
        reply,
        openAiError(413, 'request_too_large', `The request body is too large (limit ${limitBytes} bytes).`),
      );
    if (declared > DISCARD_UP_TO) {
      void reply.header('connection', 'close');
      return answer();
    }
    req.raw.on('error', () => undefined);
    req.raw.once('end', answer);
    req.raw.resume();
  });
};
