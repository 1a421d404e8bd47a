import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  decades,
  latencyChart,
  rssConcurrencyChart,
  rssOpenChart,
  throughputChart,
  writeCharts,
  type BenchResults,
  type CurveRow,
} from '../../bench/lib/charts';

/** A minimal XML reader: throws on anything not well formed (unbalanced tags, bad attributes, raw `<` or `&`). */
interface Element {
  name: string;
  attrs: Record<string, string>;
  children: Element[];
  text: string;
}

const ENTITY: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
const decode = (s: string) => {
  if (/&(?!(amp|lt|gt|quot|apos|#\d+|#x[0-9a-f]+);)/i.test(s) || s.includes('<')) throw new Error(`raw markup: ${s}`);
  return s.replace(/&(#x?)?(\w+);/g, (_, num: string | undefined, v: string) =>
    num ? String.fromCodePoint(parseInt(v, num === '#x' ? 16 : 10)) : ENTITY[v],
  );
};

function parseXml(xml: string): Element {
  const root: Element = { name: '#document', attrs: {}, children: [], text: '' };
  const stack = [root];
  const token = /<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+="[^"]*")*)\s*(\/?)>|([^<]+)/gy;
  let at = 0;
  for (let m = token.exec(xml); m; m = token.exec(xml)) {
    at = token.lastIndex;
    const [, closing, name, attrText, selfClosing, text] = m;
    const top = stack[stack.length - 1];
    if (text !== undefined) {
      top.text += decode(text);
    } else if (closing) {
      if (top.name !== name) throw new Error(`</${name}> closes <${top.name}>`);
      stack.pop();
    } else {
      const attrs: Record<string, string> = {};
      for (const [, k, v] of attrText.matchAll(/([\w:.-]+)="([^"]*)"/g)) {
        if (k in attrs) throw new Error(`attribute ${k} twice on <${name}>`);
        attrs[k] = decode(v);
      }
      const el: Element = { name, attrs, children: [], text: '' };
      top.children.push(el);
      if (!selfClosing) stack.push(el);
    }
  }
  if (at !== xml.length) throw new Error(`not well formed at ${at}: ${xml.slice(at, at + 40)}`);
  if (stack.length !== 1) throw new Error(`<${stack[stack.length - 1].name}> not closed`);
  if (root.children.length !== 1 || root.children[0].name !== 'svg') throw new Error('not one <svg> root');
  return root.children[0];
}

const all = (el: Element, pred: (e: Element) => boolean): Element[] =>
  (pred(el) ? [el] : []).concat(el.children.flatMap((c) => all(c, pred)));
const textOf = (el: Element): string => el.text + el.children.map(textOf).join('');
const hasClass = (el: Element, cls: string) => (el.attrs.class ?? '').split(/\s+/).includes(cls);
const marks = (svg: Element, role: string) =>
  all(svg, (e) => e.name === 'g' && hasClass(e, role) && hasClass(e, 'role-mark'));

/** The data lines of a chart: each series' name (from its accessible label) and the points of its path. */
function lines(svg: Element): Map<string, [number, number][]> {
  const out = new Map<string, [number, number][]>();
  for (const path of marks(svg, 'mark-line').flatMap((g) => all(g, (e) => e.name === 'path'))) {
    const series = /series: ([^;]+)/.exec(path.attrs['aria-label'] ?? '')?.[1];
    expect(series).toBeDefined();
    expect(path.attrs.d).toMatch(/^M[-\d.e,]+(L[-\d.e,]+)*$/);
    const points = [...path.attrs.d.matchAll(/[ML](-?[\d.e]+),(-?[\d.e]+)/g)].map(
      ([, x, y]) => [Number(x), Number(y)] as [number, number],
    );
    expect(out.has(series!)).toBe(false);
    out.set(series!, points);
  }
  return out;
}

const legend = (svg: Element) =>
  all(svg, (e) => e.name === 'g' && hasClass(e, 'role-legend-label')).flatMap((g) =>
    all(g, (e) => e.name === 'text').map(textOf),
  );
const title = (svg: Element) =>
  all(svg, (e) => e.name === 'g' && hasClass(e, 'role-title-text')).flatMap((g) =>
    all(g, (e) => e.name === 'text').map(textOf),
  );

const increasing = (xs: number[]) => xs.every((x, i) => i === 0 || x > xs[i - 1]);
const decreasing = (xs: number[]) => xs.every((x, i) => i === 0 || x < xs[i - 1]);
const xs = (pts: [number, number][]) => pts.map(([x]) => x);
const ys = (pts: [number, number][]) => pts.map(([, y]) => y);
/** Steps between consecutive values, rounded: equal ratios on a log axis are equal steps. */
const steps = (v: number[]) => v.slice(1).map((x, i) => Math.round(x - v[i]));

const lat = (p99: number) => ({ p50: p99 / 2, p95: p99 * 0.8, p99 });
const row = (c: number, vf: number, bare: number): CurveRow => ({
  concurrency: c,
  verifyflow: {
    ok: 10,
    throughput: vf,
    latencyMs: { start: lat(10 * c), check: lat(20 * c) },
    workerPeakRssMiB: 300 + c,
  },
  bare: { ok: 10, throughput: bare, latencyMs: { start: lat(c), check: lat(5 * c) }, workerPeakRssMiB: 200 + c },
});

/** Three levels a decade apart; every series rises with concurrency, bare above verifyflow in throughput. */
const fixture: BenchResults = {
  startedAt: '2026-12-04T10:00:00.000Z',
  curve: [row(1, 2, 5), row(10, 4, 9), row(100, 6, 12)],
  scale: [
    {
      worker: 'default',
      cache: 'default',
      open: 1000,
      workerRssIdleMiB: 300,
      workerRssPeakMiB: 900,
      workerRssEndMiB: 700,
    },
    { worker: 'heap0<&>', cache: '500', open: 400, workerRssIdleMiB: 320, workerRssPeakMiB: 2000, crashed: 'exited' },
  ],
};

describe('bench charts (SVG from a bench result)', () => {
  it('throughput: one line per side with a point per level, rising with the data, bare above verifyflow', async () => {
    const svg = parseXml((await throughputChart(fixture))!);
    expect(title(svg)).toEqual(['Throughput against concurrency']);
    expect(legend(svg)).toEqual(['verifyflow', 'bare Temporal workflow']);
    const l = lines(svg);
    expect([...l.keys()]).toEqual(['verifyflow', 'bare Temporal workflow']);
    for (const pts of l.values()) {
      expect(pts).toHaveLength(3);
      expect(increasing(xs(pts))).toBe(true);
      expect(decreasing(ys(pts))).toBe(true); // SVG y grows downwards: a larger value sits higher
      // Concurrency on a log axis: 1, 10, 100 are equally spaced.
      const [a, b] = steps(xs(pts));
      expect(Math.abs(a - b)).toBeLessThanOrEqual(1);
    }
    const vf = l.get('verifyflow')!;
    l.get('bare Temporal workflow')!.forEach(([x, y], i) => {
      expect(x).toBeCloseTo(vf[i][0]);
      expect(y).toBeLessThan(vf[i][1]);
    });
    // The axes say what they measure and in which unit.
    const texts = all(svg, (e) => e.name === 'text').map(textOf);
    expect(texts).toEqual(expect.arrayContaining(['verifications completed per second', '1', '10', '100']));
    expect(texts.some((t) => t.startsWith('concurrency'))).toBe(true);
  });

  it('latency: the p99 of start and check for both sides on a log axis in ms', async () => {
    const svg = parseXml((await latencyChart(fixture))!);
    expect(title(svg)).toEqual(['p99 latency against concurrency']);
    const names = ['verifyflow start (POST)', 'verifyflow check (POST)', 'bare start', 'bare check (update)'];
    expect(legend(svg)).toEqual(names);
    const l = lines(svg);
    expect([...l.keys()].sort()).toEqual([...names].sort());
    for (const pts of l.values()) {
      expect(pts).toHaveLength(3);
      expect(decreasing(ys(pts))).toBe(true);
      // Each p99 grows tenfold per level: equal steps on the log axis.
      const [a, b] = steps(ys(pts));
      expect(Math.abs(a - b)).toBeLessThanOrEqual(1);
    }
    // bare start (c ms) < verifyflow start (10c ms) < verifyflow check (20c ms): higher on the chart, smaller y.
    const at0 = (n: string) => l.get(n)![0][1];
    expect(at0('bare start')).toBeGreaterThan(at0('verifyflow start (POST)'));
    expect(at0('verifyflow start (POST)')).toBeGreaterThan(at0('verifyflow check (POST)'));
    const texts = all(svg, (e) => e.name === 'text').map(textOf);
    expect(texts).toContain('p99 latency (ms, log scale)');
    expect(texts).toEqual(expect.arrayContaining(['1', '10', '100', '1,000', '10,000']));
  });

  it('worker RSS against concurrency: a line per worker, rising with the data', async () => {
    const svg = parseXml((await rssConcurrencyChart(fixture))!);
    expect(title(svg)).toEqual(['Worker memory against concurrency']);
    expect(legend(svg)).toEqual(['verifyflow worker', 'bare worker']);
    for (const pts of lines(svg).values()) {
      expect(pts).toHaveLength(3);
      expect(decreasing(ys(pts))).toBe(true);
    }
  });

  it('scale phase: per row a line from idle (0 open) to peak, the end as a hollow point, names escaped', async () => {
    const svg = parseXml((await rssOpenChart(fixture))!);
    expect(title(svg)).toEqual(['Worker memory against verifications open']);
    const names = ['worker default, cache default', 'worker heap0<&>, cache 500 (worker exited at 400 open)'];
    expect(legend(svg)).toEqual(names);
    const l = lines(svg);
    expect([...l.keys()]).toEqual(names);
    const [first, second] = names.map((n) => l.get(n)!);
    for (const pts of [first, second]) {
      expect(pts).toHaveLength(2);
      expect(pts[0][0]).toBeCloseTo(0); // idle at 0 open, the left edge
      expect(decreasing(ys(pts))).toBe(true); // peak above idle
    }
    expect(first[1][0]).toBeGreaterThan(second[1][0]); // 1 000 open further right than 400
    expect(second[1][1]).toBeLessThan(first[1][1]); // 2 000 MiB higher than 900
    // One hollow end point (stroked, not filled): the crashed row has none. It sits at the row's open count, between
    // its idle and peak RSS (700 MiB).
    const hollow = marks(svg, 'mark-symbol').flatMap((g) =>
      all(g, (e) => e.name === 'path' && e.attrs.fill === undefined && e.attrs.stroke !== undefined),
    );
    expect(hollow).toHaveLength(1);
    const [, x, y] = /translate\(([-\d.e]+),([-\d.e]+)\)/.exec(hollow[0].attrs.transform)!.map(Number);
    expect(x).toBeCloseTo(first[1][0]);
    expect(y).toBeGreaterThan(first[1][1]);
    expect(y).toBeLessThan(first[0][1]);
  });

  it('scale phase with RSS samples: a solid line from idle through every sample, in the order taken', async () => {
    const sampled: BenchResults = {
      scale: [
        {
          worker: 'default',
          cache: 'default',
          open: 300,
          workerRssIdleMiB: 300,
          workerRssPeakMiB: 800,
          workerRssEndMiB: 600,
          rssSamples: [
            { open: 100, rssMiB: 500 },
            { open: 200, rssMiB: 700 },
            { open: 300, rssMiB: 800 },
            { open: 300, rssMiB: 650 },
          ],
        },
        { worker: 'older', cache: '500', open: 300, workerRssIdleMiB: 300, workerRssPeakMiB: 900 },
      ],
    };
    const svg = parseXml((await rssOpenChart(sampled))!);
    const l = lines(svg);
    const pts = l.get('worker default, cache default')!;
    expect(pts).toHaveLength(5); // idle + 4 samples
    expect(pts[0][0]).toBeCloseTo(0);
    expect(decreasing(ys(pts.slice(0, 4)))).toBe(true); // RSS rises with the samples (SVG y grows downwards)
    expect(pts[4][0]).toBeCloseTo(pts[3][0]); // the last sample at the same open count, lower RSS
    expect(pts[4][1]).toBeGreaterThan(pts[3][1]);
    expect(l.get('worker older, cache 500')).toHaveLength(2); // a row without samples: idle and peak only
    const dashedPaths = marks(svg, 'mark-line')
      .flatMap((g) => all(g, (e) => e.name === 'path'))
      .filter((p) => p.attrs['stroke-dasharray'] !== undefined);
    expect(dashedPaths.map((p) => /series: ([^;]+)/.exec(p.attrs['aria-label'])?.[1])).toEqual([
      'worker older, cache 500',
    ]);
    expect(textOf(svg)).toContain('RSS sampled once a second while they open (solid)');
  });

  it('leaves out a side that completed nothing, and charts nothing without data', async () => {
    const broken: BenchResults = {
      curve: [row(1, 2, 0), row(10, 4, 0)].map((c) => ({ ...c, bare: { ...c.bare, ok: 0 } })),
    };
    const l = lines(parseXml((await throughputChart(broken))!));
    expect([...l.keys()]).toEqual(['verifyflow']);
    expect(await throughputChart({})).toBeUndefined();
    expect(await latencyChart({ scale: fixture.scale })).toBeUndefined();
    expect(await rssOpenChart({ curve: fixture.curve })).toBeUndefined();
  });

  it('log ticks span the data in powers of ten', () => {
    expect(decades([12.1, 30441.5])).toEqual([10, 100, 1000, 10000, 100000]);
    expect(decades([100, 1000])).toEqual([100, 1000]);
    expect(decades([0])).toEqual([]);
  });

  it('writeCharts writes <results>.<chart>.svg beside the JSON for the charts it has data for', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'charts-'));
    try {
      const written = await writeCharts(join(dir, '2026-12-04.json'), fixture);
      expect(readdirSync(dir).sort()).toEqual(
        ['latency', 'rss-concurrency', 'rss-open', 'throughput'].map((c) => `2026-12-04.${c}.svg`),
      );
      expect(written).toHaveLength(4);
      for (const f of written) parseXml(readFileSync(f, 'utf8').trimEnd());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
