import { Logger } from '@nestjs/common';
import { BackgroundConsumer as Retrying, type EventConsumer } from '@keygate/messaging';
import { exitOnStartupError } from '@keygate/platform';

// The shared start-and-retry consumer (libs/messaging), logging through Nest under this consumer's name; a topic
// with the wrong settings stops the service with the message.
export class BackgroundConsumer extends Retrying {
  constructor(name: string, consumer: EventConsumer) {
    const logger = new Logger(name);
    super(consumer, (m) => logger.warn(m), exitOnStartupError('usage-service'));
  }
}
