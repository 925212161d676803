import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

const DISCARD_UP_TO = 64 * 1024 * 1024;

export type OversizedBodyAnswer = (req: FastifyRequest, reply: FastifyReply, limitBytes: number) => void;

// A body declared larger than the limit is answered 413 before it is parsed, in the service's own error shape.
// The upload is read and discarded first (up to 64 MiB): closing the socket mid-upload makes most clients report
// a connection reset (EPIPE, ECONNRESET) instead of the 413 they were sent.
export const rejectOversizedBodies = (
  fastify: FastifyInstance,
  limitBytes: number,
  answer: OversizedBodyAnswer,
): void => {
  fastify.addHook('onRequest', (req, reply, done) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (!(declared > limitBytes)) return done();
    if (declared > DISCARD_UP_TO) {
      void reply.header('connection', 'close');
      return answer(req, reply, limitBytes);
    }
    req.raw.on('error', () => undefined);
    req.raw.once('end', () => answer(req, reply, limitBytes));
    req.raw.resume();
  });
};
