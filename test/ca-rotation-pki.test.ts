import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  beginCaRotation,
  clusterPkiDir,
  ensureClusterPki,
  finishCaRotation,
  readCaRotation,
} from '../src/bootstrap/cluster-pki.js';
import { describeIf, missing } from './support/requirements.js';

/** The state-dir side of `rotate-ca` (engine-api-ca.ts drives the nodes): phases, files, resumption, chains. */
describe('engine API CA rotation in the state directory', () => {
  let dir: string;
  const pki = (file: string) => join(clusterPkiDir(dir, 'c'), file);
  const read = (file: string) => readFileSync(pki(file), 'utf8');

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'skypool-carot-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('switching: the new CA for user-data, the new client with the cross-signed CA, the old identity kept for probes', async () => {
    const old = await ensureClusterPki(dir, 'c');
    expect(await readCaRotation(dir, 'c')).toBeUndefined();
    const state = await beginCaRotation(dir, 'c');
    expect(state.phase).toBe('switching');
    // A second begin (a resumed rotate-ca) keeps what the first made.
    const next = read('next/ca.pem');
    expect(await beginCaRotation(dir, 'c')).toEqual(state);
    expect(read('next/ca.pem')).toBe(next);
    expect(statSync(pki('next/ca-key.pem')).mode & 0o777).toBe(0o600);
    expect(statSync(pki('rotation.json')).mode & 0o777).toBe(0o600);

    const during = await ensureClusterPki(dir, 'c');
    expect(during.ca.certPem).toBe(next);
    expect(during.rotating?.previous).toEqual(old.client);
    expect(during.serverCaPem).toContain(old.ca.certPem.trim());
    // The client chain: its leaf from the new CA, then the new CA signed by the old one.
    const [leaf, cross] = (
      during.client.certPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []
    ).map((p) => new X509Certificate(p));
    expect(cross).toBeDefined();
    const oldCa = new X509Certificate(old.ca.certPem);
    const newCa = new X509Certificate(next);
    expect(leaf!.checkIssued(newCa) && leaf!.verify(newCa.publicKey)).toBe(true);
    expect(cross!.subject).toBe(newCa.subject);
    expect(cross!.checkIssued(oldCa) && cross!.verify(oldCa.publicKey)).toBe(true);
    expect(cross!.publicKey.export({ format: 'pem', type: 'spki' })).toBe(
      newCa.publicKey.export({ format: 'pem', type: 'spki' }),
    );
    expect(cross!.ca).toBe(true);
  });

  describeIf(missing({ files: ['/usr/bin/openssl'] }))('with openssl', () => {
    it('the new client verifies against the old CA (through the cross-signature) and against the new one', () => {
      const leaf = join(dir, 'leaf.pem');
      const chain = join(dir, 'cross.pem');
      const [l, c] = [read('next/cert.pem'), read('next/cross.pem')];
      writeFileSync(leaf, l);
      writeFileSync(chain, c);
      const verify = (ca: string) =>
        execFileSync('openssl', ['verify', '-purpose', 'sslclient', '-CAfile', ca, '-untrusted', chain, leaf], {
          encoding: 'utf8',
        });
      expect(verify(pki('ca.pem'))).toMatch(/OK/);
      expect(verify(pki('next/ca.pem'))).toMatch(/OK/);
    });
  });

  it('promoting: a finish cut short after the phase change completes on the next load; the old key is gone', async () => {
    const oldCa = read('ca.pem');
    const oldKey = read('ca-key.pem');
    const next = { ca: read('next/ca.pem'), key: read('next/ca-key.pem'), cert: read('next/cert.pem') };
    // What a crash right after the phase change leaves: rotation.json says promoting, ca.pem is still the old.
    writeFileSync(pki('retired-ca.pem'), oldCa);
    writeFileSync(pki('rotation.json'), JSON.stringify({ phase: 'promoting', started: 'x' }), { mode: 0o600 });
    const after = await ensureClusterPki(dir, 'c');
    expect(await readCaRotation(dir, 'c')).toBeUndefined();
    expect(after.rotating).toBeUndefined();
    expect(after.ca).toEqual({ certPem: next.ca, keyPem: next.key });
    expect(read('ca-key.pem')).not.toBe(oldKey);
    expect(read('retired-ca.pem')).toBe(oldCa);
    expect(after.client.certPem.startsWith(next.cert.trim())).toBe(true);
    expect(after.serverCaPem).toContain(oldCa.trim());
    expect(existsSync(pki('next'))).toBe(false);
    expect(statSync(pki('ca-key.pem')).mode & 0o777).toBe(0o600);
    await finishCaRotation(dir, 'c'); // nothing in progress: a no-op
    expect((await ensureClusterPki(dir, 'c')).ca.certPem).toBe(next.ca);
  });

  it('refuses a rotation.json with an unknown phase rather than guessing', async () => {
    writeFileSync(pki('rotation.json'), JSON.stringify({ phase: 'halfway' }));
    await expect(readCaRotation(dir, 'c')).rejects.toThrow(/names no known phase/);
    await rm(pki('rotation.json'));
  });
});
