#!/usr/bin/env node
// validate-responses.mjs [--files REGEX] CAPTURE.jsonl|DIR ... : check every captured exchange
// (Souk::Test's http() writes them when SOUK_API_CAPTURE is set) against the OpenAPI document
// of its route (openapi.mjs). Prints each violation with the test file that received it and
// exits 1 if there is any; exchanges whose path or method no document describes are counted,
// not checked. --files keeps only exchanges from test files matching REGEX (default: the
// suites that talk to real souk processes, not the gateway's fake upstreams or lib's test
// server).
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { loadApis, check, CONTRACTS } from './openapi.mjs';

const DEFAULT_FILES = '^(tests/contract|tests/e2e|tests/integration|services/[^/]+/t|monolith/t)/';

const args = process.argv.slice(2);
let files = new RegExp(DEFAULT_FILES);
const inputs = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--files') files = new RegExp(args[++i]);
  else inputs.push(args[i]);
}
const paths = inputs.flatMap((p) =>
  statSync(p).isDirectory() ? readdirSync(p).filter((f) => f.endsWith('.jsonl') && !f.endsWith('.events.jsonl')).map((f) => join(p, f)) : [p]);

const apis = loadApis();
const root = join(CONTRACTS, '..');
let checked = 0, undescribed = 0, bad = 0;
for (const p of paths) {
  for (const line of readFileSync(p, 'utf8').split('\n')) {
    if (!line) continue;
    const x = JSON.parse(line);
    const file = x.file.startsWith('/') ? relative(root, x.file) : x.file;
    if (!files.test(file)) continue;
    const v = check(apis, x);
    if (v === null) {
      undescribed++;
      continue;
    }
    checked++;
    for (const msg of v) {
      bad++;
      const body = x.body ?? '';
      console.log(`not ok - ${file}: ${x.method} ${x.url} -> ${x.status}: ${msg}\n#   body: ${body.slice(0, 300)}`);
    }
  }
}
console.log(`# ${checked} responses checked against ${apis.map((a) => a.file).join(', ')}; ${undescribed} not described by any document; ${bad} violations`);
process.exit(bad ? 1 : 0);
