/**
 * Last line of defence for output: whatever reaches a log, an error message or `--output json` passes through
 * here, so a swarm join token, a private key or a bearer token that slipped into a message is never printed.
 */
const PATTERNS: ReadonlyArray<[RegExp, string]> = [
  [/SWMTKN-1-[A-Za-z0-9-]+/g, 'SWMTKN-1-[REDACTED]'],
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g, '[REDACTED PRIVATE KEY]'],
  [/(authorization["']?\s*[:=]\s*["']?)(Bearer|AWS4-HMAC-SHA256)\s+[^"'\s,]+/gi, '$1$2 [REDACTED]'],
  [/(Bearer\s+)[A-Za-z0-9._~+/=-]{16,}/g, '$1[REDACTED]'],
  [/(secretAccessKey["']?\s*[:=]\s*["']?)[^"'\s,}]+/gi, '$1[REDACTED]'],
];

/** The text with secrets (keys, tokens, passwords, private keys) replaced by a marker. */
export function redact(text: string): string {
  let out = text;
  for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

/** Deep-redacts every string of a JSON-like value. */
export function redactValue<T>(value: T): T {
  if (typeof value === 'string') return redact(value) as T;
  if (Array.isArray(value)) return value.map(redactValue) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, redactValue(v)]),
    ) as T;
  }
  return value;
}
