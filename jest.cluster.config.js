const base = require('./jest.config');

/**
 * `npm run test:cluster`: test/cluster/ on the production shape (PostgreSQL, the Temporal server, 2 API and 2 worker
 * replicas as processes compiled into dist/ — the script builds them first). Not part of `npm test`.
 */
/** @type {import('jest').Config} */
module.exports = {
  ...base,
  roots: ['<rootDir>/test/cluster'],
  testPathIgnorePatterns: ['/node_modules/'],
  globalSetup: undefined,
  globalTeardown: undefined,
  testTimeout: 300_000,
};
