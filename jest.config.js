/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // The cluster tests need PostgreSQL, the Temporal server build and dist/: `npm run test:cluster` runs them.
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/cluster/'],
  transform: { '^.+\\.[tj]s$': ['ts-jest', { tsconfig: 'tsconfig.spec.json' }] },
  // ESM-only transitive packages must be transformed, everything else in node_modules is left alone.
  transformIgnorePatterns: [
    '^(?!.*/node_modules/(jose|uuid|node-fetch|data-uri-to-buffer|fetch-blob|formdata-polyfill)/).*/node_modules/',
  ],
  setupFiles: ['<rootDir>/test/setup-env.ts'],
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  testTimeout: 60_000,
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
};
