export * from './schema.js';
export { parseSpec, parseSpecYaml, loadSpec } from './load.js';
export { poolSpecHash } from './hash.js';
export { specJsonSchema } from './json-schema.js';
