import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/config';
import { loadNexusConfig } from '../../src/config/nexus-config';

/** NEXUS_ENDPOINTS: which API client the callers of each Nexus endpoint act as. */
const base = {
  PORT: '3999',
  DATA_DIR: join(tmpdir(), 'verifyflow-test-data'),
  TEMPORAL_ADDRESS: '127.0.0.1:7233',
  VERIFYFLOW_SANDBOX: 'true',
  REDIS_URL: 'redis://127.0.0.1:6379',
};

test('sandbox mode serves the verifyflow endpoint as the sandbox client; off serves none', () => {
  expect(loadConfig(base).nexus).toEqual({ endpoints: { verifyflow: 'sandbox' } });
  expect(loadConfig({ ...base, NEXUS_ENDPOINTS: 'off' }).nexus).toEqual({ endpoints: {} });
});

test('outside sandbox mode only the configured endpoints are served', () => {
  expect(loadNexusConfig({}, { sandbox: false })).toEqual({ endpoints: {} });
  expect(loadNexusConfig({ NEXUS_ENDPOINTS: 'billing-verification:billing' }, { sandbox: false })).toEqual({
    endpoints: { 'billing-verification': 'billing' },
  });
});

test('endpoint:client pairs are taken; a bad entry names the variable and what is wrong', () => {
  expect(loadConfig({ ...base, NEXUS_ENDPOINTS: 'billing-verification:billing, onboarding:growth' }).nexus).toEqual({
    endpoints: { 'billing-verification': 'billing', onboarding: 'growth' },
  });
  for (const [value, message] of [
    ['billing', /"billing" must be <endpoint>:<client>/],
    ['a:b:c', /must be <endpoint>:<client>/],
    ['9lives:billing', /endpoint "9lives" must be a Nexus endpoint name/],
    ['billing:not-a-client', /the client of endpoint billing must be 1-32 letters or digits/],
    ['billing:temporal', /the client of endpoint billing is reserved/],
    ['billing:a,billing:b', /endpoint billing is listed twice/],
  ] as const) {
    expect(() => loadConfig({ ...base, NEXUS_ENDPOINTS: value })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, NEXUS_ENDPOINTS: value })).toThrow(message);
  }
});
