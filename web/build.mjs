// build.mjs - build souk's pages: `node web/build.mjs OUTDIR` (the Makefile passes build/web).
// Each app (storefront, console) is web/<app>/index.html + main.js (+ style.css): main.js and
// what it imports from node_modules are bundled by esbuild into one file whose name carries a
// content hash, so the gateway can serve it as immutable; index.html is rewritten to name it and
// is served with revalidation. Files that shrink by a fifth or more get a .gz beside them (the
// gateway sends it to clients that accept gzip). Nothing is fetched at run time.
import { build } from 'esbuild';
import { mkdirSync, readFileSync, writeFileSync, rmSync, readdirSync, existsSync, statSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join, dirname, basename } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2];
if (!out) {
  console.error('usage: node web/build.mjs OUTDIR');
  process.exit(2);
}
const apps = readdirSync(here).filter((d) => existsSync(join(here, d, 'index.html')));

for (const app of apps) {
  const src = join(here, app);
  const dst = join(out, app);
  rmSync(dst, { recursive: true, force: true });
  mkdirSync(dst, { recursive: true });
  const entries = ['main.js', 'style.css'].filter((f) => existsSync(join(src, f)));
  const res = await build({
    entryPoints: entries.map((f) => join(src, f)),
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['chrome110', 'firefox110', 'safari16'],
    entryNames: '[name]-[hash]',
    outdir: dst,
    metafile: true,
    logLevel: 'warning',
    legalComments: 'linked',
  });
  let html = readFileSync(join(src, 'index.html'), 'utf8');
  for (const [file, meta] of Object.entries(res.metafile.outputs)) {
    if (!meta.entryPoint) continue;
    const name = basename(meta.entryPoint);
    html = html.replaceAll(`%${name}%`, basename(file));
  }
  const left = html.match(/%[a-z.]+%/);
  if (left) throw new Error(`${app}/index.html: ${left[0]} names no built file`);
  writeFileSync(join(dst, 'index.html'), html);
  for (const f of readdirSync(src)) {
    // static assets kept as they are (icons, images)
    if (/\.(svg|png|ico|webp|woff2)$/.test(f)) writeFileSync(join(dst, f), readFileSync(join(src, f)));
  }
  for (const f of readdirSync(dst)) {
    const p = join(dst, f);
    if (!statSync(p).isFile() || f.endsWith('.gz')) continue;
    const raw = readFileSync(p);
    const gz = gzipSync(raw, { level: 9 });
    if (raw.length >= 1024 && gz.length <= raw.length * 0.8) writeFileSync(p + '.gz', gz);
  }
  console.log(`web: ${app} -> ${dst}`);
}
