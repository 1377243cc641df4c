// Turns one template's values into a form both templates share: parameters take the values
// the check was given, pseudo parameters become placeholders, and every reference to a
// resource names the resource's role ("fn:auth"), never its logical id. Conditions stay
// symbolic ({"if": [...]}), so both branches are compared.

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export interface Template {
  Parameters?: Record<string, { Type: string; Default?: Json }>;
  Resources: Record<string, Resource>;
  [k: string]: Json | undefined | Record<string, unknown>;
}
export interface Resource {
  Type: string;
  Properties?: Record<string, Json>;
  DependsOn?: string | string[];
  Condition?: string;
  DeletionPolicy?: string;
  UpdatePolicy?: Record<string, Json>;
  Metadata?: Record<string, Json>;
}

export const NO_VALUE = '<no-value>';
const PSEUDO: Record<string, string> = {
  'AWS::StackName': 'STACK',
  'AWS::Region': 'REGION',
  'AWS::AccountId': 'ACCOUNT',
  'AWS::Partition': 'aws',
  'AWS::URLSuffix': 'amazonaws.com',
  'AWS::NoValue': NO_VALUE,
};

export class Resolver {
  constructor(
    private readonly template: Template,
    private readonly parameters: Record<string, Json>,
    /** logical id -> role; filled by roles.ts before values are resolved. */
    readonly roles: Map<string, string>,
  ) {}

  private param(name: string): Json | undefined {
    const decl = this.template.Parameters?.[name];
    if (!decl) return undefined;
    const value = name in this.parameters ? this.parameters[name] : decl.Default;
    if (value === undefined) return `<parameter ${name} unset>`;
    if (decl.Type === 'CommaDelimitedList' && typeof value === 'string') return value === '' ? [''] : value.split(',');
    // Numbers arrive as strings or numbers depending on the side: one form.
    if (decl.Type === 'Number') return String(value);
    return value;
  }

  /** ${Name} or ${Name.Attr} inside a Sub, or a Ref/GetAtt target. */
  name(name: string, attr?: string): Json {
    if (!attr) {
      if (name in PSEUDO) return PSEUDO[name];
      const p = this.param(name);
      if (p !== undefined) return p;
    }
    const role = this.roles.get(name) ?? `?${name}`;
    return attr ? `<${role}.${attr}>` : `<${role}>`;
  }

  value(v: Json | undefined): Json {
    if (v === undefined) return null;
    if (Array.isArray(v)) return v.map((x) => this.value(x)).filter((x) => x !== NO_VALUE);
    if (v === null || typeof v !== 'object') return typeof v === 'number' ? String(v) : v;
    const keys = Object.keys(v);
    if (keys.length === 1) {
      const [k] = keys;
      const arg = v[k];
      if (k === 'Ref') return this.name(arg as string);
      if (k === 'Fn::GetAtt') {
        const [res, ...attr] = Array.isArray(arg) ? (arg as string[]) : (arg as string).split('.');
        return this.name(res, attr.join('.'));
      }
      if (k === 'Fn::Sub') return this.sub(arg);
      if (k === 'Fn::Join') return this.join(arg as Json[]);
      if (k === 'Fn::If') {
        const [cond, a, b] = arg as Json[];
        return { if: [cond, this.value(a), this.value(b)] };
      }
      if (k === 'Fn::Select') {
        const [i, list] = arg as Json[];
        const l = this.value(list);
        return Array.isArray(l) ? l[Number(this.value(i))] : { select: [this.value(i), l] };
      }
      if (k === 'Fn::Split') {
        const [sep, s] = arg as Json[];
        const str = this.value(s);
        return typeof str === 'string' ? str.split(sep as string) : { split: [sep, str] };
      }
      if (k.startsWith('Fn::') || k === 'Condition') {
        return { [k.replace('Fn::', '').toLowerCase()]: this.value(arg) };
      }
    }
    const out: { [k: string]: Json } = {};
    for (const k of keys) {
      const x = this.value(v[k]);
      if (x !== NO_VALUE) out[k] = x;
    }
    return out;
  }

  private join(arg: Json[]): Json {
    const [sep, list] = arg;
    const parts = this.value(list);
    if (Array.isArray(parts) && parts.every((p) => typeof p === 'string')) return parts.join(sep as string);
    return { join: [sep, parts] };
  }

  private sub(arg: Json): Json {
    const [text, vars] = Array.isArray(arg) ? [arg[0] as string, (arg[1] ?? {}) as Record<string, Json>] : [arg as string, {}];
    let symbolic = false;
    const out = text.replace(/\$\{([^}!]+)\}/g, (_m, expr: string) => {
      let r: Json;
      if (expr in vars) r = this.value(vars[expr]);
      else {
        const [n, ...attr] = expr.split('.');
        r = this.name(n, attr.length ? attr.join('.') : undefined);
      }
      if (typeof r === 'string') return r;
      symbolic = true;
      return JSON.stringify(r);
    });
    return symbolic ? { sub: out } : out;
  }
}
