import { Controller, Get, Inject, Res, ServiceUnavailableException, type Provider } from '@nestjs/common';
import {
  HealthCheck,
  HealthCheckError,
  HealthCheckService,
  type HealthIndicatorResult,
  TerminusModule,
} from '@nestjs/terminus';

// One check per real dependency of a service (PostgreSQL, Redis, Kafka); /health/ready runs them all.
export interface DependencyCheck {
  name: string;
  check(): Promise<void>;
}

export const HEALTH_CHECKS = Symbol('HEALTH_CHECKS');

const withTimeout = async (p: Promise<void>, ms: number): Promise<void> => {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
};

@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    @Inject(HEALTH_CHECKS) private readonly checks: DependencyCheck[],
  ) {}

  @Get('live')
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  // 503 with terminus' own body ({ status: 'error', info, error, details }), set here rather than thrown, so no
  // app's exception filter reshapes what load balancers and SREs read.
  @Get('ready')
  @HealthCheck()
  async ready(@Res({ passthrough: true }) reply: { status(code: number): unknown }) {
    try {
      return await this.check();
    } catch (e) {
      if (!(e instanceof ServiceUnavailableException)) throw e;
      reply.status(503);
      return e.getResponse();
    }
  }

  private check() {
    return this.health.check(
      this.checks.map((c) => async (): Promise<HealthIndicatorResult> => {
        try {
          await withTimeout(c.check(), 2000);
          return { [c.name]: { status: 'up' } };
        } catch (e) {
          // Thrown, not returned: terminus answers 503 only for a HealthCheckError. The reason, never a
          // connection string.
          const message = (e as Error).message.replace(/\w+:\/\/\S+/g, '<url>');
          throw new HealthCheckError(`${c.name} is down`, { [c.name]: { status: 'down', message } });
        }
      }),
    );
  }
}

// An app adds `...healthParts(checksProvider)` to its module: the checks are built from the app's own providers.
export const healthParts = (checks: Provider & { provide: typeof HEALTH_CHECKS }) => ({
  imports: [TerminusModule.forRoot({ logger: false })],
  controllers: [HealthController],
  providers: [checks],
});
