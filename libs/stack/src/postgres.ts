import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import {
  commandExists,
  errorMessage,
  type InfraLog,
  isLocalHost,
  redactUrl,
  runCommand,
  waitFor,
} from './wait';

export interface EnsurePostgresResult {
  /** true when we had to start the local cluster with pg_ctlcluster. */
  started: boolean;
  /** Databases created by this call (names only). */
  created: string[];
}

const START_TIMEOUT_MS = 30_000;
const CONNECT_TIMEOUT_MS = 3_000;
const POSTGRES_ETC = '/etc/postgresql';

interface ParsedDbUrl {
  /** Same server and credentials, `postgres` maintenance database. */
  maintenanceUrl: string;
  /** Identifies the server+credentials, for grouping and logs (no password). */
  serverKey: string;
  host: string;
  database: string;
}

function parseDbUrl(url: string): ParsedDbUrl {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`Invalid PostgreSQL URL: ${redactUrl(url)}`);
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw new Error(`Not a PostgreSQL URL: ${redactUrl(url)}`);
  }
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!database) throw new Error(`PostgreSQL URL has no database name: ${redactUrl(url)}`);
  const maintenance = new URL(u.toString());
  maintenance.pathname = '/postgres';
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return {
    maintenanceUrl: maintenance.toString(),
    serverKey: `${u.username || 'postgres'}@${u.hostname || 'localhost'}:${u.port || '5432'}`,
    host,
    database,
  };
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

async function withClient<T>(url: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  // An 'error' event after connect (server shutting down) must not crash the process.
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** SQLSTATE errors mean the server answered: starting a cluster will not fix them (except "starting up"). */
function isServerAnswer(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && code !== '57P03';
}

async function ping(maintenanceUrl: string): Promise<void> {
  await withClient(maintenanceUrl, (c) => c.query('SELECT 1'));
}

async function startLocalClusters(log: InfraLog): Promise<boolean> {
  if (!(await commandExists('pg_ctlcluster'))) return false;
  let versions: string[];
  try {
    versions = (await fsp.readdir(POSTGRES_ETC)).sort();
  } catch {
    return false;
  }
  let attempted = false;
  for (const version of versions) {
    try {
      await fsp.access(join(POSTGRES_ETC, version, 'main'));
    } catch {
      continue;
    }
    attempted = true;
    log(`postgres: starting local cluster ${version}/main with pg_ctlcluster`);
    try {
      await runCommand('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'start'], {
        timeoutMs: 30_000,
      });
    } catch (err) {
      // Exit code 2 = "already running"; either way the connection retry below decides.
      log(`postgres: ${errorMessage(err).replace(/\s*\n\s*/g, ' | ')}`);
    }
  }
  return attempted;
}

/**
 * Makes sure every URL's server answers (starting the local Debian cluster when it is down) and that
 * every URL's database exists.
 */
export async function ensurePostgres(urls: string[], log: InfraLog): Promise<EnsurePostgresResult> {
  const parsed = urls.map((url) => ({ url, ...parseDbUrl(url) }));
  const servers = new Map<string, (typeof parsed)[number]>();
  for (const p of parsed) if (!servers.has(p.serverKey)) servers.set(p.serverKey, p);

  let started = false;
  let startAttempted = false;
  for (const server of servers.values()) {
    try {
      await ping(server.maintenanceUrl);
      continue;
    } catch (err) {
      if (isServerAnswer(err)) {
        throw new Error(`PostgreSQL at ${server.serverKey} refused us: ${errorMessage(err)}`);
      }
      if (!isLocalHost(server.host)) {
        throw new Error(`PostgreSQL at ${server.serverKey} does not answer: ${errorMessage(err)}`);
      }
      log(`postgres: ${server.serverKey} does not answer (${errorMessage(err)})`);
    }
    // Start at most once per call: one local cluster serves every local URL.
    if (!startAttempted) {
      startAttempted = true;
      started = await startLocalClusters(log);
    }
    await waitFor(
      async () => {
        await ping(server.maintenanceUrl);
        return true;
      },
      { timeoutMs: START_TIMEOUT_MS, intervalMs: 500, what: `PostgreSQL at ${server.serverKey}` },
    );
    log(`postgres: ${server.serverKey} is up`);
  }

  const created: string[] = [];
  for (const p of parsed) {
    if (await createDatabaseIfMissing(p.maintenanceUrl, p.database)) {
      created.push(p.database);
      log(`postgres: created database ${p.database} on ${p.serverKey}`);
    }
  }
  return { started, created };
}

async function createDatabaseIfMissing(maintenanceUrl: string, database: string): Promise<boolean> {
  return withClient(maintenanceUrl, async (client) => {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (found.rowCount) return false;
    try {
      await client.query(`CREATE DATABASE ${quoteIdent(database)}`);
      return true;
    } catch (err) {
      // A concurrent creator won: 42P04 duplicate_database, or 23505 on pg_database's unique index.
      const code = (err as { code?: unknown }).code;
      if (code === '42P04' || code === '23505') return false;
      throw err;
    }
  });
}

/** Drops the URL's database, disconnecting anyone still using it (tests only). */
export async function dropDatabase(url: string): Promise<void> {
  const { maintenanceUrl, database } = parseDbUrl(url);
  if (database === 'postgres') throw new Error('Refusing to drop the postgres maintenance database');
  await withClient(maintenanceUrl, async (client) => {
    await client.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
      [database],
    );
    await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(database)} WITH (FORCE)`);
  });
}
