#!/usr/bin/env node
// validate-responses.mjs [--files REGEX] [--undescribed] CAPTURE.jsonl|DIR ... : check every captured exchange
// (Souk::Test's http() writes them when SOUK_API_CAPTURE is set) against the OpenAPI document
// of its route (openapi.mjs). Prints each violation with the test file that received it and
// exits 1 if there is any; exchanges whose path or method no document describes are counted,
// not checked. --files keeps only exchanges from test files matching REGEX (default: the
// suites that talk to real souk processes, not the gateway's fake upstreams or lib's test
// server). --undescribed lists those (method, path, status, test file) as comments.
import { loadApis, check } from './openapi.mjs';
import { records } from './capture.mjs';

const apis = loadApis();
const args = process.argv.slice(2);
const list = args.includes('--undescribed');
let checked = 0, undescribed = 0, bad = 0;
for (const x of records(args.filter((a) => a !== '--undescribed'), (f) => f.endsWith('.jsonl') && !f.endsWith('.events.jsonl'))) {
  const v = check(apis, x);
  if (v === null) {
    undescribed++;
    if (list) console.log(`# not described: ${x.method} ${new URL(x.url).pathname} -> ${x.status} (${x.file})`);
    continue;
  }
  checked++;
  for (const msg of v) {
    bad++;
    console.log(`not ok - ${x.file}: ${x.method} ${x.url} -> ${x.status}: ${msg}\n#   body: ${(x.body ?? '').slice(0, 300)}`);
  }
}
console.log(`# ${checked} responses checked against ${apis.map((a) => a.file).join(', ')}; ${undescribed} not described by any document; ${bad} violations`);
process.exit(bad ? 1 : 0);
