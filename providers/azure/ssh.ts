import { generateKeyPairSync } from 'node:crypto';

/**
 * Azure refuses a Linux VM without a password or an SSH key. skypool manages nodes through their engine API,
 * not SSH, so by default it sends the public half of a throwaway ed25519 key whose private half is never kept.
 */
export function throwawaySshPublicKey(): string {
  const { publicKey } = generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
  const field = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  const blob = Buffer.concat([field(Buffer.from('ssh-ed25519')), field(raw)]);
  return `ssh-ed25519 ${blob.toString('base64')} skypool-no-login`;
}
