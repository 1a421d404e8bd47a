/**
 * The shell blocks of a Markdown document, and the outputs they document.
 *
 * A block is a fenced code block whose language is `bash`, `sh` or `shell`, at any indentation (list items too). It is
 * marked not runnable by an HTML comment on the last non-blank line before its fence:
 *
 *     <!-- not run: needs a real Auth0 tenant -->
 *
 * An expected output is a comment that is a JSON value — an object or an array, where `…` or `...` as the last member
 * means "and more" and a string ending in `…` is a prefix — or a three-digit HTTP status, prose allowed after it
 * (`# {"status":"accepted",…}   (HTTP 200)`). It is what the command it sits on prints, or, on a comment line of its
 * own, the command above. Any other comment is prose.
 */

export interface DocBlock {
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** The block's text, its fence's indentation removed. */
  code: string;
  /** The reason given by a `<!-- not run: … -->` marker. */
  notRun?: string;
}

export interface ExpectedOutput {
  /** 1-based line in the document. */
  line: number;
  raw: string;
  value: unknown;
}

const SHELL = new Set(['bash', 'sh', 'shell']);
const FENCE = /^(\s*)(`{3,}|~{3,})\s*([^\s`]*)/;
const MARKER = /^\s*<!--\s*not run:(.*?)-->\s*$/;

/** Every shell block of a document, and the problems with its markers (a marker without a block, without a reason). */
export function extractBlocks(file: string, text: string): { blocks: DocBlock[]; problems: string[] } {
  const lines = text.split('\n');
  const blocks: DocBlock[] = [];
  const problems: string[] = [];
  const markerBefore = (index: number): { line: number; reason: string } | undefined => {
    let i = index - 1;
    while (i >= 0 && lines[i].trim() === '') i--;
    const match = i >= 0 ? MARKER.exec(lines[i]) : null;
    return match ? { line: i + 1, reason: match[1].trim() } : undefined;
  };
  const usedMarkers = new Set<number>();
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]);
    if (!open) continue;
    const [, indent, fence, lang] = open;
    const close = new RegExp(`^\\s*${fence[0] === '`' ? '`' : '~'}{${fence.length},}\\s*$`);
    let end = i + 1;
    while (end < lines.length && !close.test(lines[end])) end++;
    if (SHELL.has(lang.toLowerCase())) {
      const marker = markerBefore(i);
      if (marker) {
        usedMarkers.add(marker.line);
        if (!marker.reason) problems.push(`${file}:${marker.line}: a not-run marker without a reason`);
      }
      const code = lines
        .slice(i + 1, end)
        .map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l.trimStart()))
        .join('\n');
      blocks.push({ file, line: i + 1, code, notRun: marker?.reason });
    }
    i = end;
  }
  lines.forEach((l, i) => {
    if (MARKER.test(l) && !usedMarkers.has(i + 1))
      problems.push(`${file}:${i + 1}: a not-run marker that is not right before a shell block`);
  });
  return { blocks, problems };
}

/** One line of a shell script as the scanner sees it. */
interface ScannedLine {
  /** Something other than a comment on it. */
  hasCode: boolean;
  /** Its comment: from a `#` that starts a word outside quotes to the line end. */
  comment?: string;
  /** The command goes on on the next line (a trailing backslash, an open quote). */
  continues: boolean;
}

function scanLines(code: string): ScannedLine[] {
  const lines: ScannedLine[] = [];
  let current: ScannedLine = { hasCode: false, continues: false };
  let quote: '"' | "'" | undefined;
  const endLine = (continues: boolean) => {
    current.continues = continues;
    lines.push(current);
    current = { hasCode: false, continues: false };
  };
  for (let i = 0; i < code.length; i++) {
    const c = code[i];
    if (c === '\n') {
      endLine(quote !== undefined);
    } else if (quote === "'") {
      if (c === "'") quote = undefined;
    } else if (c === '\\') {
      current.hasCode = true;
      if (code[i + 1] === '\n') {
        endLine(true);
      }
      i++;
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
    } else if (c === '#' && (i === 0 || /\s/.test(code[i - 1]))) {
      const end = code.indexOf('\n', i);
      current.comment = code.slice(i + 1, end < 0 ? undefined : end).trim();
      i = (end < 0 ? code.length : end) - 1;
    } else {
      if (c === '"' || c === "'") quote = c;
      if (!/\s/.test(c)) current.hasCode = true;
    }
  }
  endLine(false);
  return lines;
}

/** The end (exclusive) of the balanced `{…}` / `[…]` that starts `text`, strings respected; -1 when unbalanced. */
function balancedEnd(text: string): number {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}

/**
 * The commands of a block (0-based first and last line, continuation lines and multi-line quotes included) and the
 * expected outputs documented for each: in a comment on one of its lines, or on a comment line below it. Throws on a
 * comment that starts like a JSON value but is not one (a typo there would otherwise go unchecked).
 */
export function commandsOf(block: DocBlock): Command[] {
  const commands: Command[] = [];
  let open: Command | undefined;
  scanLines(block.code).forEach((scanned, index) => {
    if (open) open.last = index;
    else if (scanned.hasCode) commands.push((open = { first: index, last: index, expected: [] }));
    const expected = scanned.comment === undefined ? undefined : parseExpected(scanned.comment);
    if (expected) {
      const line = block.line + 1 + index;
      const owner = open ?? commands[commands.length - 1];
      if (!('value' in expected)) throw new Error(`${block.file}:${line}: ${expected.problem}: ${expected.raw}`);
      if (!owner) throw new Error(`${block.file}:${line}: an expected output before any command: ${expected.raw}`);
      owner.expected.push({ line, raw: expected.raw, value: expected.value });
    }
    if (!scanned.continues) open = undefined;
  });
  return commands;
}

/** A command of a block and the outputs it documents. */
export interface Command {
  first: number;
  last: number;
  expected: ExpectedOutput[];
}

function parseExpected(
  comment: string,
): { raw: string; value: unknown } | { raw: string; problem: string } | undefined {
  if (/^\d{3}$/.test(comment)) return { raw: comment, value: Number(comment) };
  if (!/^[[{]/.test(comment)) return undefined;
  const end = balancedEnd(comment);
  const raw = end > 0 ? comment.slice(0, end) : comment;
  // "and more": a last member `…` or `...` (strings are left alone: a trailing … there is a prefix)
  const json = raw.replace(/,\s*(?:…|\.\.\.)\s*(?=[}\]])/g, '');
  try {
    return { raw, value: JSON.parse(json) };
  } catch {
    return { raw, problem: 'this comment looks like an expected output but is not JSON' };
  }
}

/** The PS4 that makes `set -x` say which line of the block each command comes from (see outputByLine). */
export const TRACE_PS4 = '+${LINENO}: ';

/**
 * What a block printed, by the 0-based line of the command that printed it, from its output interleaved with its
 * `set -x` trace (PS4 = TRACE_PS4), the block sourced one level down: trace lines of exactly two `+` are the block's
 * own commands; deeper ones (command substitutions) belong to the command they run in.
 */
export function outputByLine(traced: string): Map<number, string> {
  const byLine = new Map<number, string>();
  const marker = /(\++)(\d+): /g;
  let line: number | undefined;
  let from = 0;
  for (let m = marker.exec(traced); m; m = marker.exec(traced)) {
    if (line !== undefined && m.index > from) byLine.set(line, (byLine.get(line) ?? '') + traced.slice(from, m.index));
    if (m[1].length === 2) line = Number(m[2]) - 1;
    // The traced command ends at a newline outside its single quotes (bash quotes arguments that way, newlines kept).
    let i = marker.lastIndex;
    for (let quoted = false; i < traced.length && (quoted || traced[i] !== '\n'); i++) {
      if (traced[i] === "'") quoted = !quoted;
      else if (traced[i] === '\\' && !quoted) i++;
    }
    from = marker.lastIndex = Math.min(i + 1, traced.length);
  }
  if (line !== undefined && from < traced.length) byLine.set(line, (byLine.get(line) ?? '') + traced.slice(from));
  return byLine;
}

/** The JSON values (objects, arrays, bare integers) a command printed, in order, whatever text is around them. */
export function printedValues(output: string): unknown[] {
  const values: unknown[] = [];
  for (let i = 0; i < output.length; i++) {
    const c = output[i];
    if (c === '{' || c === '[') {
      const end = balancedEnd(output.slice(i));
      if (end > 0) {
        try {
          values.push(JSON.parse(output.slice(i, i + end)));
          i += end - 1;
          continue;
        } catch {
          // not JSON (e.g. the CLI's `map[…]`): look inside it
        }
      }
    } else if (/\d/.test(c) && (i === 0 || !/[\w.:-]/.test(output[i - 1]))) {
      const digits = /^\d+/.exec(output.slice(i))![0];
      const next = output[i + digits.length];
      if (next === undefined || !/[\w.:-]/.test(next)) values.push(Number(digits));
      i += digits.length - 1;
    }
  }
  return values;
}

/** `actual` has every member `expected` names (objects: a subset; arrays: the same length; `…` ends a prefix). */
export function matchesExpected(expected: unknown, actual: unknown): boolean {
  if (typeof expected === 'string') {
    if (typeof actual !== 'string') return false;
    return expected.endsWith('…') ? actual.startsWith(expected.slice(0, -1)) : actual === expected;
  }
  if (Array.isArray(expected)) {
    return (
      Array.isArray(actual) &&
      actual.length === expected.length &&
      expected.every((e, i) => matchesExpected(e, actual[i]))
    );
  }
  if (expected !== null && typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return false;
    const members = actual as Record<string, unknown>;
    return Object.entries(expected).every(([k, v]) => k in members && matchesExpected(v, members[k]));
  }
  return expected === actual;
}

/** The expected outputs a command did not print, in order, among the values it printed. */
export function missingOutputs(expected: ExpectedOutput[], printed: unknown[]): ExpectedOutput[] {
  const missing: ExpectedOutput[] = [];
  let from = 0;
  for (const e of expected) {
    const at = printed.findIndex((value, i) => i >= from && matchesExpected(e.value, value));
    if (at < 0) missing.push(e);
    else from = at + 1;
  }
  return missing;
}
