// capture.mjs - reading what Souk::Test captured (SOUK_API_CAPTURE): JSON lines, one file per
// test process, each record naming the test file that produced it.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { CONTRACTS } from './openapi.mjs';

// The suites that talk to real souk processes; not the gateway's fake upstreams or lib's
// test server.
const DEFAULT_FILES = '^(tests/contract|tests/e2e|tests/integration|services/[^/]+/t|monolith/t)/';

// records(args, wanted): the records of the files and directories named in args (in a
// directory, the files whose name passes wanted), from test files matching --files REGEX,
// each with .file made relative to the repository.
export function records(args, wanted) {
  let files = new RegExp(DEFAULT_FILES);
  const inputs = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--files') files = new RegExp(args[++i]);
    else inputs.push(args[i]);
  }
  const root = join(CONTRACTS, '..');
  const out = [];
  for (const p of inputs) {
    const paths = statSync(p).isDirectory() ? readdirSync(p).filter(wanted).map((f) => join(p, f)) : [p];
    for (const f of paths)
      for (const line of readFileSync(f, 'utf8').split('\n')) {
        if (!line) continue;
        const x = JSON.parse(line);
        x.file = x.file.startsWith('/') ? relative(root, x.file) : x.file;
        if (files.test(x.file)) out.push(x);
      }
  }
  return out;
}
