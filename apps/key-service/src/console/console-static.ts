import { existsSync } from 'node:fs';
import { join } from 'node:path';
import helmet from '@fastify/helmet';
import fastifyStatic from '@fastify/static';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyInstance } from 'fastify';

export interface ConsoleStaticOptions {
  dir: string; // the vite output; nothing is served when it is missing (a build without the console)
  usageServiceUrl: string; // the only other origin the console may call
}

// dist/apps/key-service/src/console → dist/console
export const defaultConsoleDir = (): string => join(__dirname, '..', '..', '..', '..', 'console');

// The content security policy of the console: its own scripts only (no inline script, no eval), API calls to
// this origin and the usage-service. Inline styles stay allowed: Mantine sets CSS variables in style attributes.
export const consoleCsp = (usageServiceUrl: string) => ({
  defaultSrc: ["'none'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'", "'unsafe-inline'"],
  imgSrc: ["'self'", 'data:'],
  fontSrc: ["'self'"],
  connectSrc: ["'self'", new URL(usageServiceUrl).origin],
  manifestSrc: ["'self'"],
  baseUri: ["'none'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
  objectSrc: ["'none'"],
});

// Serves the console at /console/ with its own security headers. Registered in a child context, so the strict CSP
// does not reach /docs (Swagger UI runs inline script). Hashed assets are immutable; index.html is revalidated.
export const serveConsole = async (
  app: NestFastifyApplication,
  options: ConsoleStaticOptions,
): Promise<boolean> => {
  if (!existsSync(join(options.dir, 'index.html'))) return false;
  await app.register(async (scope: FastifyInstance) => {
    await scope.register(helmet, {
      contentSecurityPolicy: { useDefaults: false, directives: consoleCsp(options.usageServiceUrl) },
      crossOriginEmbedderPolicy: false,
      referrerPolicy: { policy: 'no-referrer' },
    });
    await scope.register(fastifyStatic, {
      root: options.dir,
      prefix: '/console/',
      redirect: true,
      index: ['index.html'],
      cacheControl: false,
      setHeaders: (res, path) => {
        void res.header(
          'cache-control',
          path.includes(`${join(options.dir, 'assets')}`)
            ? 'public, max-age=31536000, immutable'
            : 'no-cache',
        );
      },
    });
  });
  return true;
};
