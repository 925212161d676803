export * from './mock-provider/mock-provider';
export * from './stack/test-stack';
export * from './stack/api-client';
export * from './stack/key-fixtures';
export * from './stack/observe-stack';
export * from './stack/private-redis';
