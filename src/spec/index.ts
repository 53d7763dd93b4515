export { poolSpecHash } from './hash.js';
export { specJsonSchema } from './json-schema.js';
export { loadSpec, parseSpec, parseSpecYaml } from './load.js';
export * from './schema.js';
