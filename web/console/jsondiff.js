// jsondiff.js - where two JSON answers differ, as RFC 6901 pointers, and the lines of a
// pretty-printed answer marked where they differ (the shadow panel's side-by-side view).
// Pure functions: web/t/console.mjs checks them through the page.

const esc = (k) => String(k).replaceAll('~', '~0').replaceAll('/', '~1');

// A pointer pattern of the route's shadow.ignore ("*" for any key or index) matches path.
function ignored(path, patterns) {
  const toks = path.split('/').slice(1);
  return patterns.some((p) => {
    const pt = p.split('/').slice(1);
    return pt.length === toks.length && pt.every((t, i) => t === '*' || t === toks[i]);
  });
}

const kind = (v) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

// Every pointer where a and b differ (a missing member or element counts at its own pointer).
export function diffPaths(a, b, ignore = [], path = '', out = new Set()) {
  if (path && ignored(path, ignore)) return out;
  if (kind(a) !== kind(b)) {
    out.add(path);
  } else if (kind(a) === 'array') {
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      if (i >= a.length || i >= b.length) {
        if (!ignored(`${path}/${i}`, ignore)) out.add(`${path}/${i}`);
      } else diffPaths(a[i], b[i], ignore, `${path}/${i}`, out);
    }
  } else if (kind(a) === 'object') {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const p = `${path}/${esc(k)}`;
      if (!(k in a) || !(k in b)) {
        if (!ignored(p, ignore)) out.add(p);
      } else diffPaths(a[k], b[k], ignore, p, out);
    }
  } else if (a !== b) {
    out.add(path);
  }
  return out;
}

// Pretty-print v as lines {text, path, hit}: hit when the line's pointer, or one above it,
// is in diff.
export function jsonLines(v, diff) {
  const lines = [];
  const hitAt = (p) => [...diff].some((d) => p === d || p.startsWith(`${d}/`));
  const walk = (val, path, indent, label, comma) => {
    const pad = '  '.repeat(indent) + (label === null ? '' : `${JSON.stringify(label)}: `);
    const hit = hitAt(path);
    const k = kind(val);
    if ((k === 'array' || k === 'object') && Object.keys(val).length > 0) {
      const [open, close] = k === 'array' ? ['[', ']'] : ['{', '}'];
      lines.push({ text: pad + open, path, hit });
      const entries = k === 'array' ? val.map((x, i) => [i, x]) : Object.entries(val);
      entries.forEach(([key, x], i) =>
        walk(x, `${path}/${esc(key)}`, indent + 1, k === 'array' ? null : key, i < entries.length - 1));
      lines.push({ text: '  '.repeat(indent) + close + (comma ? ',' : ''), path, hit });
    } else {
      lines.push({ text: pad + JSON.stringify(val) + (comma ? ',' : ''), path, hit });
    }
  };
  walk(v, '', 0, null, false);
  return lines;
}

// A body as JSON, or undefined when it is not.
export function parseBody(text) {
  try {
    return text === '' || text == null ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
}
