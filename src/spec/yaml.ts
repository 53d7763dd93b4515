import { createRequire } from 'node:module';
import type { Document, LineCounter, Node as YamlNode } from 'yaml';
import { SpecError, type SpecIssue } from '../errors.js';

// yaml costs ~40 ms to load: only when a YAML spec is parsed, not on every `import('skypool')`. It is CommonJS
// too, so a lazy require keeps parsing synchronous (constructs need that).
const requireLazily = createRequire(import.meta.url);
const yaml = (): typeof import('yaml') => requireLazily('yaml') as typeof import('yaml');

/** The only explicit tags a spec may carry: YAML's core schema. `!!binary`, `!!set`, `!foo`... are refused. */
const CORE_TAGS = new Set(['str', 'int', 'float', 'bool', 'null', 'map', 'seq'].map((t) => `tag:yaml.org,2002:${t}`));
/** Index of the first control character (C0 but tab, LF and CR; DEL; C1), or -1. */
function controlAt(text: string): number {
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) || (c >= 0x7f && c <= 0x9f)) return i;
  }
  return -1;
}
/** Aliases one spec may expand (the yaml default of 100 still lets a nested alias bomb take seconds). */
const MAX_ALIASES = 50;

/** `pools[1].count` from the visitor's ancestry (Pair keys and sequence indexes). */
function fieldPath(ancestry: readonly unknown[], node: unknown): string {
  const Y = yaml();
  const chain = [...ancestry, node];
  let out = '';
  for (const [k, item] of chain.entries()) {
    const next = chain[k + 1];
    if (Y.isPair(item)) {
      const key = Y.isScalar(item.key) ? String(item.key.value) : '?';
      out = out ? `${out}.${key}` : key;
    } else if (Y.isSeq(item) && next !== undefined) {
      const index = item.items.indexOf(next as never);
      if (index >= 0) out = `${out}[${index}]`;
    }
  }
  return out;
}

function lineOf(lines: LineCounter, node: { range?: readonly number[] | null } | null | undefined): number | undefined {
  const start = node?.range?.[0];
  return start === undefined ? undefined : lines.linePos(start).line;
}

/** Keys of a formatted path (`pools[1].count` → pools, 1, count). */
function pathKeys(path: string): Array<string | number> {
  return [...path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)].map((m) => (m[2] !== undefined ? Number(m[2]) : m[1]!));
}

/** The line of the deepest node of `path` that exists in the document. */
export function lineOfPath(doc: Document, lines: LineCounter, path: string): number | undefined {
  const keys = pathKeys(path);
  for (let n = keys.length; n >= 0; n -= 1) {
    const node = doc.getIn(keys.slice(0, n), true) as YamlNode | undefined;
    const Y = yaml();
    if (node && (Y.isNode(node) || Y.isPair(node))) return lineOf(lines, node as YamlNode);
  }
  return undefined;
}

/** Everything in the document a spec must not use, as issues naming the field and the line. */
function unsupported(doc: Document, lines: LineCounter): SpecIssue[] {
  const Y = yaml();
  const issues: SpecIssue[] = [];
  const add = (ancestry: readonly unknown[], node: YamlNode, message: string) => {
    const line = lineOf(lines, node);
    issues.push({ path: fieldPath(ancestry, node) || `line ${line ?? '?'}`, message, ...(line ? { line } : {}) });
  };
  let aliases = 0;
  Y.visit(doc, {
    Alias(_key, node, ancestry) {
      aliases += 1;
      if (aliases === MAX_ALIASES + 1)
        add(ancestry, node, `more than ${MAX_ALIASES} aliases in one spec; write values out`);
      const target = node.resolve(doc);
      if (!target)
        add(ancestry, node, `alias *${node.source} names no anchor defined before it; define &${node.source}`);
      else if (ancestry.includes(target as never))
        add(ancestry, node, `alias *${node.source} refers to a value that contains it; write the value out`);
    },
    Pair(_key, pair, ancestry) {
      if (Y.isScalar(pair.key) && pair.key.value === '<<')
        add([...ancestry, pair], pair.key, 'merge keys (<<) are not supported in a spec; write the fields out');
    },
    Node(_key, node, ancestry) {
      if (node.tag && !CORE_TAGS.has(node.tag))
        add(ancestry, node, `the tag ${node.tag} is not supported in a spec; remove it`);
      if (Y.isScalar(node)) {
        if (typeof node.value === 'number' && !Number.isFinite(node.value))
          add(ancestry, node, 'number out of range; use a plain number');
        if (typeof node.value === 'string' && controlAt(node.value) >= 0)
          add(ancestry, node, 'control characters are not allowed; remove them');
      }
    },
  });
  return issues;
}

/**
 * YAML text to the plain value a spec is validated from. Every malformed input (syntax, duplicate keys,
 * unresolved or cyclic aliases, merge keys, non-core tags, out-of-range numbers, control characters) is a
 * SpecError naming the field and the line. `lines` gives the lines of fields the schema later refuses.
 */
export function readYaml(text: string, source: string): { value: unknown; doc: Document; lines: LineCounter } {
  const Y = yaml();
  const lines = new Y.LineCounter();
  const at = controlAt(text);
  if (at >= 0) {
    const line = text.slice(0, at).split('\n').length;
    throw new SpecError(
      [
        {
          path: `line ${line}`,
          line,
          message: `control character U+${text.charCodeAt(at).toString(16).padStart(4, '0')} in the file; remove it`,
        },
      ],
      source,
    );
  }
  const doc = Y.parseDocument(text, { prettyErrors: true, uniqueKeys: true, lineCounter: lines });
  if (doc.errors.length > 0) {
    throw new SpecError(
      doc.errors.map((e) => ({
        path: e.linePos ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : '',
        ...(e.linePos ? { line: e.linePos[0].line } : {}),
        message: `malformed YAML: ${e.message.split('\n')[0]}`,
      })),
      source,
    );
  }
  const issues = [
    ...unsupported(doc, lines),
    ...doc.warnings.map((w) => ({
      path: w.linePos ? `line ${w.linePos[0].line}, column ${w.linePos[0].col}` : '',
      ...(w.linePos ? { line: w.linePos[0].line } : {}),
      message: `unsupported YAML: ${w.message.split('\n')[0]}`,
    })),
  ];
  if (issues.length > 0) throw new SpecError(issues, source);
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIASES });
  } catch (error) {
    // Expanding nested aliases can exceed the budget although each is fine: name the first one.
    let first: YamlNode | undefined;
    Y.visit(doc, {
      Alias(_key, node) {
        first = node;
        return Y.visit.BREAK;
      },
    });
    const line = lineOf(lines, first) ?? 1;
    throw new SpecError(
      [{ path: `line ${line}`, line, message: `YAML the spec cannot use: ${(error as Error).message.split('\n')[0]}` }],
      source,
    );
  }
  return { value, doc, lines };
}
