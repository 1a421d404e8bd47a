/**
 * Preloaded (`node --require`) into every API and worker child that bench/lib/children.ts spawns: when the IPC
 * channel to the parent closes — the parent ended, however it ended, `kill -9` included — the child stops as on
 * SIGTERM (its own graceful shutdown). So a bench, chaos, test or `npm run cluster` process never leaves API or worker
 * processes behind; the servers they start (Temporal, PostgreSQL, Redis) run under the watchdog for the same reason.
 */
if (process.send) process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));
