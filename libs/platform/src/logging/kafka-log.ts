import { Logger } from '@nestjs/common';

// kafkajs's warnings and errors (connection errors, leader moves, retries, rebalances) in the service's own log,
// context "kafka": without them a consumer that stalls after a broker loss leaves no trace.
const logger = new Logger('kafka');
export const kafkaLog = (level: 'warn' | 'error', message: string): void =>
  level === 'error' ? logger.error(message) : logger.warn(message);
