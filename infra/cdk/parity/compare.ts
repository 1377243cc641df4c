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
  if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
    a.forEach((v, i) => diff(v, b[i], `${path}[${i}]`, report));
    return;
  }
  report(path || '.', a, b);
}

export function render(differences: Difference[]): string {
  const show = (v: Json | undefined) => (v === undefined ? '(missing)' : JSON.stringify(v));
  const lines: string[] = [];
  let last = '';
  for (const d of differences) {
    if (d.category !== last) {
      lines.push(`[${d.category}]`);
      last = d.category;
    }
    lines.push(`  ${d.role}${d.path === '.' ? '' : ` ${d.path}`}`, `    SAM: ${show(d.sam)}`, `    CDK: ${show(d.cdk)}`);
  }
  return lines.join('\n');
}
