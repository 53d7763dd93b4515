import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { readUserDataFiles } from '../providers/local/user-data.js';
import { Cluster } from '../src/cluster/index.js';
import type { Progress } from '../src/cluster/progress.js';
import { redactingLogger } from '../src/log.js';
import { redact, redactTail, redactValue } from '../src/redact.js';
import type { ClusterSpecInput } from '../src/spec/schema.js';

describe('redact', () => {
  it('hides join tokens, private keys and bearer tokens', () => {
    const token = 'SWMTKN-1-3pu6hszjas19xyp7ghgosyx9k8atbfcr8p2is99znpy26u2lkl-1awxwuwd3z9j1z3puu7rcgdbx';
    const key = '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49\n-----END PRIVATE KEY-----';
    const text = `join with ${token}; key ${key}; Authorization: Bearer abcdefghijklmnopqrstuvwxyz012345`;
    const out = redact(text);
    expect(out).not.toContain('3pu6hszjas19');
    expect(out).not.toContain('MIGHAgEA');
    expect(out).not.toContain('abcdefghijklmnop');
    expect(out).toContain('SWMTKN-1-[REDACTED]');
    expect(redactValue({ nested: [{ t: token }], n: 1 })).toEqual({ nested: [{ t: 'SWMTKN-1-[REDACTED]' }], n: 1 });
  });
});

describe('redact: credentials that carry no "Bearer" or "Authorization" in front', () => {
  it('hides a swarm unlock key', () => {
    expect(redact('key SWMKEY-1-7c37Cc8654o6p38HnroywCi19pllOnGtbdZEgtKxZu8')).toBe('key SWMKEY-1-[REDACTED]');
  });

  it('hides a Google access token on its own', () => {
    const out = redact('token=ya29.a0AfB_byC1234567890abcdefXYZ-_.more and {"access_token":"ya29.c.b0Aaekm1K"}');
    expect(out).not.toMatch(/ya29\.[A-Za-z0-9]/);
    expect(out).toContain('ya29.[REDACTED]');
  });

  it('hides an STS session token as a header and in a presigned query', () => {
    const session = 'IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJGMEQCIHvSESSION';
    const header = redact(`x-amz-security-token: ${session}`);
    const query = redact(`https://h/?X-Amz-Security-Token=${encodeURIComponent(session)}&X-Amz-Date=20260101`);
    const json = redact(`{"X-Amz-Security-Token":"${session}"}`);
    for (const out of [header, query, json]) {
      expect(out).not.toContain('IQoJb3JpZ2lu');
      expect(out).toMatch(/security-token["']?\s*[:=]\s*["']?\[REDACTED\]/i);
    }
    expect(query).toContain('X-Amz-Date=20260101');
  });

  it('hides secret keys written as environment variables or in a credentials file', () => {
    const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
    const env = redact(
      `AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=${secret} AWS_SESSION_TOKEN=FwoGZXIvYXdzEXAMPLE`,
    );
    const ini = redact(`[default]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = ${secret}\n`);
    for (const out of [env, ini]) expect(out).not.toContain('wJalrXUtnFEMI');
    expect(env).not.toContain('FwoGZXIvYXdz');
    expect(env).toContain('AWS_SECRET_ACCESS_KEY=[REDACTED]');
    expect(ini).toContain('aws_access_key_id = AKIDEXAMPLE');
  });
});

describe('redact: private keys cut in half', () => {
  const body = Array.from({ length: 20 }, (_, i) => `MIIEvQIBADANBgkqhkiG9w0BAQEFAASC${String(i).padStart(32, 'A')}`);
  const pem = ['-----BEGIN RSA PRIVATE KEY-----', ...body, '-----END RSA PRIVATE KEY-----'].join('\n');

  it('hides the first half of a key whose END was cut off', () => {
    const out = redact(`booting\n${pem.slice(0, pem.length / 2)}`);
    expect(out).toBe('booting\n[REDACTED PRIVATE KEY]');
  });

  it('hides the second half of a key whose BEGIN was cut off, and keeps the log around it', () => {
    const out = redact(`${pem.slice(pem.length / 2 + 7)}\nwrote key\nready`);
    expect(out).not.toContain('MIIEvQIBADAN');
    expect(out).not.toContain('AAAA');
    expect(out).toBe('[REDACTED PRIVATE KEY]\nwrote key\nready');
    expect(redact(`step 1 done\n${pem.slice(pem.length / 2)}`)).toBe('step 1 done\n[REDACTED PRIVATE KEY]');
  });

  it('redacts a log before cutting it, so a key across the cut leaves nothing behind', () => {
    const log = `${'x'.repeat(1000)}\n${pem}\n${'y'.repeat(200)}\n`;
    const limit = Buffer.byteLength(log) - 1000 - Math.floor(pem.length / 2);
    const out = redactTail(log, limit);
    expect(Buffer.byteLength(out)).toBeLessThanOrEqual(limit);
    expect(out).not.toContain('MIIEvQIBADAN');
    expect(out).toContain('[REDACTED PRIVATE KEY]');
    expect(out.endsWith(`${'y'.repeat(200)}\n`)).toBe(true);
  });

  it('the local provider reads a boot log redacted before its 64 KiB cut', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'skypool-redact-'));
    try {
      // The key starts before the last 64 KiB and ends inside them.
      const tail = `\n${'z'.repeat(65_536 - 400)}\n`;
      await writeFile(join(dir, 'user-data.log'), `${'a'.repeat(5000)}\n${pem}${tail}`);
      const result = await readUserDataFiles(dir);
      expect(result.log).not.toContain('MIIEvQIBADAN');
      expect(result.log).not.toContain('-----END');
      expect(result.log.endsWith(tail)).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('logging through pino', () => {
  const capture = () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    });
    return { lines, logger: pino({ level: 'debug' }, stream) };
  };

  it('censors secret fields by name and every other value by pattern, errors included', () => {
    const { lines, logger } = capture();
    redactingLogger(logger).info(
      {
        token: 'plain-token-value',
        providers: { aws: { credentials: { secretAccessKey: 'sak-value' } } },
        headers: { authorization: 'opaque-value' },
        fieldAddedLater: 'join with SWMTKN-1-abcdef0123456789-xyz',
        err: new Error('request with ya29.a0secretsecret failed'),
        count: 3,
      },
      'msg',
    );
    const out = lines.join('');
    for (const leak of ['plain-token-value', 'sak-value', 'opaque-value', 'abcdef0123456789', 'a0secretsecret']) {
      expect(out).not.toContain(leak);
    }
    const record = JSON.parse(out);
    expect(record.token).toBe('[REDACTED]');
    expect(record.count).toBe(3);
    expect(record.err.message).toBe('request with ya29.[REDACTED] failed');
    expect(record.err.type).toBe('Error');
  });

  it('a Cluster wraps the logger it is given', () => {
    const { lines, logger } = capture();
    const cluster = Cluster.fromSpec(
      {
        name: 'redact-log',
        engine: 'swarm',
        pools: [{ name: 'm', provider: 'local', role: 'manager', count: 1, instanceType: 'small' }],
      } as ClusterSpecInput,
      { logger },
    );
    const { progress } = (cluster as unknown as { ctx: { progress: Progress } }).ctx;
    progress.emit({ type: 'message', level: 'info', message: 'token SWMTKN-1-zzzzsecretzzzz-yy' });
    const out = lines.join('');
    expect(out).toContain('SWMTKN-1-[REDACTED]');
    expect(out).not.toContain('zzzzsecretzzzz');
  });
});
