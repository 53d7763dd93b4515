import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { PrerequisiteError } from '../errors.js';
import { type TarEntry, tar } from './tar.js';

const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

export interface DemoImage {
  readonly name: string;
  readonly tarball: string;
}

/**
 * Builds a tiny HTTP server image with no registry and no host dockerd: a static busybox plus its applet links
 * as the only layer, packed in the `docker save` format (manifest.json + config + layer tar) that `docker load`
 * reads. Each replica serves a page naming its container hostname.
 */
export async function buildHttpdImage(
  path: string,
  name = 'skypool/demo-httpd:1',
  busybox = '/bin/busybox',
): Promise<DemoImage> {
  let applets: string[];
  try {
    applets = execFileSync(busybox, ['--list'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  } catch {
    throw new PrerequisiteError(
      `the demo image needs a static busybox at ${busybox}: apt-get install -y busybox-static`,
      { busybox },
    );
  }
  if (!applets.includes('httpd'))
    throw new PrerequisiteError(`${busybox} has no httpd applet: apt-get install -y busybox-static`, { busybox });
  const entries: TarEntry[] = [
    { type: 'dir', path: 'bin' },
    { type: 'file', path: 'bin/busybox', data: readFileSync(busybox), mode: 0o755 },
    ...applets
      .filter((a) => a !== 'busybox' && /^[\w.[-]+$/.test(a))
      .map((a): TarEntry => ({ type: 'symlink', path: `bin/${a}`, target: 'busybox' })),
    { type: 'dir', path: 'www' },
    { type: 'dir', path: 'tmp', mode: 0o1777 },
  ];
  const layer = tar(entries);
  const diffId = sha256(layer);
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  const config = JSON.stringify({
    architecture: arch,
    os: 'linux',
    created: '1970-01-01T00:00:00Z',
    config: {
      Env: ['PATH=/bin'],
      // A server that stops when asked, as real ones do: httpd as PID 1 would ignore SIGTERM and make every stop
      // (a rolling update, a drain) wait out the stop grace period. The shell stays PID 1 and exits on TERM.
      Cmd: [
        '/bin/sh',
        '-c',
        'echo "hello from $(hostname)" > /www/index.html; trap "exit 0" TERM INT; httpd -f -p 8080 -h /www & wait',
      ],
      ExposedPorts: { '8080/tcp': {} },
    },
    rootfs: { type: 'layers', diff_ids: [`sha256:${diffId}`] },
    history: [{ created: '1970-01-01T00:00:00Z', created_by: 'skypool demo: busybox-static httpd' }],
  });
  const configName = `${sha256(config)}.json`;
  const manifest = JSON.stringify([{ Config: configName, RepoTags: [name], Layers: [`${diffId}/layer.tar`] }]);
  const archive = tar([
    { type: 'dir', path: diffId },
    { type: 'file', path: `${diffId}/layer.tar`, data: layer },
    { type: 'file', path: configName, data: Buffer.from(config) },
    { type: 'file', path: 'manifest.json', data: Buffer.from(manifest) },
  ]);
  await writeFile(path, archive);
  return { name, tarball: path };
}
