/**
 * Last line of defence for output: whatever reaches a log, an error message or `--output json` passes through
 * here, so a swarm join token, a private key or a bearer token that slipped into a message is never printed.
 */
const PATTERNS: ReadonlyArray<[RegExp, string]> = [
  [/SWMTKN-1-[A-Za-z0-9-]+/g, 'SWMTKN-1-[REDACTED]'],
  [/SWMKEY-1-[A-Za-z0-9+/=-]+/g, 'SWMKEY-1-[REDACTED]'],
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g, '[REDACTED PRIVATE KEY]'],
  [/(authorization["']?\s*[:=]\s*["']?)(Bearer|AWS4-HMAC-SHA256)\s+[^"'\s,]+/gi, '$1$2 [REDACTED]'],
  [/(Bearer\s+)[A-Za-z0-9._~+/=-]{16,}/g, '$1[REDACTED]'],
  // Google OAuth access tokens are recognisable on their own, with or without a "Bearer" in front.
  [/\bya29\.[A-Za-z0-9._~+/=-]+/g, 'ya29.[REDACTED]'],
  // STS session tokens as a header (`x-amz-security-token: ...`) or a presigned query (`X-Amz-Security-Token=`).
  [/(x-amz-security-token["']?\s*[:=]\s*["']?)[^"'\s,&}]+/gi, '$1[REDACTED]'],
  // secretAccessKey (SDK objects), AWS_SECRET_ACCESS_KEY= (env), aws_secret_access_key = (credentials file),
  // and the session token that goes with them.
  [/((?:secret_?access_?key|aws_?session_?token)["']?\s*[:=]\s*["']?)[^"'\s,}]+/gi, '$1[REDACTED]'],
];

const BEGIN_KEY = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;
const END_KEY = /-----END [A-Z ]*PRIVATE KEY-----/;
const KEY_MATERIAL_LINE = /^[A-Za-z0-9+/=]*\r?$/;

/**
 * A text cut out of a longer one (the tail of a boot log) can hold half a key: a BEGIN whose END was cut off,
 * or key lines that end in an END whose BEGIN was cut off. Whole keys are gone by now, so any marker left is
 * one of those halves.
 */
function redactDanglingKeys(text: string): string {
  let out = text;
  const begin = BEGIN_KEY.exec(out);
  if (begin) out = `${out.slice(0, begin.index)}[REDACTED PRIVATE KEY]`;
  const end = END_KEY.exec(out);
  if (end) {
    // Walk back over the base64 lines before the END marker: that is the key's second half.
    const lines = out.slice(0, end.index).split('\n');
    let first = lines.length - 1;
    while (first > 0 && KEY_MATERIAL_LINE.test(lines[first - 1] ?? '')) first--;
    const kept = lines.slice(0, first).join('\n');
    out = `${kept}${first > 0 ? '\n' : ''}[REDACTED PRIVATE KEY]${out.slice(end.index + end[0].length)}`;
  }
  return out;
}

/** The text with secrets (keys, tokens, passwords, private keys) replaced by a marker. */
export function redact(text: string): string {
  let out = text;
  for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement);
  return redactDanglingKeys(out);
}

/**
 * The redacted end of a long output, at most `maxBytes` bytes of it. Redacts before cutting, so a secret that
 * the cut would split is still whole when the patterns see it, and again after, for what the cut leaves.
 */
export function redactTail(output: Buffer | string, maxBytes: number): string {
  const whole = redact(typeof output === 'string' ? output : output.toString('utf8'));
  const bytes = Buffer.from(whole, 'utf8');
  if (bytes.length <= maxBytes) return whole;
  return redact(bytes.subarray(bytes.length - maxBytes).toString('utf8'));
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
