import { chmodSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** What the Temporal CLI needs to work with the system `npm run dev` runs. */
export interface CliProfile {
  /** The dev server's frontend, `host:port`. */
  address: string;
  namespace: string;
  /** Our codec server as the CLI reaches it from this machine (`http://127.0.0.1:<PORT>/codec`). */
  codecEndpoint: string;
  /** `Authorization` header for the codec server (`Bearer <CODEC_SERVER_TOKEN>`), when it requires one. */
  codecAuth?: string;
}

/** A TOML basic string: JSON's escapes are TOML's. */
const tomlString = (value: string): string => JSON.stringify(value);

/**
 * The Temporal CLI's envconfig file (`temporal config`, `TEMPORAL_CONFIG_FILE`) for `npm run dev`: one `default`
 * profile with the dev server's address and namespace and our codec server, so `temporal workflow …` reads and writes
 * the encrypted payloads in clear. The profile is `default` so that TEMPORAL_CONFIG_FILE alone selects it:
 * TEMPORAL_PROFILE is the app's own switch for "connect to that profile's cluster", and a shell that exported it
 * would make the next `npm run dev` skip its own server.
 */
export function cliProfileToml(profile: CliProfile): string {
  return [
    '# Written by `npm run dev` at every start: `export TEMPORAL_CONFIG_FILE=<this file>`, then `temporal workflow …`',
    '# talks to its Temporal server and decodes payloads through its codec server.',
    '[profile.default]',
    `address = ${tomlString(profile.address)}`,
    `namespace = ${tomlString(profile.namespace)}`,
    '',
    '[profile.default.codec]',
    `endpoint = ${tomlString(profile.codecEndpoint)}`,
    ...(profile.codecAuth ? [`auth = ${tomlString(profile.codecAuth)}`] : []),
    '',
  ].join('\n');
}

/**
 * Writes the profile file (replacing it whole, never half-written), readable by its owner only: it may hold the codec
 * server's token.
 */
export function writeCliProfile(file: string, profile: CliProfile): void {
  mkdirSync(dirname(file), { recursive: true });
  const partial = `${file}.${process.pid}.tmp`;
  writeFileSync(partial, cliProfileToml(profile), { mode: 0o600 });
  chmodSync(partial, 0o600);
  renameSync(partial, file);
}

/** How a process on this machine reaches an API listening on `host`: a wildcard address means loopback. */
export function localUrl(host: string, port: number): string {
  const reachable = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}`;
}
