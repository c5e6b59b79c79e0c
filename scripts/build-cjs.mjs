// CommonJS builds of the library entries (require('rnnx'), require('rnnx/ort')) from dist/*.js,
// bundled with esbuild; the dependencies stay external. Run after tsc and build-wasm.
import { build } from 'esbuild';
import { writeFileSync } from 'node:fs';

for (const entry of ['index']) {
  await build({
    entryPoints: [`dist/${entry}.js`],
    outfile: `dist/cjs/${entry}.cjs`,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    external: ['fflate', 'protobufjs', 'protobufjs/*'],
    define: { 'import.meta.url': '__rnnxModuleUrl' },
    banner: { js: "const __rnnxModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
    logLevel: 'warning',
  });
}
writeFileSync('dist/cjs/index.d.cts', "export * from '../index.js';\n");
console.log('wrote dist/cjs/index.cjs');
