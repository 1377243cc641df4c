// needs.json writes CloudFormation values in the template's short YAML form ("!Sub ...",
// "!Ref X", "!If [Cond, a, b]") so that one table reads like template.yaml. This turns those
// strings into the JSON intrinsics CloudFormation takes. The names they refer to are the
// template's logical ids and parameters, which the stack keeps (see stack.ts).

export type Cfn = string | number | boolean | null | Cfn[] | { [k: string]: Cfn };

/** One value: a tagged intrinsic, or a literal string. */
export function intrinsic(text: string): Cfn {
  const s = text.trim();
  if (s.startsWith('!Sub ')) return { 'Fn::Sub': s.slice(5).trim() };
  if (s.startsWith('!Ref ')) return { Ref: s.slice(5).trim() };
  if (s.startsWith('!If ')) {
    const parts = splitList(s.slice(4).trim());
    if (parts.length !== 3) throw new Error(`!If needs three items: ${text}`);
    return { 'Fn::If': [parts[0], intrinsic(parts[1]), intrinsic(parts[2])] };
  }
  if (s.startsWith('!')) throw new Error(`unsupported intrinsic in needs.json: ${text}`);
  return s;
}

/** A grant's resource: "*", an intrinsic, or a bare logical id or parameter name (a Ref). */
export function grantResource(text: string): Cfn {
  if (text === '*') return '*';
  if (text.startsWith('!')) return intrinsic(text);
  return { Ref: text };
}

// "[a, !Sub b, c]" -> ["a", "!Sub b", "c"]; commas inside brackets or ${...} stay.
function splitList(s: string): string[] {
  if (!s.startsWith('[') || !s.endsWith(']')) throw new Error(`expected a list: ${s}`);
  const body = s.slice(1, -1);
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of body) {
    if (ch === '[' || ch === '{') depth++;
    if (ch === ']' || ch === '}') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}
