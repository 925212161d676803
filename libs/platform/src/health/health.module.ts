import { Controller, Get, Inject, Res, ServiceUnavailableException, type Provider } from '@nestjs/common';
import {
  HealthCheck,
  HealthCheckService,
  type HealthIndicatorResult,
  HealthIndicatorService,
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
    private readonly indicators: HealthIndicatorService,
    @Inject(HEALTH_CHECKS) private readonly checks: DependencyCheck[],
  ) {}

  // The runtime's version too: an operator (and the e2e tier) can see which Node.js a service really runs on.
  @Get('live')
  live(): { status: 'ok'; node: string } {
    return { status: 'ok', node: process.version };
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
        const indicator = this.indicators.check(c.name);
        try {
          await withTimeout(c.check(), 2000);
          return indicator.up();
        } catch (e) {
          // The reason, never a connection string. A `down` result makes terminus answer 503.
          return indicator.down({ message: (e as Error).message.replace(/\w+:\/\/\S+/g, '<url>') });
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
