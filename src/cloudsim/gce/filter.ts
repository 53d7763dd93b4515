import { invalidField } from './errors.js';

/**
 * The `filter` parameter of Compute Engine list calls: comparisons `field op value` with `=`, `!=`, `:`
 * (has / presence with `*`), `<`, `>`, and the legacy regex forms `eq` / `ne` (full match); combined by
 * juxtaposition or AND, OR, NOT and parentheses. `labels.k = "v"` and `labels.k=v` are the same query.
 */
export type FieldGetter = (path: string) => string | undefined;
export type Predicate = (get: FieldGetter) => boolean;

type Token = { kind: 'lp' | 'rp' | 'op' | 'word' | 'str'; text: string };

const OPS = ['!=', '<=', '>=', '=', ':', '<', '>'];

function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let expectValue = false;
  while (i < input.length) {
    const c = input[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '"' || c === "'") {
      let j = i + 1;
      let text = '';
      while (j < input.length && input[j] !== c) {
        if (input[j] === '\\' && j + 1 < input.length) j++;
        text += input[j];
        j++;
      }
      if (j >= input.length) throw new Error('unterminated string');
      tokens.push({ kind: 'str', text });
      i = j + 1;
      expectValue = false;
      continue;
    }
    if (expectValue) {
      let j = i;
      while (j < input.length && !/[\s)]/.test(input[j]!)) j++;
      tokens.push({ kind: 'word', text: input.slice(i, j) });
      i = j;
      expectValue = false;
      continue;
    }
    if (c === '(' || c === ')') {
      tokens.push({ kind: c === '(' ? 'lp' : 'rp', text: c });
      i++;
      continue;
    }
    const op = OPS.find((o) => input.startsWith(o, i));
    if (op) {
      tokens.push({ kind: 'op', text: op });
      i += op.length;
      expectValue = true;
      continue;
    }
    let j = i;
    while (j < input.length && !/[\s()"'=!:<>]/.test(input[j]!)) j++;
    const word = input.slice(i, j);
    if (word === 'eq' || word === 'ne') {
      tokens.push({ kind: 'op', text: word });
      expectValue = true;
    } else tokens.push({ kind: 'word', text: word });
    i = j;
  }
  return tokens;
}

function globToRegex(glob: string): RegExp {
  return new RegExp(
    `^${glob
      .split('*')
      .map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
}

function compare(field: string, op: string, raw: string): Predicate {
  switch (op) {
    case '=':
    case '!=': {
      const re = raw.includes('*') ? globToRegex(raw) : undefined;
      const eq = (v: string | undefined) => v !== undefined && (re ? re.test(v) : v === raw);
      return op === '=' ? (get) => eq(get(field)) : (get) => !eq(get(field));
    }
    case ':':
      if (raw === '*') return (get) => get(field) !== undefined;
      return (get) => {
        const v = get(field);
        return v !== undefined && (v === raw || v.split(/[\s,/]+/).includes(raw));
      };
    case 'eq':
    case 'ne': {
      const re = new RegExp(`^(?:${raw})$`);
      return op === 'eq' ? (get) => re.test(get(field) ?? '') : (get) => !re.test(get(field) ?? '');
    }
    default: {
      const num = Number(raw);
      const cmp = (v: string) =>
        Number.isFinite(num) && v !== '' && Number.isFinite(Number(v))
          ? Number(v) - num
          : v < raw
            ? -1
            : v > raw
              ? 1
              : 0;
      return (get) => {
        const v = get(field);
        if (v === undefined) return false;
        const d = cmp(v);
        return op === '<' ? d < 0 : op === '>' ? d > 0 : op === '<=' ? d <= 0 : d >= 0;
      };
    }
  }
}

class Parser {
  private i = 0;
  constructor(private readonly tokens: Token[]) {}

  parse(): Predicate {
    const p = this.or();
    if (this.i !== this.tokens.length) throw new Error('trailing tokens');
    return p;
  }

  private peek(): Token | undefined {
    return this.tokens[this.i];
  }

  private or(): Predicate {
    let left = this.and();
    while (this.peek()?.kind === 'word' && this.peek()!.text === 'OR') {
      this.i++;
      const a = left;
      const b = this.and();
      left = (get) => a(get) || b(get);
    }
    return left;
  }

  private and(): Predicate {
    const parts: Predicate[] = [this.unary()];
    for (;;) {
      const t = this.peek();
      if (!t || t.kind === 'rp' || (t.kind === 'word' && t.text === 'OR')) break;
      if (t.kind === 'word' && t.text === 'AND') this.i++;
      parts.push(this.unary());
    }
    return parts.length === 1 ? parts[0]! : (get) => parts.every((p) => p(get));
  }

  private unary(): Predicate {
    const t = this.peek();
    if (t?.kind === 'word' && (t.text === 'NOT' || t.text === '-')) {
      this.i++;
      const inner = this.unary();
      return (get) => !inner(get);
    }
    if (t?.kind === 'lp') {
      this.i++;
      const inner = this.or();
      if (this.peek()?.kind !== 'rp') throw new Error('missing )');
      this.i++;
      return inner;
    }
    const field = this.tokens[this.i++];
    const op = this.tokens[this.i++];
    const value = this.tokens[this.i++];
    if (field?.kind !== 'word' || op?.kind !== 'op' || !value || (value.kind !== 'word' && value.kind !== 'str'))
      throw new Error('bad comparison');
    return compare(field.text, op.text, value.text);
  }
}

const cache = new Map<string, Predicate>();

/** Compiles (and caches) a filter; an empty filter matches everything. Throws the API's 400 on bad syntax. */
export function compileFilter(filter: string | null | undefined): Predicate | undefined {
  const text = (filter ?? '').trim();
  if (!text) return undefined;
  let p = cache.get(text);
  if (!p) {
    try {
      p = new Parser(tokenize(text)).parse();
    } catch {
      throw invalidField('filter', text, 'Invalid list filter expression.');
    }
    if (cache.size > 500) cache.clear();
    cache.set(text, p);
  }
  return p;
}

/** Field getter over a plain JSON resource: dotted paths, map keys (`labels.k`), array elements joined. */
export function jsonGetter(resource: Record<string, unknown>): FieldGetter {
  return (path) => {
    let v: unknown = resource;
    for (const part of path.split('.')) {
      if (v === null || typeof v !== 'object') return undefined;
      v = (v as Record<string, unknown>)[part];
    }
    if (v === undefined || v === null) return undefined;
    if (Array.isArray(v)) return v.map(String).join(' ');
    return typeof v === 'object' ? JSON.stringify(v) : String(v);
  };
}
