import { DataSource } from 'typeorm';
import { UsageLedger1732300000001 } from './migrations/1732300000001-usage-ledger';
import { KeyDirectory1732300000002 } from './migrations/1732300000002-key-directory';
import { LedgerPartitions1732300000003 } from './migrations/1732300000003-ledger-partitions';
import { AlertsWebhooks1732300000004 } from './migrations/1732300000004-alerts-webhooks';
import { BudgetEnforcements1732300000005 } from './migrations/1732300000005-budget-enforcements';
import { KeyCare1764800000001 } from './migrations/1764800000001-key-care';
import { InvalidKeyNetworks1764900000001 } from './migrations/1764900000001-invalid-key-networks';
import { GroupBudgets1765000000001 } from './migrations/1765000000001-group-budgets';

export const usageMigrations = [
  UsageLedger1732300000001,
  KeyDirectory1732300000002,
  LedgerPartitions1732300000003,
  AlertsWebhooks1732300000004,
  BudgetEnforcements1732300000005,
  KeyCare1764800000001,
  InvalidKeyNetworks1764900000001,
  GroupBudgets1765000000001,
];

export const createUsageDataSource = (url: string): DataSource =>
  new DataSource({
    type: 'postgres',
    url,
    migrations: usageMigrations,
    migrationsTableName: 'typeorm_migrations',
    synchronize: false,
    extra: { max: 10, connectionTimeoutMillis: 3000 },
  });
