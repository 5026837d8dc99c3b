/**
 * The import statements of one Python source file, found by walking the syntax tree that
 * `@lezer/python` (a full LR grammar of Python 3) builds: `import a.b [as c], …` and
 * `from [.…]a.b import x [as y], …` / `import *`, at any depth (module level, inside functions,
 * classes, `try`, `if`, `with`, loops). An import with an enclosing `try`, `if`/`elif`/`else` or
 * `match` statement is **optional**: the module can run without it. Source text is decoded per
 * PEP 263 (BOM, `coding` cookie on line 1 or 2, UTF-8 by default). Pure: bytes in, statements
 * or a located syntax error out; nothing here throws on bad input.
 *
 * @see specs/interface-python.md §6
 */
import { createRequire } from 'node:module';
import type * as LezerPython from '@lezer/python';

let lezer: typeof LezerPython | undefined;
/**
 * The Python grammar, loaded on first use: building its LR parser tables costs ~20 ms at import,
 * which every command importing the extractors (a build, a composition) would pay otherwise.
 */
function pythonParser(): typeof LezerPython.parser {
  return (lezer ??= createRequire(import.meta.url)('@lezer/python') as typeof LezerPython).parser;
}

/** One imported name of a statement (`import a.b as c` → `{name: 'a.b', asname: 'c'}`; `*` for a star import). */
export interface ImportedName {
  name: string;
  asname: string | null;
}

/** One import statement, in the shape of Python's `ast.Import` / `ast.ImportFrom`. */
export interface ImportStatement {
  /** `import` (ast.Import) or `from` (ast.ImportFrom). */
  kind: 'import' | 'from';
  /** The module after `from`, dotted, without the leading dots; null for `import …` and `from . import …`. */
  module: string | null;
  /** Number of leading dots of a `from` import (0 = absolute). */
  level: number;
  names: ImportedName[];
  /** 1-based line of the statement's first character. */
  line: number;
  /** True when a `try`, `if` or `match` statement encloses it. @see specs/interface-python.md §6.3 */
  optional: boolean;
}

/** A located problem that stops a file from being read: bad encoding or a syntax error. */
export interface SourceError {
  /** `encoding` or `syntax`. */
  kind: 'encoding' | 'syntax';
  /** 1-based line (0 when the whole file is concerned). */
  line: number;
  /** 1-based column in UTF-16 code units (0 when the whole file is concerned). */
  column: number;
  message: string;
}

/**
 * The import statements of a file and the first problem met reading it. A syntax error does not
 * hide the imports elsewhere in the file: the parser recovers and the walk goes on (the grammar
 * has gaps where CPython accepts the code; see specs/interface-python.md §6.5). An encoding error
 * leaves no imports.
 */
export interface ParsedPythonSource {
  imports: ImportStatement[];
  /** The first error (in source order), or null when the file parsed cleanly. */
  error: SourceError | null;
}

/** Statement types whose bodies run conditionally. @see specs/interface-python.md §6.3 */
const CONDITIONAL = new Set(['TryStatement', 'IfStatement', 'MatchStatement']);

/**
 * Decodes Python source bytes per PEP 263: a `coding[:=]name` comment on line 1, or on line 2
 * when line 1 is blank or a comment, names the codec; else UTF-8. A UTF-8 byte order mark is
 * skipped and allows only a UTF-8 declaration.
 * Codec names are those of the WHATWG Encoding standard after Python's normalization (`_` → `-`,
 * `utf-8-*` → utf-8, `latin-1` → iso-8859-1). A NUL byte is an error, as in CPython.
 */
export function decodePythonSource(bytes: Uint8Array): { text: string } | { error: SourceError } {
  const whole = (message: string) => ({ error: { kind: 'encoding' as const, line: 0, column: 0, message } });
  let start = 0;
  let codec = 'utf-8';
  const bom = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
  if (bom) start = 3;
  {
    // The first two lines, as latin-1 (a cookie is ASCII).
    let end = 0;
    let lines = 0;
    while (start + end < bytes.length && end < 4096 && lines < 2) if (bytes[start + end++] === 0x0a) lines++;
    const head = String.fromCharCode(...bytes.subarray(start, start + end)).split(/\r\n|\n|\r/);
    for (let i = 0; i < 2 && i < head.length; i++) {
      const l = head[i]!;
      // PEP 263's pattern, applied to a comment line only.
      const m = /^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)/.exec(l);
      if (m) {
        codec = m[1]!.toLowerCase().replaceAll('_', '-');
        break;
      }
      if (!/^[ \t\f]*(#.*)?$/.test(l)) break;
    }
    if (codec === 'utf8' || codec.startsWith('utf-8-')) codec = 'utf-8';
    if (/^(latin-1|iso-8859-1|iso-latin-1)(-.*)?$/.test(codec)) codec = 'iso-8859-1';
    if (bom && codec !== 'utf-8') return whole(`a UTF-8 byte order mark with a ${codec} coding declaration`);
  }
  let text: string;
  try {
    text = new TextDecoder(codec, { fatal: true, ignoreBOM: true }).decode(bytes.subarray(start));
  } catch (e) {
    return e instanceof RangeError
      ? whole(`unknown source encoding ${JSON.stringify(codec)}`)
      : whole(`source is not valid ${codec}`);
  }
  if (text.includes('\0')) return whole('source contains a NUL byte');
  return { text };
}

/** 1-based (line, column) of a UTF-16 offset, given the offsets where lines start. */
function locate(lineStarts: number[], pos: number): { line: number; column: number } {
  let lo = 0;
  let hi = lineStarts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (lineStarts[mid]! <= pos) lo = mid;
    else hi = mid - 1;
  }
  return { line: lo + 1, column: pos - lineStarts[lo]! + 1 };
}

function lineStartsOf(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) starts.push(i + 1);
    else if (c === 13) {
      if (text.charCodeAt(i + 1) === 10) i++;
      starts.push(i + 1);
    }
  }
  return starts;
}

/**
 * The import statements of decoded Python source text, in source order, or the first syntax
 * error (the position of the first error node of the tree).
 * @see specs/interface-python.md §6
 */
export function parseImportsFromText(source: string): ParsedPythonSource {
  const lineStarts = lineStartsOf(source);
  const { text, tree, back } = parseRepaired(source);
  let firstError: { at: number; message: string } | null = null;
  const noteError = (at: number, message: string) => {
    if (firstError === null || at < firstError.at) firstError = { at, message };
  };
  const imports: ImportStatement[] = [];
  const cursor = tree.cursor();
  // Depths of the enclosing conditional statements on the current path.
  const conditionalDepth: number[] = [];
  let depth = 0;
  for (;;) {
    let descend = true;
    if (cursor.type.isError) {
      const near = text.slice(cursor.from, cursor.from + 20).split(/\r|\n/)[0];
      noteError(cursor.from, near ? `invalid syntax near ${JSON.stringify(near)}` : 'invalid syntax');
    } else if (cursor.name === 'ImportStatement') {
      const r = readImport(cursor.node, text, conditionalDepth.length > 0);
      if ('error' in r) noteError(r.at, r.error);
      else {
        r.statement.line = locate(lineStarts, back(cursor.from)).line;
        imports.push(r.statement);
      }
      descend = false;
    }
    if (descend && cursor.firstChild()) {
      depth++;
      if (CONDITIONAL.has(cursor.node.parent!.name)) conditionalDepth.push(depth);
      continue;
    }
    // The next sibling, climbing as needed.
    let moved = false;
    for (;;) {
      if (cursor.nextSibling()) {
        moved = true;
        break;
      }
      if (!cursor.parent()) break;
      if (conditionalDepth[conditionalDepth.length - 1] === depth) conditionalDepth.pop();
      depth--;
    }
    if (!moved) break;
  }
  let error: SourceError | null = null;
  if (firstError !== null) {
    const e: { at: number; message: string } = firstError;
    error = { kind: 'syntax', ...locate(lineStarts, back(e.at)), message: e.message };
  }
  return { imports, error };
}

type SyntaxNode = ReturnType<ReturnType<typeof LezerPython.parser.parse>['resolve']>;
type Tree = ReturnType<typeof LezerPython.parser.parse>;

/** One edit of the text handed to the parser: `del` characters at `at` replaced by `ins`. */
interface Patch {
  at: number;
  del: number;
  ins: string;
}

/** Applies sorted, non-overlapping patches; `back` maps a position of the result to the input. */
function applyPatches(text: string, patches: Patch[]): { text: string; back: (pos: number) => number } {
  const parts: string[] = [];
  const map: { newStart: number; newEnd: number; oldStart: number; oldEnd: number }[] = [];
  let prev = 0;
  let shift = 0;
  for (const p of patches) {
    parts.push(text.slice(prev, p.at), p.ins);
    const newStart = p.at + shift;
    map.push({ newStart, newEnd: newStart + p.ins.length, oldStart: p.at, oldEnd: p.at + p.del });
    shift += p.ins.length - p.del;
    prev = p.at + p.del;
  }
  parts.push(text.slice(prev));
  const back = (pos: number): number => {
    let lo = 0;
    let hi = map.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (map[mid]!.newStart <= pos) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (found < 0) return pos;
    const m = map[found]!;
    return pos < m.newEnd ? m.oldStart : pos - m.newEnd + m.oldEnd;
  };
  return { text: parts.join(''), back };
}

/**
 * Form feeds, as CPython's tokenizer reads them: in a line's indentation a form feed resets the
 * column (only what follows the last one counts), elsewhere it is whitespace. The grammar knows
 * neither, so the indentation up to the last form feed is removed and other form feeds become
 * spaces. No line break is added or removed.
 */
function formFeedPatches(text: string): Patch[] {
  const out: Patch[] = [];
  let lineStart = true;
  let indentFrom = 0;
  let lastFf = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 || c === 13) {
      if (lastFf >= 0) out.push({ at: indentFrom, del: lastFf + 1 - indentFrom, ins: '' });
      lineStart = true;
      indentFrom = i + 1;
      lastFf = -1;
    } else if (lineStart && (c === 32 || c === 9 || c === 12)) {
      if (c === 12) lastFf = i;
    } else {
      if (lineStart && lastFf >= 0) out.push({ at: indentFrom, del: lastFf + 1 - indentFrom, ins: '' });
      lineStart = false;
      lastFf = -1;
      if (c === 12) out.push({ at: i, del: 1, ins: ' ' });
    }
  }
  if (lastFf >= 0) out.push({ at: indentFrom, del: lastFf + 1 - indentFrom, ins: '' });
  return out;
}

/** The end (exclusive) of a with-target starting at `from`: the first `,` or `:` outside brackets and strings, on its line. */
function targetEnd(text: string, from: number): number | null {
  let depth = 0;
  for (let i = from; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\n' || c === '\r' || c === '#') return null;
    if (c === '"' || c === "'") {
      const close = text.indexOf(c, i + 1);
      if (close < 0 || /[\r\n]/.test(text.slice(i, close))) return null;
      i = close;
    } else if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') {
      if (depth === 0) return null;
      depth--;
    } else if (depth === 0 && (c === ',' || c === ':')) return i;
  }
  return null;
}

/** Whether the grammar reads `text` without an error node. */
function parsesCleanly(text: string): boolean {
  const c = pythonParser().parse(text).cursor();
  do if (c.type.isError) return false;
  while (c.next());
  return true;
}

const hasAncestor = (node: SyntaxNode, names: ReadonlySet<string>): boolean => {
  for (let n: SyntaxNode | null = node.parent; n !== null; n = n.parent) if (names.has(n.name)) return true;
  return false;
};
const WITH = new Set(['WithStatement']);
const MATCH_CASE = new Set(['MatchClause', 'MatchStatement', 'ClassPattern', 'PatternArgList']);

/**
 * The repair of one error node, where it is one of the grammar's known gaps (valid Python the
 * grammar rejects), else null: a `with` target that is not a plain name (`as (a, b)`, `as [a,
 * b]`, `as a.b`, `as a[0]`) becomes a name of the same length; an empty argument list of a class
 * pattern in a `case` (`case ast.BinOp():`) gets a capture `_` (`ast.BinOp(_)`: the same match
 * for the extractor's purpose, which is the import statements); a bare `yield` gets an operand
 * and a float literal ending in `.` (`20.`) a digit.
 */
function gapPatch(text: string, node: SyntaxNode): Patch | null {
  const at = node.from;
  if (hasAncestor(node, WITH)) {
    // The error starts at the target or inside it, after `as` on the same line.
    const lineFrom = Math.max(text.lastIndexOf('\n', at - 1), text.lastIndexOf('\r', at - 1)) + 1;
    const before = text.slice(lineFrom, at);
    const m = /\bas[ \t]+([A-Za-z_][A-Za-z0-9_]*)?$/.exec(before);
    if (m) {
      const start = lineFrom + m.index + m[0].length - (m[1]?.length ?? 0);
      const end = targetEnd(text, start);
      if (end !== null) {
        const target = text.slice(start, end).trimEnd();
        // Only a target that is itself valid (as the left side of an assignment) is repaired.
        if (target.length > 0 && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(target) && parsesCleanly(`${target} = 0\n`))
          return { at: start, del: target.length, ins: '_'.repeat(target.length) };
      }
    }
  }
  // A bare `yield` (statement or `(yield)`): the grammar wants an operand.
  if (
    /(?:^|[^A-Za-z0-9_.])yield[ \t]*$/.test(text.slice(Math.max(0, at - 64), at)) &&
    /^[ \t]*(?:[\r\n)#;]|$)/.test(text.slice(at, at + 64))
  )
    return { at, del: 0, ins: ' None' };
  // A float literal ending in `.` (`20.`, `24.*3600.`): the grammar wants a digit after the dot.
  {
    const m = /(?:^|[^A-Za-z0-9_.])\d+\.$/.exec(text.slice(Math.max(0, at - 64), at));
    if (m && !/^[A-Za-z_0-9]/.test(text.slice(at, at + 1))) return { at, del: 0, ins: '0' };
  }
  if (hasAncestor(node, MATCH_CASE) || node.parent?.name === 'MatchBody') {
    const close = /^[ \t]*\)/.exec(text.slice(at, at + 64));
    const open = /[A-Za-z0-9_]\([ \t]*$/.exec(text.slice(Math.max(0, at - 64), at));
    if (close && open) return { at, del: 0, ins: '_' };
  }
  return null;
}

/**
 * Parses source text with the grammar's known gaps repaired (form feeds, then up to 16 rounds of
 * {@link gapPatch} over the error nodes of the last parse). Returns the text parsed, its tree and
 * the map from its positions back to the source's.
 * @see specs/interface-python.md §6.5
 */
function parseRepaired(source: string): { text: string; tree: Tree; back: (pos: number) => number } {
  let { text, back } = applyPatches(source, formFeedPatches(source));
  let tree = pythonParser().parse(text);
  for (let round = 0; round < 16; round++) {
    const patches: Patch[] = [];
    const cursor = tree.cursor();
    do {
      if (!cursor.type.isError) continue;
      const p = gapPatch(text, cursor.node);
      if (
        p &&
        (patches.length === 0 || patches[patches.length - 1]!.at + patches[patches.length - 1]!.del <= p.at)
      )
        patches.push(p);
    } while (cursor.next());
    if (patches.length === 0) break;
    const applied = applyPatches(text, patches);
    const outer = back;
    back = (pos: number) => outer(applied.back(pos));
    text = applied.text;
    tree = pythonParser().parse(text);
  }
  return { text, tree, back };
}

/**
 * Reads one `ImportStatement` node's children in order. The grammar is
 * `import dotted [as Name] (, dotted [as Name])*` or
 * `from ("." | "...")* [dotted] import ("*" | names | "(" names ")")`.
 */
function readImport(
  node: SyntaxNode,
  text: string,
  optional: boolean,
): { statement: ImportStatement } | { error: string; at: number } {
  const kids: { name: string; from: number; to: number }[] = [];
  for (let c = node.firstChild; c !== null; c = c.nextSibling) {
    if (c.type.isError) return { error: 'invalid syntax in import statement', at: c.from };
    if (c.name !== 'Comment') kids.push({ name: c.name, from: c.from, to: c.to });
  }
  const src = (k: { from: number; to: number }) => text.slice(k.from, k.to);
  let i = 0;
  const first = kids[i++];
  if (first === undefined) return { error: 'empty import statement', at: node.from };
  /** Reads `Name(.Name)*` from kids[i]; returns the dotted name. */
  const dotted = (): string | null => {
    if (kids[i]?.name !== 'VariableName') return null;
    let s = src(kids[i++]!);
    while (kids[i]?.name === '.' && kids[i + 1]?.name === 'VariableName') {
      s += '.' + src(kids[i + 1]!);
      i += 2;
    }
    return s;
  };
  /** Reads `name [as Name] (, name [as Name])* [,]` (parentheses allowed for `from`). */
  const nameList = (allowDotted: boolean): ImportedName[] | { error: string; at: number } => {
    const names: ImportedName[] = [];
    const paren = kids[i]?.name === '(';
    if (paren) i++;
    for (;;) {
      const at = kids[i]?.from ?? node.to;
      const n = dotted();
      if (n === null) return { error: 'expected a module name', at };
      if (!allowDotted && n.includes('.')) return { error: `dotted name ${n} after from … import`, at };
      let asname: string | null = null;
      if (kids[i]?.name === 'as') {
        i++;
        if (kids[i]?.name !== 'VariableName')
          return { error: 'expected a name after as', at: kids[i - 1]!.to };
        asname = src(kids[i++]!);
      }
      names.push({ name: n, asname });
      if (kids[i]?.name !== ',') break;
      i++;
      if (paren && kids[i]?.name === ')') break;
      if (!paren && i >= kids.length) return { error: 'trailing comma without parentheses', at: node.to };
    }
    if (paren) {
      if (kids[i]?.name !== ')') return { error: 'expected )', at: kids[i]?.from ?? node.to };
      i++;
    }
    return names;
  };
  let statement: ImportStatement;
  if (first.name === 'import') {
    const names = nameList(true);
    if (!Array.isArray(names)) return names;
    statement = { kind: 'import', module: null, level: 0, names, line: 0, optional };
  } else if (first.name === 'from') {
    let level = 0;
    while (kids[i]?.name === '.' || kids[i]?.name === 'Ellipsis') level += kids[i++]!.name === '.' ? 1 : 3;
    const module = dotted();
    if (module === null && level === 0) return { error: 'expected a module after from', at: first.to };
    if (kids[i]?.name !== 'import') return { error: 'expected import', at: kids[i]?.from ?? node.to };
    i++;
    let names: ImportedName[];
    if (kids[i]?.name === '*') {
      names = [{ name: '*', asname: null }];
      i++;
    } else {
      const r = nameList(false);
      if (!Array.isArray(r)) return r;
      names = r;
    }
    statement = { kind: 'from', module, level, names, line: 0, optional };
  } else return { error: 'not an import statement', at: first.from };
  if (i !== kids.length) return { error: 'unexpected text in import statement', at: kids[i]!.from };
  return { statement };
}

/**
 * The import statements of one Python source file (bytes), or why it could not be read.
 * @see specs/interface-python.md §6
 */
export function parsePythonImports(bytes: Uint8Array): ParsedPythonSource {
  const d = decodePythonSource(bytes);
  if ('error' in d) return { imports: [], error: d.error };
  return parseImportsFromText(d.text);
}
