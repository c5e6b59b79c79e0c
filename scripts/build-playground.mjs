// Builds examples/playground/ into examples/playground/dist/ (npm run playground): one classic
// script, so the page also works opened from the file system. Open dist/index.html.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = join(root, 'examples', 'playground');
mkdirSync(join(dir, 'dist'), { recursive: true });
await build({
  entryPoints: [join(dir, 'main.ts')], outfile: join(dir, 'dist', 'playground.js'), bundle: true, format: 'iife',
  platform: 'browser', target: 'es2022', minify: true, logLevel: 'warning',
  define: { 'import.meta.url': 'location.href' }, // a classic script has no import.meta; URLs resolve against the page
});
copyFileSync(join(dir, 'index.html'), join(dir, 'dist', 'index.html'));
console.log(`playground: open ${join(dir, 'dist', 'index.html')}`);
