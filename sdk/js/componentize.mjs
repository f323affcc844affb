// Builds a JavaScript plugin into a component: node componentize.mjs <source.js> <wit dir> <world> <out.wasm> <componentize-js dir>
// `tianji plugin build` runs it with the componentize-js it found (the project's node_modules or $TIANJI_JS_TOOLS).
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { resolve, join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [source, wit, world, out, tool] = process.argv.slice(2);
if (!tool) {
  console.error('usage: node componentize.mjs <source.js> <wit dir> <world> <out.wasm> <componentize-js dir>');
  process.exit(2);
}
// componentize-js reads the WIT through @bytecodealliance/preview2-shim's WASI filesystem; shim 0.26
// preopens nothing, so give every copy it may load a preopen of "/".
for (const from of [tool, join(tool, '..', '..')]) {
  try {
    const shim = createRequire(join(from, 'package.json')).resolve('@bytecodealliance/preview2-shim/filesystem');
    const fs = await import(pathToFileURL(shim));
    if (!(fs._getPreopens?.() ?? []).some(([, p]) => p === '/')) fs._addPreopen('/', '/');
  } catch {}
}
const pkg = JSON.parse(readFileSync(join(tool, 'package.json'), 'utf8'));
const entry = pkg.exports?.import ?? pkg.exports?.['.']?.import ?? pkg.main ?? 'src/componentize.js';
const { componentize } = await import(pathToFileURL(join(tool, entry)));
const { component } = await componentize({
  sourcePath: resolve(source),
  witPath: resolve(wit),
  worldName: world,
  // No incoming HTTP handler: plugins are called through their world's exports only.
  disableFeatures: ['fetch-event'],
});
await writeFile(out, component);
console.log(`${out}: ${component.length} bytes`);
