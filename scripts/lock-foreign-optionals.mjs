// The registry mirror on our build machines holds only the native packages of the platforms it serves, so
// `npm install` leaves the other platforms' optional binaries (e.g. @swc/core-darwin-arm64) out of the lock file, and
// `npm ci` then refuses the lock as "out of sync". This adds each missing optional platform package as a lock entry
// with its os/cpu, which npm ci skips on every other platform. Run it after `npm install` changes the lock.
import { readFileSync, writeFileSync } from 'node:fs';

const lockPath = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(lockPath, 'utf8'));
const OS = ['darwin', 'linux', 'win32', 'android', 'freebsd', 'openharmony', 'sunos', 'aix', 'netbsd', 'openbsd'];
const CPU = ['arm64', 'x64', 'ia32', 'arm', 'ppc64', 's390x', 'riscv64', 'loong64', 'mips64el', 'wasm32'];
let added = 0;
for (const [path, meta] of Object.entries(lock.packages)) {
  for (const [name, version] of Object.entries(meta.optionalDependencies ?? {})) {
    const key = `node_modules/${name}`;
    if (lock.packages[key] || lock.packages[`${path}/node_modules/${name}`]) continue;
    const parts = name.split('/').pop().split('-');
    const os = parts.find((p) => OS.includes(p));
    const cpu = parts.find((p) => CPU.includes(p)) ?? (parts.includes('arm') ? 'arm' : undefined);
    if (!os || !cpu) continue;
    const entry = { version: String(version).replace(/^[\^~]/, ''), optional: true, os: [os], cpu: [cpu] };
    if (parts.some((p) => p.startsWith('musl'))) entry.libc = ['musl'];
    else if (os === 'linux' && parts.some((p) => p.startsWith('gnu'))) entry.libc = ['glibc'];
    lock.packages[key] = entry;
    added++;
  }
}
lock.packages = Object.fromEntries(
  Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))),
);
writeFileSync(lockPath, JSON.stringify(lock, null, 2) + '\n');
console.log(`lock: added ${added} optional platform package entr${added === 1 ? 'y' : 'ies'}`);
