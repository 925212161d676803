// Three tiers (STYLE.md): unit specs next to the code, integration against the real infrastructure,
// e2e against the running services. Integration and e2e share one infrastructure start (test/global-setup.ts).
// isolatedModules (tsconfig) makes ts-jest transpile only: `npm run typecheck` checks types, once.
// Every test run lives in the `test.` namespace (topics, default consumer groups, pub/sub channel: libs/contracts
// topics.ts), whatever the shell says: a developer's `npm run up` stack on the same broker and Redis never sees it.
process.env.KAFKA_TOPIC_PREFIX = 'test.';
const tsJest = ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json' }];
const moduleNameMapper = {
  '^@keygate/(contracts|messaging|platform|stack|testing)$': '<rootDir>/libs/$1/src',
  '^@keygate/(contracts|messaging|platform|stack|testing)/(.*)$': '<rootDir>/libs/$1/src/$2',
};
const base = {
  rootDir: __dirname,
  transform: { '^.+\\.ts$': tsJest },
  moduleNameMapper,
  testEnvironment: 'node',
};

module.exports = {
  testTimeout: 120000,
  projects: [
    {
      ...base,
      displayName: 'unit',
      testMatch: ['<rootDir>/{apps,libs,scripts}/**/*.spec.ts', '<rootDir>/test/*.spec.ts'],
    },
    {
      ...base,
      displayName: 'integration',
      testMatch: ['<rootDir>/{apps,libs,test}/**/*.int-spec.ts'],
      globalSetup: '<rootDir>/test/global-setup.ts',
      globalTeardown: '<rootDir>/test/global-teardown.ts',
    },
    {
      ...base,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/e2e/**/*.e2e-spec.ts'],
      globalSetup: '<rootDir>/test/e2e/global-setup.ts',
      globalTeardown: '<rootDir>/test/e2e/global-teardown.ts',
    },
    {
      // The console in Debian's Chromium (playwright-core) against the built services: `npm run build` first.
      ...base,
      displayName: 'browser',
      testMatch: ['<rootDir>/test/browser/**/*.browser-spec.ts'],
      globalSetup: '<rootDir>/test/browser/global-setup.ts',
      globalTeardown: '<rootDir>/test/browser/global-teardown.ts',
    },
    {
      // Fault injection (npm run test:faults): each file starts its own broker / Redis / PostgreSQL to break.
      ...base,
      displayName: 'faults',
      testMatch: ['<rootDir>/test/faults/**/*.fault-spec.ts'],
      globalSetup: '<rootDir>/test/faults/global-setup.ts',
      globalTeardown: '<rootDir>/test/faults/global-teardown.ts',
    },
  ],
};
