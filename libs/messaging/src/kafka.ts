import { Kafka, logLevel, type LogEntry } from 'kafkajs';

// kafkajs logs through our logger at warn and above; its own console output is noise in three services.
const toLogger =
  (log: (level: 'warn' | 'error', msg: string) => void) =>
  () =>
  ({ level, log: entry }: LogEntry) => {
    const { message, error } = entry as { message: string; error?: string };
    if (level === logLevel.ERROR) log('error', `${message}${error ? `: ${error}` : ''}`);
    else if (level === logLevel.WARN) log('warn', message);
  };

export const createKafka = (
  clientId: string,
  brokers: string[],
  log: (level: 'warn' | 'error', msg: string) => void = () => undefined,
): Kafka =>
  new Kafka({
    clientId,
    brokers,
    logLevel: logLevel.WARN,
    logCreator: toLogger(log),
    connectionTimeout: 3000,
    requestTimeout: 10000,
    retry: { initialRetryTime: 200, maxRetryTime: 5000, retries: 8 },
  });
