import { readFile } from 'node:fs/promises';
import type * as z from 'zod/mini';
import { SkypoolError, SpecError, type SpecIssue } from '../errors.js';
import { crossFieldIssues } from './rules.js';
import { type ClusterSpec, ClusterSpecSchema } from './schema.js';
import { lineOfPath, readYaml } from './yaml.js';

function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (acc, key) => (typeof key === 'number' ? `${acc}[${key}]` : acc ? `${acc}.${String(key)}` : String(key)),
    '',
  );
}

function zodIssues(error: z.core.$ZodError): SpecIssue[] {
  return error.issues.flatMap((issue): SpecIssue[] => {
    const base = formatPath(issue.path);
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({
        path: base ? `${base}.${key}` : key,
        message: `unknown field "${key}"; remove it or check its spelling (run \`skypool schema\` for the allowed fields)`,
      }));
    }
    if (issue.code === 'invalid_type' && issue.input === undefined) {
      return [{ path: base, message: `required field is missing (${issue.expected} expected)` }];
    }
    if (issue.code === 'invalid_key') {
      const key = String(issue.path[issue.path.length - 1]);
      return [{ path: base, message: `invalid key "${key}": ${issue.issues.map((i) => i.message).join('; ')}` }];
    }
    return [{ path: base, message: issue.message }];
  });
}

/** Validates a spec given as a TypeScript object; throws SpecError naming every field at fault. */
export function parseSpec(input: unknown, source?: string): ClusterSpec {
  const result = ClusterSpecSchema.safeParse(input, { reportInput: true });
  if (!result.success) throw new SpecError(zodIssues(result.error), source);
  const issues = crossFieldIssues(result.data);
  if (issues.length > 0) throw new SpecError(issues, source);
  return result.data;
}

/** Parses and validates YAML text (a `skypool.yaml`); every issue names its field and line. */
export function parseSpecYaml(text: string, source = 'skypool.yaml'): ClusterSpec {
  const { value, doc, lines } = readYaml(text, source);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new SpecError(
      [{ path: '', line: 1, message: 'the spec must be a YAML mapping with name, engine and pools' }],
      source,
    );
  }
  try {
    return parseSpec(value, source);
  } catch (error) {
    if (!(error instanceof SpecError)) throw error;
    const issues = error.issues.map((issue) => {
      const line = issue.line ?? lineOfPath(doc, lines, issue.path);
      return line === undefined ? issue : { ...issue, line };
    });
    throw new SpecError(issues, source);
  }
}

/** Reads and validates a spec file. */
export async function loadSpec(path: string): Promise<ClusterSpec> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new SkypoolError(
      'SPEC_NOT_FOUND',
      `cannot read cluster spec ${path}: ${(cause as Error).message}. Pass the file with -f <path>.`,
      {
        exitCode: 2,
        cause,
      },
    );
  }
  return parseSpecYaml(text, path);
}
