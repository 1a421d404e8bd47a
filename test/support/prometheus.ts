/** One sample of the Prometheus text format. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text exposition format (the subset our exporters write: no timestamps, no exemplars). */
export function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return samples;
}

/** Sum of the samples named `name` whose labels include `match`. */
export const total = (samples: Sample[], name: string, match: Record<string, string> = {}): number =>
  samples
    .filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);

const PROMQL_WORDS = new Set([
  // aggregations, functions and keywords the dashboard may use
  ...'sum avg min max count count_values stddev stdvar topk bottomk quantile group by without on ignoring group_left group_right bool and or unless offset'.split(
    ' ',
  ),
  ...'rate irate increase delta idelta deriv histogram_quantile abs ceil floor round clamp clamp_min clamp_max label_replace label_join vector scalar time sort sort_desc absent absent_over_time avg_over_time max_over_time min_over_time sum_over_time count_over_time last_over_time predict_linear resets changes label_values inf nan'.split(
    ' ',
  ),
]);

/**
 * The metric names a PromQL expression (or a Grafana `label_values(metric, label)` query) reads: identifiers that are
 * not functions or keywords, once label matchers, strings, ranges, grouping clauses and Grafana variables are removed.
 */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,\s*[a-zA-Z_]+\s*\)/g, ' $1 ')
    .replace(/\$\{?[a-zA-Z_]+\}?/g, ' ');
  const names = new Set<string>();
  for (const m of stripped.matchAll(/(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w(])/g)) {
    if (!PROMQL_WORDS.has(m[1])) names.add(m[1]);
  }
  return [...names];
}
