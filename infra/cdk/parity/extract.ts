// What the parity check compares, per category, from one template. Each category is a map
// from a role ("fn:auth", "alarm:auth-memory") to a normalised value; compare.ts diffs them.
import { Json, Resolver, Template, Resource } from './resolve';
import { assignRoles } from './roles';

export type Category = Record<string, Json>;
export type Extract = Record<string, Category>;

export const CATEGORIES = [
  'routes',
  'http-api',
  'functions',
  'environment',
  'iam',
  'secrets',
  'deployment',
  'migrations',
  'alarms',
  'dashboard',
  'logs',
  'resources',
] as const;

const sorted = (xs: Json[]): Json[] => [...xs].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
const list = (v: Json): Json[] => (Array.isArray(v) ? v : v === null || v === undefined ? [] : [v]);
const obj = (v: Json): Record<string, Json> => (v && typeof v === 'object' && !Array.isArray(v) ? v : {});
const dependsOn = (res: Resource): string[] => (res.DependsOn === undefined ? [] : Array.isArray(res.DependsOn) ? res.DependsOn : [res.DependsOn]);

export function extract(template: Template, parameters: Record<string, Json>): Extract {
  const r = new Resolver(template, parameters, new Map());
  assignRoles(template, r);
  const role = (id: string) => r.roles.get(id) ?? `?${id}`;
  const out: Extract = Object.fromEntries(CATEGORIES.map((c) => [c, {}]));
  const of = (type: string) => Object.entries(template.Resources).filter(([, res]) => res.Type === type);
  const props = (res: Resource) => obj(r.value(res.Properties ?? {}));
  // Ordering in CloudFormation's sense: what must exist before this resource, by role.
  const after = (res: Resource) => sorted(dependsOn(res).map(role));
  const cond = (res: Resource) => res.Condition ?? null;

  // ---- resources: every role on each side, so nothing exists on one side only ----
  const packaging = new Set(['AWS::CDK::Metadata', 'AWS::ApiGatewayV2::Route', 'AWS::ApiGatewayV2::Integration', 'AWS::Lambda::Permission']);
  for (const [id, res] of Object.entries(template.Resources)) {
    if (!packaging.has(res.Type)) out.resources[role(id)] = { type: res.Type, condition: cond(res) };
  }

  // ---- routes: "METHOD /path" -> the alias API Gateway invokes ----
  for (const [, api] of of('AWS::ApiGatewayV2::Api')) {
    const body = obj(r.value(api.Properties?.Body ?? null));
    for (const [path, methods] of Object.entries(obj(body.paths ?? null))) {
      for (const [method, op] of Object.entries(obj(methods))) {
        const uri = JSON.stringify(obj(obj(op)['x-amazon-apigateway-integration']).uri ?? '');
        const target = /<(alias:[^>]+)>/.exec(uri)?.[1] ?? uri;
        const m = method === 'x-amazon-apigateway-any-method' ? 'ANY' : method.toUpperCase();
        const key = path === '/$default' ? '$default' : `${m} ${path}`;
        out.routes[key] = { target, payloadFormatVersion: obj(obj(op)['x-amazon-apigateway-integration']).payloadFormatVersion ?? null };
      }
    }
  }
  const integrations = new Map(of('AWS::ApiGatewayV2::Integration').map(([id, res]) => [id, props(res)]));
  for (const [, route] of of('AWS::ApiGatewayV2::Route')) {
    const p = props(route);
    const target = JSON.stringify(p.Target);
    const integrationId = [...integrations.keys()].find((i) => target.includes(`<integration:${i}>`));
    const integration = integrationId ? integrations.get(integrationId)! : {};
    const uri = JSON.stringify(integration.IntegrationUri ?? '');
    out.routes[p.RouteKey as string] = {
      target: /<(alias:[^>]+)>/.exec(uri)?.[1] ?? uri,
      payloadFormatVersion: integration.PayloadFormatVersion ?? null,
    };
  }
  // Who may invoke what: API Gateway on each alias, Secrets Manager on the rotation function.
  const grants: Json[] = [];
  for (const [, perm] of of('AWS::Lambda::Permission')) {
    const p = props(perm);
    grants.push(`${p.Principal} -> ${JSON.stringify(p.FunctionName)} from ${JSON.stringify(p.SourceArn ?? p.SourceAccount ?? null)}: ${p.Action}`);
  }
  out['http-api']['lambda-permissions'] = sorted(grants);

  // ---- http-api: CORS, warnings, the $default stage and its throttling ----
  for (const [id, api] of of('AWS::ApiGatewayV2::Api')) {
    const p = props(api);
    const bodyCors = obj(obj(p.Body ?? null)['x-amazon-apigateway-cors'] ?? null);
    const cors = Object.keys(bodyCors).length ? bodyCors : obj(p.CorsConfiguration ?? null);
    const lower: Record<string, Json> = {};
    for (const [k, v] of Object.entries(cors)) lower[k[0].toLowerCase() + k.slice(1)] = v;
    out['http-api'][role(id)] = { cors: lower, failOnWarnings: p.FailOnWarnings ?? null, protocol: p.ProtocolType ?? (p.Body ? 'HTTP' : null) };
  }
  for (const [id, stage] of of('AWS::ApiGatewayV2::Stage')) {
    const p = props(stage);
    out['http-api'][role(id)] = {
      autoDeploy: p.AutoDeploy ?? null,
      api: p.ApiId,
      defaultRouteSettings: p.DefaultRouteSettings ?? null,
      routeSettings: p.RouteSettings ?? null,
    };
  }

  // ---- functions, environment, log groups ----
  const ignoredFunctionProps = new Set(['Code', 'Tags', 'Environment']);
  for (const [id, fn] of of('AWS::Lambda::Function')) {
    const p = props(fn);
    const config: Record<string, Json> = {};
    for (const [k, v] of Object.entries(p)) if (!ignoredFunctionProps.has(k)) config[k] = v;
    config.DependsOn = after(fn);
    out.functions[role(id)] = config;
    out.environment[role(id)] = obj(obj(p.Environment ?? null).Variables ?? null);
  }
  for (const [id, lg] of of('AWS::Logs::LogGroup')) out.functions[role(id)] = props(lg);

  // ---- iam: per role, its trust, managed policies and every (action, resource, condition) ----
  for (const [id, iam] of of('AWS::IAM::Role')) {
    const p = props(iam);
    const permissions: Json[] = [];
    for (const policy of list(p.Policies ?? null)) {
      for (const st of list(obj(obj(policy).PolicyDocument ?? null).Statement ?? null)) permissions.push(...flatten(st, null));
    }
    out.iam[role(id)] = {
      trust: sorted(list(obj(p.AssumeRolePolicyDocument ?? null).Statement ?? null).flatMap((s) => flatten(s, null))),
      managed: sorted(list(p.ManagedPolicyArns ?? null)),
      permissions: sorted(dedupe(permissions)),
      condition: cond(iam),
    };
  }

  // ---- secrets and rotation ----
  for (const [id, s] of of('AWS::SecretsManager::Secret')) {
    out.secrets[role(id)] = { ...props(s), DeletionPolicy: s.DeletionPolicy ?? null };
  }
  for (const [id, s] of of('AWS::SecretsManager::RotationSchedule')) {
    out.secrets[role(id)] = { ...props(s), Condition: cond(s), DependsOn: after(s) };
  }

  // ---- deployment: versions, aliases with their CodeDeploy update, deployment groups ----
  for (const [id, v] of of('AWS::Lambda::Version')) out.deployment[role(id)] = { ...props(v), DeletionPolicy: v.DeletionPolicy ?? null };
  for (const [id, a] of of('AWS::Lambda::Alias')) {
    const update = obj(r.value(a.UpdatePolicy ?? null)).CodeDeployLambdaAliasUpdate ?? null;
    out.deployment[role(id)] = { ...props(a), UpdatePolicy: update };
  }
  for (const [id, g] of of('AWS::CodeDeploy::DeploymentGroup')) {
    const p = props(g);
    const alarms = obj(p.AlarmConfiguration ?? null);
    const rollback = obj(p.AutoRollbackConfiguration ?? null);
    out.deployment[role(id)] = {
      application: p.ApplicationName,
      deploymentConfig: p.DeploymentConfigName,
      style: p.DeploymentStyle,
      serviceRole: p.ServiceRoleArn,
      alarmsEnabled: alarms.Enabled ?? null,
      alarms: sorted(list(alarms.Alarms ?? null)),
      // CloudFormation's default for IgnorePollAlarmFailure is false: absent and false are one.
      ignorePollAlarmFailure: alarms.IgnorePollAlarmFailure ?? 'false',
      rollback: { enabled: rollback.Enabled ?? null, events: sorted(list(rollback.Events ?? null)) },
    };
  }
  for (const [id, app] of of('AWS::CodeDeploy::Application')) out.deployment[role(id)] = props(app);

  // ---- migrations: the custom resource and what waits for it ----
  for (const [id, c] of of('AWS::CloudFormation::CustomResource')) {
    const waiting = Object.entries(template.Resources)
      .filter(([, res]) => dependsOn(res).includes(id))
      .map(([other]) => role(other));
    out.migrations[role(id)] = { ...props(c), requiredBy: sorted(waiting) };
  }

  // ---- alarms ----
  for (const type of ['AWS::CloudWatch::Alarm', 'AWS::CloudWatch::CompositeAlarm']) {
    for (const [id, a] of of(type)) out.alarms[role(id)] = props(a);
  }

  // ---- dashboard: the body, parsed, widget by widget ----
  for (const [id, d] of of('AWS::CloudWatch::Dashboard')) {
    const p = props(d);
    const body = typeof p.DashboardBody === 'string' ? p.DashboardBody : JSON.stringify(p.DashboardBody);
    let widgets: Json[] = [];
    try {
      widgets = list(obj(JSON.parse(body)).widgets ?? null);
    } catch {
      widgets = [`unparsable body: ${body.slice(0, 200)}`];
    }
    out.dashboard[`${role(id)} name`] = p.DashboardName;
    widgets.forEach((w, i) => {
      const title = (obj(obj(w).properties ?? null).title as string) ?? `widget ${i}`;
      out.dashboard[`${role(id)} / ${title}`] = w;
    });
  }

  // ---- logs: transformers, metric filters, saved queries, subscriptions ----
  for (const type of ['AWS::Logs::Transformer', 'AWS::Logs::MetricFilter', 'AWS::Logs::QueryDefinition', 'AWS::Logs::SubscriptionFilter']) {
    for (const [id, x] of of(type)) out.logs[role(id)] = { ...props(x), Condition: cond(x), DependsOn: after(x) };
  }
  return out;
}

/** One IAM statement as (effect, action, resource, principal, condition) tuples; a conditional statement keeps its condition. */
function flatten(st: Json, condition: Json): Json[] {
  const s = obj(st);
  if ('if' in s) {
    const [c, a] = s.if as Json[];
    return flatten(a, c);
  }
  const out: Json[] = [];
  const principal = s.Principal ?? null;
  for (const action of list(s.Action ?? null)) {
    for (const resource of list(s.Resource ?? (principal ? '-' : null))) {
      out.push({ effect: s.Effect ?? null, action, resource, principal, when: s.Condition ?? null, if: condition });
    }
  }
  return out;
}

function dedupe(xs: Json[]): Json[] {
  return [...new Map(xs.map((x) => [JSON.stringify(x), x])).values()];
}
