import { DataSource } from 'typeorm';
import { EventStore1732300000000 } from './migrations/1732300000000-event-store';
import { KeyLastUsed1764700000000 } from './migrations/1764700000000-key-last-used';
import { KeyDormancy1764800000000 } from './migrations/1764800000000-key-dormancy';
import { GroupBudget1764900000000 } from './migrations/1764900000000-group-budget';

// Migrations are committed files, run by `npm run up`/the test setup and at service start; never synchronize.
export const keysMigrations = [
  EventStore1732300000000,
  KeyLastUsed1764700000000,
  KeyDormancy1764800000000,
  GroupBudget1764900000000,
];

export const createKeysDataSource = (url: string): DataSource =>
  new DataSource({
    type: 'postgres',
    url,
    migrations: keysMigrations,
    migrationsTableName: 'typeorm_migrations',
    synchronize: false,
    extra: { max: 20, connectionTimeoutMillis: 3000 },
  });
