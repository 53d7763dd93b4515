#!/usr/bin/env node
// The `app` of cdk.json: transpiles src/cdk/app.ts and the modules it imports (TypeScript's transpile-only API,
// one file at a time; `npm run typecheck` does the type check) into cdk.out/.app, then runs it. A full `tsc`
// would parse aws-cdk-lib's 3,000 declaration files first, ten times slower.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'cdk.out', '.app');
const entry = join(root, 'src', 'cdk', 'app.ts');

const pending = [entry];
const seen = new Set(pending);
while (pending.length > 0) {
  const file = pending.pop();
  const source = readFileSync(file, 'utf8');
  for (const { fileName } of ts.preProcessFile(source, true, true).importedFiles) {
    if (!fileName.startsWith('.')) continue;
    const dep = resolve(dirname(file), fileName.replace(/\.js$/, '.ts'));
    if (!seen.has(dep)) {
      seen.add(dep);
      pending.push(dep);
    }
  }
  const { outputText } = ts.transpileModule(source, {
    fileName: file,
    compilerOptions: {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      verbatimModuleSyntax: false,
      isolatedModules: true,
    },
  });
  const target = join(out, relative(root, file)).replace(/\.ts$/, '.js');
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, outputText);
}
// cdk.out/.app sits inside the repository, so packageRoot() still finds templates/ and node_modules resolve.
await import(pathToFileURL(join(out, 'src', 'cdk', 'app.js')).href);
