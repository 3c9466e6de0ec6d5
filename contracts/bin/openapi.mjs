// contracts/bin/openapi.mjs - the OpenAPI documents as a validator of HTTP answers.
//
// loadApis() reads every api-*.yaml beside this folder; check(apis, exchange) finds the
// operation an exchange (method, url, status, headers, body) belongs to and returns the list
// of ways the answer breaks the document: an undeclared status, a content type the status does
// not declare, a body its schema refuses (Ajv, JSON Schema 2020-12 as OpenAPI 3.1 says), a
// required header missing or a header value its schema refuses. An exchange no document
// describes (no path template matches) gets null: it is not checked.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import YAML from 'yaml';

export const CONTRACTS = join(dirname(fileURLToPath(import.meta.url)), '..');

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

// OpenAPI's own formats, which JSON Schema leaves to the application.
const INT_FORMATS = {
  int32: [-(2 ** 31), 2 ** 31 - 1],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
};

function newAjv() {
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictTypes: false });
  addFormats(ajv);
  for (const [name, [lo, hi]] of Object.entries(INT_FORMATS))
    ajv.addFormat(name, { type: 'number', validate: (n) => Number.isInteger(n) && n >= lo && n <= hi });
  ajv.addFormat('password', true);
  // OpenAPI's annotations inside schemas: no assertion.
  ajv.addVocabulary(['example', 'xml', 'externalDocs', 'discriminator']);
  return ajv;
}

// Every x-* key inside schemas is an annotation too; Ajv's strict mode must know it.
function addExtensionKeywords(ajv, node) {
  if (!node || typeof node !== 'object') return;
  for (const [k, v] of Object.entries(node)) {
    if (k.startsWith('x-') && !ajv.getKeyword(k)) ajv.addKeyword(k);
    addExtensionKeywords(ajv, v);
  }
}

// A path template as a regexp; literal segments outrank parameters when two match.
function compileTemplate(tpl) {
  const segs = tpl.split('/');
  const re = segs.map((s) => (/^\{[^}]+\}$/.test(s) ? '[^/]+' : s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  return { tpl, re: new RegExp('^' + re.join('/') + '$'), literal: segs.filter((s) => !s.startsWith('{')).length };
}

// One Ajv for all documents, each document's schemas added under its own id, so a
// document can use another's ('./api-v1.yaml#/components/schemas/Problem').
export function loadApis() {
  const ajv = newAjv();
  const idOf = (f) => `https://souk.dev/contracts/${f}`;
  const apis = readdirSync(CONTRACTS)
    .filter((f) => /^api-.*\.yaml$/.test(f))
    .sort()
    .map((f) => {
      const doc = YAML.parse(readFileSync(join(CONTRACTS, f), 'utf8'));
      const rewrite = (s) =>
        JSON.parse(
          JSON.stringify(s)
            .replace(/"(?:\.\/)?(api-[^"#/]+\.yaml)#\/components\//g, (_, g) => `"${idOf(g)}#/$defs/components/`)
            .replaceAll('"#/components/', `"${idOf(f)}#/$defs/components/`));
      return {
        file: f,
        doc,
        ajv,
        rewrite,
        cache: new Map(),
        defaultCovers: new Set(doc['x-souk-default-covers'] ?? []),
        templates: Object.keys(doc.paths ?? {}).map(compileTemplate).sort((a, b) => b.literal - a.literal),
      };
    });
  for (const api of apis) {
    addExtensionKeywords(ajv, api.doc.components?.schemas);
    // The document itself is the schema store: '#/components/schemas/X' resolves in it.
    ajv.addSchema(api.rewrite({ $id: idOf(api.file), $defs: { components: { schemas: api.doc.components?.schemas ?? {} } } }));
  }
  return apis;
}

function deref(api, obj) {
  while (obj && obj.$ref) {
    const path = obj.$ref.replace(/^#\//, '').split('/');
    obj = path.reduce((o, k) => o?.[k.replaceAll('~1', '/').replaceAll('~0', '~')], api.doc);
  }
  return obj;
}

function validator(api, key, schema) {
  if (!api.cache.has(key)) api.cache.set(key, api.ajv.compile(api.rewrite(schema)));
  return api.cache.get(key);
}

function errorsText(v) {
  return v.errors.slice(0, 5).map((e) => `${e.instancePath || '/'} ${e.message}${e.params?.allowedValues ? ' ' + JSON.stringify(e.params.allowedValues) : ''}`).join('; ');
}

// The operation of (method, path) in one of the documents, or null.
export function findOperation(apis, method, path) {
  for (const api of apis) {
    const t = api.templates.find((t) => t.re.test(path));
    if (!t) continue;
    const item = api.doc.paths[t.tpl];
    return { api, tpl: t.tpl, op: item[method.toLowerCase()] ?? null, item };
  }
  return null;
}

function mediaType(ct) {
  return (ct ?? '').split(';')[0].trim().toLowerCase();
}

function header(headers, name) {
  const v = headers?.[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

// A header's text as the type its schema names, for the schema to judge.
function headerValue(text, schema) {
  const t = schema?.type;
  if ((t === 'integer' || t === 'number') && /^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  if (t === 'boolean' && (text === 'true' || text === 'false')) return text === 'true';
  return text;
}

// What every document says of what it does not list (its generic `Problem` response): a
// described path with another method is 405 with `Allow`; any other path under a document's
// prefix (/api/v1/, /api/v2/) is 404.
function checkUnlisted(apis, x, path, found) {
  const api = found?.api ?? apis.find((a) => a.templates.some((t) => path.startsWith(t.tpl.split('/').slice(0, 3).join('/') + '/')));
  if (!api || !api.doc.components?.responses?.Problem) return null;
  const want = found ? 405 : 404;
  const where = `${api.file} ${x.method} ${found ? found.tpl : path} (not listed)`;
  if (x.status !== want && !api.defaultCovers.has(x.status)) return [`${where}: status ${x.status}, want ${want}`];
  const out = checkResponse(api, x, where, `unlisted ${want}`, api.doc.components.responses.Problem);
  if (x.status === 405 && header(x.headers, 'allow') === undefined) out.push(`${where}: 405 without Allow`);
  return out;
}

// The violations of one exchange: [] when it agrees with its document, null when no document
// describes its path or method.
export function check(apis, x) {
  if (!URL.canParse(x.url)) return [`${x.url}: not a URL`];
  const url = new URL(x.url);
  if (METHODS.indexOf(x.method.toLowerCase()) < 0) return null;
  const found = findOperation(apis, x.method, url.pathname);
  if (!found || !found.op) return checkUnlisted(apis, x, url.pathname, found);
  const { api, tpl, op } = found;
  const where = `${api.file} ${x.method} ${tpl}`;
  const status = String(x.status);
  let resp = op.responses?.[status] ?? op.responses?.[`${status[0]}XX`];
  let key = status;
  if (!resp && op.responses?.default && api.defaultCovers.has(x.status)) {
    resp = op.responses.default;
    key = 'default';
  }
  if (!resp) return [`${where}: status ${status} is not declared`];
  return checkResponse(api, x, `${where} ${status}`, `${x.method} ${tpl} ${key}`, resp);
}

// One answer against one response object: headers, content type, body.
function checkResponse(api, x, where, key, resp) {
  resp = deref(api, resp);
  const out = [];

  for (const [name, h0] of Object.entries(resp.headers ?? {})) {
    const h = deref(api, h0);
    const v = header(x.headers, name);
    if (v === undefined) {
      if (h.required) out.push(`${where}: required header ${name} is missing`);
      continue;
    }
    if (h.schema) {
      const val = validator(api, `${key} header ${name}`, h.schema);
      if (!val(headerValue(v, h.schema))) out.push(`${where}: header ${name}: ${errorsText(val)}`);
    }
  }

  const body = x.body ?? (x.body_base64 !== undefined ? Buffer.from(x.body_base64, 'base64').toString('latin1') : '');
  const content = resp.content ?? {};
  const types = Object.keys(content);
  if (types.length === 0) {
    if (body.length > 0) out.push(`${where}: a body where the document declares none`);
    return out;
  }
  const ct = header(x.headers, 'content-type');
  const mt = types.find((t) => mediaType(t) === mediaType(ct));
  if (!mt) {
    out.push(`${where}: content type '${ct ?? ''}' is not one of ${types.join(', ')}`);
    return out;
  }
  // A declared parameter (text/plain; version=0.0.4) must be there too.
  for (const p of mt.split(';').slice(1).map((s) => s.trim().toLowerCase()))
    if (!(ct ?? '').toLowerCase().split(';').map((s) => s.trim()).includes(p))
      out.push(`${where}: content type '${ct}' lacks '${p}'`);
  const schema = content[mt].schema;
  if (!schema) return out;
  let value = body;
  if (/[/+]json$/.test(mediaType(mt))) {
    try {
      value = JSON.parse(body);
    } catch (e) {
      out.push(`${where}: body is not JSON (${e.message})`);
      return out;
    }
  }
  const val = validator(api, `${key} ${mt}`, schema);
  if (!val(value)) out.push(`${where}: body: ${errorsText(val)}`);
  return out;
}
