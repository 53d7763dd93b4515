// Writes providers/gcp/protos-v1.json: the part of @google-cloud/compute's protos.json (11.7 MB, every type of
// compute v1, v1beta and v1small) that the services the gcp adapter uses need: their methods' request and response
// types and everything those reach. Each generated client parses, hashes and builds a protobufjs Root from the
// whole file (about 1 s and 100 MB); providers/gcp/clients.ts hands them this part instead.
// Run after upgrading @google-cloud/compute: node scripts/gce-protos.mjs   (--check: exit 1 when out of date)
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const SERVICES = [
  'Instances',
  'ZoneOperations',
  'RegionOperations',
  'GlobalOperations',
  'Networks',
  'Subnetworks',
  'Firewalls',
  'MachineTypes',
  'Zones',
  'Regions',
];
const V1 = ['google', 'cloud', 'compute', 'v1'];

export function trimProtos(full) {
  const at = (path) => path.reduce((o, k) => o?.nested?.[k], full);
  // Copies `path` (a namespace chain) into `out`, with only the given leaf.
  const out = { nested: {} };
  const put = (path, value) => {
    let o = out;
    for (const k of path.slice(0, -1)) {
      const src = at(path.slice(0, path.indexOf(k) + 1));
      o.nested[k] ??= { ...(src.options ? { options: src.options } : {}), nested: {} };
      o = o.nested[k];
    }
    o.nested[path.at(-1)] = value;
  };
  const seen = new Set();
  const queue = [];
  const want = (path) => {
    const key = path.join('.');
    if (seen.has(key)) return;
    seen.add(key);
    queue.push(path);
  };
  // protobufjs resolution: the name relative to the referring scope, then each enclosing scope outwards.
  const resolve = (scope, name) => {
    if (name.startsWith('.')) return name.slice(1).split('.');
    const parts = name.split('.');
    for (let s = scope.length; s >= 0; s--) {
      const path = [...scope.slice(0, s), ...parts];
      if (at(path)) return path;
    }
    return undefined;
  };
  for (const s of SERVICES) want([...V1, s]);
  // Annotations the descriptors' options name (http rules, extended operations): small, kept whole.
  for (const ns of ['api', 'protobuf']) want(['google', ns]);
  for (const k of Object.keys(at(['google', 'cloud']).nested)) if (k !== 'compute') want(['google', 'cloud', k]);
  while (queue.length) {
    const path = queue.shift();
    const def = at(path);
    if (!def) throw new Error(`protos.json has no ${path.join('.')}`);
    put(path, def);
    const scope = path.slice(0, -1);
    const refs = [];
    for (const m of Object.values(def.methods ?? {})) refs.push(m.requestType, m.responseType);
    for (const f of Object.values(def.fields ?? {})) {
      refs.push(f.type);
      if (f.keyType) refs.push(f.keyType);
    }
    for (const child of Object.keys(def.nested ?? {})) want([...path, child]);
    for (const name of refs) {
      const target = name && resolve(def.fields || def.methods ? path : scope, name);
      if (target && (at(target)?.fields || at(target)?.values || at(target)?.methods)) want(target);
    }
  }
  return out;
}

const pkg = require('@google-cloud/compute/package.json');
const full = require('@google-cloud/compute/build/protos/protos.json');
const text = `${JSON.stringify({ version: pkg.version, protos: trimProtos(full) })}\n`;
const file = join(root, 'providers', 'gcp', 'protos-v1.json');
if (process.argv.includes('--check')) {
  if (readFileSync(file, 'utf8') !== text) {
    console.error(`${file} is not the one made from @google-cloud/compute ${pkg.version}: run node scripts/gce-protos.mjs`);
    process.exit(1);
  }
} else {
  writeFileSync(file, text);
  console.log(`wrote ${file} (${text.length} bytes, @google-cloud/compute ${pkg.version})`);
}
