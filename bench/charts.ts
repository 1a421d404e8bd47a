import { readFileSync } from 'node:fs';
import { writeCharts, type BenchResults } from './lib/charts';

/**
 * `node dist/bench/charts.js bench/results/<date>.json [...]`: writes the SVG charts of each bench result beside it
 * (`<date>.throughput.svg`, `.latency.svg`, `.rss-concurrency.svg` for a curve, `.rss-open.svg` for a scale phase).
 */
async function main(files: string[]): Promise<void> {
  if (!files.length) throw new Error('usage: node dist/bench/charts.js <results.json> [...]');
  for (const file of files) {
    const r = JSON.parse(readFileSync(file, 'utf8')) as BenchResults & { kind?: string };
    if (r.kind !== 'verifyflow-bench') throw new Error(`${file}: not a bench result (kind ${r.kind})`);
    const written = await writeCharts(file, r);
    console.log(written.length ? written.join('\n') : `${file}: no curve or scale phase to chart`);
  }
}

main(process.argv.slice(2)).catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
