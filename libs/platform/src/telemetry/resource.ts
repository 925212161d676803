import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  detectResources,
  envDetector,
  hostDetector,
  processDetector,
  resourceFromAttributes,
  type Resource,
} from '@opentelemetry/resources';

type Env = Record<string, string | undefined>;

// The repository's package.json, found from this file in src/ (ts-jest) and in dist/ alike.
export const packageVersion = (from: string = __dirname): string => {
  for (let dir = from; dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
    if (pkg.name === 'keygate') return pkg.version ?? '0.0.0';
  }
  return '0.0.0';
};

// OTEL_RESOURCE_ATTRIBUTES: comma-separated key=value, values percent-encoded (OpenTelemetry spec).
export const resourceAttributesFromEnv = (env: Env): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const pair of (env.OTEL_RESOURCE_ATTRIBUTES ?? '').split(',')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    try {
      out[pair.slice(0, eq).trim()] = decodeURIComponent(pair.slice(eq + 1).trim());
    } catch {
      /* a malformed value: the env detector reports it */
    }
  }
  return out;
};

// service.name (OTEL_SERVICE_NAME wins over the app's own name), service.version (package.json),
// deployment.environment (OTEL_RESOURCE_ATTRIBUTES, else NODE_ENV). The environment is written under both the
// old and the current semantic-convention name, so backends of either vintage find it.
export const telemetryResource = (serviceName: string, env: Env = process.env): Resource => {
  const fromEnv = resourceAttributesFromEnv(env);
  const environment =
    fromEnv['deployment.environment.name'] ??
    fromEnv['deployment.environment'] ??
    env.NODE_ENV ??
    'development';
  return resourceFromAttributes({
    'service.name': serviceName,
    'service.namespace': 'keygate',
    'service.version': packageVersion(),
    'deployment.environment': environment,
    'deployment.environment.name': environment,
  }).merge(detectResources({ detectors: [hostDetector, processDetector, envDetector] }));
};
