import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { commandExists, runCommand, type InfraLog } from './wait';

const MVN_TIMEOUT_MS = 10 * 60_000;

/**
 * Copies the runtime artifacts a pom declares (Kafka's jars, Zipkin's exec jar) from Maven into `outDir`;
 * skipped while the pom is unchanged (its hash is kept in `outDir/.resolved`).
 */
export async function resolveMavenArtifacts(
  pomPath: string,
  outDir: string,
  what: string,
  log: InfraLog,
): Promise<void> {
  const marker = join(outDir, '.resolved');
  const pomHash = createHash('sha256')
    .update(await fsp.readFile(pomPath))
    .digest('hex');
  try {
    if ((await fsp.readFile(marker, 'utf8')).trim() === pomHash) return;
  } catch {
    // not resolved yet
  }
  if (!(await commandExists('mvn'))) {
    throw new Error(`${what} is not resolved yet and \`mvn\` is not installed (needed once to fetch it)`);
  }
  log(`resolving ${what} with Maven (first run only)`);
  const started = Date.now();
  // Copy into a temp dir and rename, so an interrupted run never leaves a half-filled dir that looks complete.
  const tmp = `${outDir}.tmp-${process.pid}`;
  await fsp.rm(tmp, { recursive: true, force: true });
  await runCommand(
    'mvn',
    [
      '-q',
      '-B',
      '-f',
      pomPath,
      'dependency:copy-dependencies',
      '-DincludeScope=runtime',
      `-DoutputDirectory=${tmp}`,
    ],
    { timeoutMs: MVN_TIMEOUT_MS },
  );
  await fsp.writeFile(join(tmp, '.resolved'), `${pomHash}\n`);
  // Another process (a second stack, a parallel test) may have resolved the same pom meanwhile: keep its copy.
  if ((await fsp.readFile(marker, 'utf8').catch(() => '')).trim() === pomHash) {
    await fsp.rm(tmp, { recursive: true, force: true });
    return;
  }
  await fsp.rm(outDir, { recursive: true, force: true });
  await fsp.rename(tmp, outDir);
  log(`${what} resolved in ${((Date.now() - started) / 1000).toFixed(1)}s`);
}
