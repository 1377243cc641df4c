// The diff of two extracts, category by category, as lines a person can read.
import { CATEGORIES, Extract } from './extract';
import { Json } from './resolve';

export interface Difference {
  category: string;
  role: string;
  path: string;
  sam: Json | undefined;
  cdk: Json | undefined;
}

export function compare(sam: Extract, cdk: Extract): Difference[] {
  const out: Difference[] = [];
  for (const category of CATEGORIES) {
    const a = sam[category] ?? {};
    const b = cdk[category] ?? {};
    for (const role of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
      diff(a[role], b[role], '', (path, x, y) => out.push({ category, role, path, sam: x, cdk: y }));
    }
  }
  return out;
}

function diff(a: Json | undefined, b: Json | undefined, path: string, report: (path: string, a: Json | undefined, b: Json | undefined) => void): void {
  if (JSON.stringify(a) === JSON.stringify(b)) return;
  const isObj = (v: Json | undefined) => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (isObj(a) && isObj(b)) {
    const x = a as Record<string, Json>;
    const y = b as Record<string, Json>;
    for (const k of [...new Set([...Object.keys(x), ...Object.keys(y)])].sort()) diff(x[k], y[k], `${path}.${k}`, report);
    return;
  }
  // Lists of names or grants: what is on one side only, not a shifted index.
  if (Array.isArray(a) && Array.isArray(b) && [...a, ...b].every((x) => typeof x === 'string')) {
    const onlySam = a.filter((x) => !b.includes(x));
    const onlyCdk = b.filter((x) => !a.includes(x));
    if (onlySam.length || onlyCdk.length) report(`${path} (only on one side)`, onlySam, onlyCdk);
    else report(`${path} (order)`, a, b);
    return;
  }
  if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
    a.forEach((v, i) => diff(v, b[i], `${path}[${i}]`, report));
    return;
  }
  report(path || '.', a, b);
}

export function render(differences: Difference[]): string {
  // A list shows one item a line: a grant or route missing on one side reads at a glance.
  const show = (v: Json | undefined) =>
    v === undefined ? '(missing)' : Array.isArray(v) && v.length > 1 ? v.map((x) => `\n      ${JSON.stringify(x)}`).join('') : JSON.stringify(v);
  const lines: string[] = [];
  let last = '';
  for (const d of differences) {
    if (d.category !== last) {
      lines.push(`[${d.category}]`);
      last = d.category;
    }
    lines.push(`  ${d.role}${d.path === '.' ? '' : ` ${d.path.replace(/^ /, '')}`}`, `    SAM: ${show(d.sam)}`, `    CDK: ${show(d.cdk)}`);
  }
  return lines.join('\n');
}
