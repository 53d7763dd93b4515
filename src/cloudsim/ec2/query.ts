import { Ec2Error } from './errors.js';

/**
 * The ec2Query body as a tree: `TagSpecification.1.Tag.2.Key=v` becomes nested nodes, numeric segments
 * being 1-based list positions. Accessors turn a missing value into undefined and a bad one into the
 * error EC2 gives for it, so action handlers read like the API reference.
 */
interface Node {
  value?: string;
  children?: Map<string, Node>;
}

export class QueryParams {
  private constructor(
    private readonly node: Node,
    /** Dotted path of this node in the request, for error messages. */
    readonly path: string,
  ) {}

  static parse(body: string): QueryParams {
    const root: Node = {};
    for (const [key, value] of new URLSearchParams(body)) {
      let node = root;
      for (const part of key.split('.')) {
        node.children ??= new Map();
        let next = node.children.get(part);
        if (!next) node.children.set(part, (next = {}));
        node = next;
      }
      node.value = value;
    }
    return new QueryParams(root, '');
  }

  private child(name: string): Node | undefined {
    let node: Node | undefined = this.node;
    for (const part of name.split('.')) node = node?.children?.get(part);
    return node;
  }

  private full(name: string): string {
    return this.path ? `${this.path}.${name}` : name;
  }

  has(name: string): boolean {
    return this.child(name) !== undefined;
  }

  /** Every flattened key and value below this node, sorted: a canonical form for idempotency checks. */
  entries(): Array<[string, string]> {
    const out: Array<[string, string]> = [];
    const walk = (node: Node, prefix: string) => {
      if (node.value !== undefined) out.push([prefix, node.value]);
      for (const [k, n] of node.children ?? []) walk(n, prefix ? `${prefix}.${k}` : k);
    };
    walk(this.node, '');
    return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }

  str(name: string): string | undefined {
    return this.child(name)?.value;
  }

  required(name: string): string {
    const v = this.str(name);
    if (v === undefined || v === '')
      throw new Ec2Error('MissingParameter', `The request must contain the parameter ${this.full(name)}`);
    return v;
  }

  int(name: string, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number | undefined {
    const v = this.str(name);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n)) {
      throw new Ec2Error('InvalidParameterValue', `Invalid value '${v}' for ${this.full(name)}: expected an integer`);
    }
    if (n < min || n > max)
      throw new Ec2Error(
        'InvalidParameterValue',
        `Value (${n}) for parameter ${this.full(name)} is invalid. Expected a value between ${min} and ${max}.`,
      );
    return n;
  }

  bool(name: string): boolean | undefined {
    const v = this.str(name);
    if (v === undefined) return undefined;
    if (v === 'true') return true;
    if (v === 'false') return false;
    throw new Ec2Error('InvalidParameterValue', `Invalid value '${v}' for ${this.full(name)}: expected true or false`);
  }

  struct(name: string): QueryParams | undefined {
    const node = this.child(name);
    return node ? new QueryParams(node, this.full(name)) : undefined;
  }

  /** A flattened list `Name.1`, `Name.2`...; positions are sorted numerically (clients need not send them in order). */
  list(name: string): QueryParams[] {
    const node = this.child(name);
    if (!node?.children) return [];
    const items: Array<[number, Node]> = [];
    for (const [k, n] of node.children) {
      const i = Number(k);
      if (!Number.isInteger(i) || i < 1)
        throw new Ec2Error(
          'InvalidParameterValue',
          `Invalid list position '${k}' in ${this.full(name)}: lists are 1-based`,
        );
      items.push([i, n]);
    }
    return items.sort((a, b) => a[0] - b[0]).map(([i, n]) => new QueryParams(n, this.full(`${name}.${i}`)));
  }

  strList(name: string): string[] {
    return this.list(name).flatMap((p) => (p.node.value === undefined ? [] : [p.node.value]));
  }
}
