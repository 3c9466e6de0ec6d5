#!/usr/bin/env node
// events.mjs - the event contract, machine-checked (contracts/README.md, contracts/events.md).
//
//   node contracts/bin/events.mjs validate [--files REGEX] DIR|FILE.jsonl ...
//       every captured event (Souk::Test dumps each test database's outbox: the exact bytes
//       the relay publishes) against envelope.json and the payload schema of its type and
//       version, contracts/events/<type>.v<version>.json
//   node contracts/bin/events.mjs compat
//       every payload schema against its frozen copy (contracts/events/frozen/): a published
//       type@version may only change in ways its consumers cannot notice
//   node contracts/bin/events.mjs freeze
//       freeze the schemas of type@versions that have no frozen copy yet (a new version)
//
// Exit status 1 on any violation, each printed as a "not ok" line.
import { readFileSync, readdirSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import { CONTRACTS } from './openapi.mjs';
import { records } from './capture.mjs';

export const EVENTS = join(CONTRACTS, 'events');
const FROZEN = join(EVENTS, 'frozen');
const BASE = 'https://souk.dev/contracts/events/';

const readJson = (f) => JSON.parse(readFileSync(f, 'utf8'));

// The payload schema files: {"product.created@1": "product.created.v1.json", ...}.
export function payloadSchemas(dir = EVENTS) {
  const out = {};
  for (const f of readdirSync(dir)) {
    const m = f.match(/^([a-z_.]+)\.v(\d+)\.json$/);
    if (m) out[`${m[1]}@${m[2]}`] = f;
  }
  return out;
}

export function newAjv() {
  const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
  for (const f of readdirSync(EVENTS).filter((f) => f.endsWith('.json'))) ajv.addSchema(readJson(join(EVENTS, f)));
  return ajv;
}

// schema with every $ref replaced by what it names (file-local and common.json ones), so a
// frozen copy does not change when a shared definition does.
export function bundle(schema, file = schema.$id) {
  const resolve = (ref, from) => {
    const [path, frag = ''] = ref.split('#');
    const target = path ? readJson(join(EVENTS, path)) : readJson(join(EVENTS, from.replace(BASE, '')));
    const node = frag.split('/').filter(Boolean).reduce((o, k) => o[k], target);
    return [node, path ? BASE + path : from];
  };
  const walk = (node, from) => {
    if (Array.isArray(node)) return node.map((n) => walk(n, from));
    if (!node || typeof node !== 'object') return node;
    if (node.$ref) {
      const [target, nfrom] = resolve(node.$ref, from);
      const { $ref, ...rest } = node;
      return walk({ ...target, ...rest }, nfrom);
    }
    const out = {};
    for (const [k, v] of Object.entries(node)) if (k !== '$defs' && k !== '$schema' && k !== '$id') out[k] = walk(v, from);
    return out;
  };
  return walk(schema, file);
}

const types = (s) => (s.type === undefined ? null : [].concat(s.type).map((t) => (t === 'integer' ? 'integer' : t)));

// The ways `now` breaks a consumer written against `then` (both bundled): a member required
// then must stay required (consumers read it); no member may become required (events already
// in queues and dead-letter stores lack it); a member's types, enum values, bounds and
// patterns may only narrow, never widen or change (a consumer would meet values it never
// handled); array items and nested objects by the same rules.
export function breaks(then, now, at = '') {
  const out = [];
  const tt = types(then), nt = types(now);
  if (tt && (!nt || nt.some((t) => !tt.includes(t) && !(t === 'integer' && tt.includes('number')))))
    out.push(`${at || '/'}: type ${JSON.stringify(now.type)} is wider than ${JSON.stringify(then.type)}`);
  if (then.enum && (!now.enum || now.enum.some((v) => !then.enum.includes(v))))
    out.push(`${at || '/'}: enum widened`);
  if ('const' in then && JSON.stringify(then.const) !== JSON.stringify(now.const)) out.push(`${at || '/'}: const changed`);
  for (const k of ['minimum', 'minLength', 'minItems'])
    if (k in then && !(k in now && now[k] >= then[k])) out.push(`${at || '/'}: ${k} lowered`);
  for (const k of ['maximum', 'maxLength', 'maxItems'])
    if (k in then && !(k in now && now[k] <= then[k])) out.push(`${at || '/'}: ${k} raised`);
  if (then.pattern !== undefined && now.pattern !== then.pattern) out.push(`${at || '/'}: pattern changed`);
  const treq = then.required ?? [], nreq = now.required ?? [];
  for (const r of treq) if (!nreq.includes(r)) out.push(`${at}/${r}: no longer required`);
  for (const r of nreq) if (!treq.includes(r)) out.push(`${at}/${r}: newly required`);
  for (const [k, v] of Object.entries(then.properties ?? {})) {
    if (!now.properties?.[k]) out.push(`${at}/${k}: removed`);
    else out.push(...breaks(v, now.properties[k], `${at}/${k}`));
  }
  if (then.items && now.items) out.push(...breaks(then.items, now.items, `${at}[]`));
  if (typeof then.additionalProperties === 'object') {
    if (typeof now.additionalProperties !== 'object') out.push(`${at}/*: additional members changed`);
    else out.push(...breaks(then.additionalProperties, now.additionalProperties, `${at}/*`));
  }
  return out;
}

function compat() {
  const now = payloadSchemas(), frozen = existsSync(FROZEN) ? payloadSchemas(FROZEN) : {};
  let bad = 0;
  for (const [key, f] of Object.entries(now)) {
    if (!frozen[key]) {
      bad++;
      console.log(`not ok - ${key}: no frozen copy; run 'node contracts/bin/events.mjs freeze' and commit contracts/events/frozen/${f}`);
      continue;
    }
    for (const b of breaks(readJson(join(FROZEN, frozen[key])), bundle(readJson(join(EVENTS, f))))) {
      bad++;
      console.log(`not ok - ${key}: ${b} (an incompatible change needs a new version: a new ${key.split('@')[0]}.v${Number(key.split('@')[1]) + 1}.json and EVENT_MAP row)`);
    }
  }
  for (const key of Object.keys(frozen))
    if (!now[key]) {
      bad++;
      console.log(`not ok - ${key}: frozen but its schema is gone (consumers may still receive it)`);
    }
  console.log(`# ${Object.keys(now).length} payload schemas against their frozen copies; ${bad} problems`);
  return bad;
}

function freeze() {
  mkdirSync(FROZEN, { recursive: true });
  const frozen = payloadSchemas(FROZEN);
  for (const [key, f] of Object.entries(payloadSchemas())) {
    if (frozen[key]) continue;
    const b = { $comment: `${key} as published: never edit (contracts/README.md)`, ...bundle(readJson(join(EVENTS, f))) };
    writeFileSync(join(FROZEN, f), JSON.stringify(b, null, 2) + '\n');
    console.log(`froze ${key}`);
  }
  return 0;
}

// What is wrong with one envelope's text, or null; seen gets its type@version.
function eventProblem(ajv, known, text, seen) {
  let e;
  try {
    e = JSON.parse(text);
  } catch (err) {
    return `is not JSON (${err.message})`;
  }
  const envelope = ajv.getSchema(BASE + 'envelope.json');
  if (!envelope(e)) return `envelope: ${ajv.errorsText(envelope.errors)}`;
  const key = `${e.type}@${e.version}`;
  if (!known[key]) return `${key}: no payload schema contracts/events/${e.type}.v${e.version}.json`;
  seen.add(key);
  const v = ajv.getSchema(BASE + known[key]);
  return v(e.payload) ? null : `${key} payload: ${ajv.errorsText(v.errors, { dataVar: 'payload' })}`;
}

function validate(args) {
  const ajv = newAjv();
  const known = payloadSchemas();
  const seen = new Set();
  let n = 0, bad = 0;
  for (const x of records(args, (f) => f.endsWith('.events.jsonl'))) {
    n++;
    const why = eventProblem(ajv, known, x.envelope, seen);
    // A test's deliberately malformed event (Souk::Test event_invalid_on_purpose) must fail.
    const msg = x.invalid_on_purpose ? (why ? null : 'marked invalid on purpose, yet passes its schema') : why;
    if (!msg) continue;
    bad++;
    console.log(`not ok - ${x.file}: event ${msg}\n#   ${x.envelope.slice(0, 300)}`);
  }
  console.log(`# ${n} published events checked against contracts/events/ (${[...seen].sort().join(', ')}); ${bad} violations`);
  return bad;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop())) {
  const [cmd, ...args] = process.argv.slice(2);
  const run = { validate: () => validate(args), compat, freeze }[cmd];
  if (!run) {
    console.error('usage: events.mjs validate [--files REGEX] DIR ... | compat | freeze');
    process.exit(2);
  }
  process.exit(run() ? 1 : 0);
}
