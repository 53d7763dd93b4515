import { redact, redactValue } from '../src/redact.js';

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
