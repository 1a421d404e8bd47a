import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderContract } from '../../src/contract/contract-doc';

const DOC = join(__dirname, '..', '..', 'docs', 'CONTRACT.md');

/** docs/CONTRACT.md is generated from the schemas the code validates with; it may not drift from them. */
test('docs/CONTRACT.md matches the contract module (regenerate with `npm run docs:contract`)', () => {
  const rendered = renderContract();
  if (process.env.UPDATE_CONTRACT === '1') writeFileSync(DOC, rendered);
  expect(readFileSync(DOC, 'utf8')).toBe(rendered);
});
