// The parity check catches each category: one side broken on purpose, in a scratch copy, and
// the check must name that category. Most breaks edit a template's JSON; the strongest ones
// edit a copy of template.yaml (then SAM's transform runs) or the CDK app's needs table.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { extract } from '../parity/extract';
import { compare, Difference, render } from '../parity/compare';
import { Json, Template } from '../parity/resolve';
import { cdkTemplate, PARAMETERS, ROOT, samTemplate, samTransform, scratch, synth } from './fixtures';
import { loadNeeds } from '../lib/needs';

type T = { Resources: Record<string, { Type: string; Properties: Record<string, any>; DependsOn?: any; UpdatePolicy?: any }> };

function differences(sam: Record<string, Json>, cdk: Record<string, Json>): Difference[] {
  return compare(extract(sam as unknown as Template, PARAMETERS), extract(cdk as unknown as Template, PARAMETERS));
}

function caught(category: string, sam: Record<string, Json>, cdk: Record<string, Json>): void {
  const found = differences(sam, cdk);
  assert.ok(found.some((d) => d.category === category), `expected a difference in [${category}], got:\n${render(found) || '(none)'}`);
}

function find(t: T, type: string, pred: (p: Record<string, any>, id: string) => boolean = () => true): T['Resources'][string] {
  const hit = Object.entries(t.Resources).find(([id, r]) => r.Type === type && pred(r.Properties ?? {}, id));
  assert.ok(hit, `no ${type} matches`);
  return hit[1];
}
const named = (name: string) => (p: Record<string, any>) => JSON.stringify(p.FunctionName ?? p.AlarmName ?? p.Name ?? '').includes(name);

test('a route sent elsewhere or missing is caught [routes]', () => {
  const cdk = cdkTemplate() as unknown as T;
  find(cdk, 'AWS::ApiGatewayV2::Route', (p) => p.RouteKey === 'POST /api/v1/auth/logout').Properties.RouteKey = 'POST /api/v1/auth/logoff';
  caught('routes', samTemplate(), cdk as never);
});

test('API Gateway allowed to invoke a route on any method is caught [http-api]', () => {
  const cdk = cdkTemplate() as unknown as T;
  const permission = find(cdk, 'AWS::Lambda::Permission', (p) => JSON.stringify(p.SourceArn ?? '').includes('/GET/api/v1/users/me'));
  permission.Properties.SourceArn = JSON.parse(JSON.stringify(permission.Properties.SourceArn).replace('/GET/api/v1/users/me', '/*/api/v1/users/me'));
  caught('http-api', samTemplate(), cdk as never);
});

test('CORS that differs is caught [http-api]', () => {
  const sam = samTemplate() as unknown as T;
  const cors = find(sam, 'AWS::ApiGatewayV2::Api').Properties.Body['x-amazon-apigateway-cors'];
  cors.allowMethods = cors.allowMethods.filter((m: string) => m !== 'DELETE');
  caught('http-api', sam as never, cdkTemplate());
});

/** SAM's transform of a copy of template.yaml with `from` replaced by `to` after `resource:`. */
function brokenTemplate(resource: string, from: string, to: string): Record<string, Json> {
  const text = fs.readFileSync(path.join(ROOT, 'template.yaml'), 'utf8');
  const start = text.indexOf(`\n  ${resource}:\n`);
  const at = text.indexOf(from, start);
  assert.ok(start > 0 && at > start, `template.yaml: ${resource} has ${from}`);
  const broken = path.join(scratch('template'), 'template.yaml');
  fs.writeFileSync(broken, text.slice(0, at) + to + text.slice(at + from.length));
  return samTransform(broken);
}

test('a function sized differently in a copy of template.yaml is caught [functions]', () => {
  caught('functions', brokenTemplate('UsersFunction', 'MemorySize: 256', 'MemorySize: 512'), cdkTemplate());
});

test('a rollback alarm or hook changed in a copy of template.yaml is caught [alarms, deployment]', () => {
  caught('alarms', brokenTemplate('HealthRollbackLatencyAlarm', 'Threshold: 2000', 'Threshold: 3000'), cdkTemplate());
  caught('deployment', brokenTemplate('GreeterFunction', '          - !Ref GreeterRollbackLatencyAlarm\n', ''), cdkTemplate());
});

test('a variable changed in the CDK app\'s needs table is caught [environment]', () => {
  const needs = loadNeeds();
  needs.find((n) => n.name === 'health')!.environment.DB_PORT = '!Sub secretsmanager:${DatabaseSecret}#dbport';
  caught('environment', samTemplate(), synth(needs));
});

test('a timeout or log retention that differs is caught [functions]', () => {
  const cdk = cdkTemplate() as unknown as T;
  find(cdk, 'AWS::Lambda::Function', named('-migrate')).Properties.Timeout = 900;
  caught('functions', samTemplate(), cdk as never);
  const sam = samTemplate() as unknown as T;
  find(sam, 'AWS::Logs::LogGroup', (p) => JSON.stringify(p.LogGroupName).includes('-greeter')).Properties.RetentionInDays = 7;
  caught('functions', sam as never, cdkTemplate());
});

test('an environment variable resolving elsewhere is caught [environment]', () => {
  const cdk = cdkTemplate() as unknown as T;
  find(cdk, 'AWS::Lambda::Function', named('-auth')).Properties.Environment.Variables.DB_HOST = { 'Fn::Sub': 'secretsmanager:${DataKeysSecret}#host' };
  caught('environment', samTemplate(), cdk as never);
});

test('a grant missing from the CDK app\'s needs table is caught [iam]', () => {
  const needs = loadNeeds();
  const auth = needs.find((n) => n.name === 'auth')!;
  auth.grants[0].resources = auth.grants[0].resources.filter((r) => r !== 'SmokeAccountSecret');
  caught('iam', samTemplate(), synth(needs));
});

test('a wider grant in template.yaml\'s transform is caught [iam]', () => {
  const sam = samTemplate() as unknown as T;
  const role = find(sam, 'AWS::IAM::Role', (_p, id) => id === 'GreeterFunctionRole');
  role.Properties.Policies = [{ PolicyName: 'x', PolicyDocument: { Statement: [{ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: '*' }] } }];
  caught('iam', sam as never, cdkTemplate());
});

test('a secret generated differently or rotated on another schedule is caught [secrets]', () => {
  const cdk = cdkTemplate() as unknown as T;
  find(cdk, 'AWS::SecretsManager::Secret', (p) => JSON.stringify(p.Description).includes('PostgreSQL')).Properties.GenerateSecretString.PasswordLength = 16;
  caught('secrets', samTemplate(), cdk as never);
  const sam = samTemplate() as unknown as T;
  find(sam, 'AWS::SecretsManager::RotationSchedule', (p) => JSON.stringify(p.SecretId).includes('SigningKeys')).Properties.RotateImmediatelyOnUpdate = false;
  caught('secrets', sam as never, cdkTemplate());
});

test('a deployment group without an alarm, of another type or without a hook is caught [deployment]', () => {
  const cdk = cdkTemplate() as unknown as T;
  const group = find(cdk, 'AWS::CodeDeploy::DeploymentGroup');
  group.Properties.AlarmConfiguration.Alarms.pop();
  caught('deployment', samTemplate(), cdk as never);

  const other = cdkTemplate() as unknown as T;
  find(other, 'AWS::CodeDeploy::DeploymentGroup').Properties.DeploymentConfigName = 'CodeDeployDefault.LambdaAllAtOnce';
  caught('deployment', samTemplate(), other as never);

  const sam = samTemplate() as unknown as T;
  delete find(sam, 'AWS::Lambda::Alias', (p) => JSON.stringify(p.FunctionName).includes('Users')).UpdatePolicy.CodeDeployLambdaAliasUpdate.BeforeAllowTrafficHook;
  caught('deployment', sam as never, cdkTemplate());
});

test('a function no longer waiting for the migrations is caught [migrations]', () => {
  const cdk = cdkTemplate() as unknown as T;
  delete find(cdk, 'AWS::Lambda::Function', named('-users')).DependsOn;
  caught('migrations', samTemplate(), cdk as never);
});

test('an alarm on another statistic, threshold, period or missing-data rule is caught [alarms]', () => {
  const edits: [string, (p: Record<string, any>) => void][] = [
    ['-auth-latency-p99', (p) => (p.ExtendedStatistic = 'p95')],
    ['-users-memory', (p) => (p.Threshold = 256)],
    ['-health-throttles', (p) => (p.Period = 60)],
    ['-greeter-rollback-invocation-errors', (p) => (p.TreatMissingData = 'breaching')],
    ['-api-5xx-rate', (p) => (p.Metrics[1].MetricStat.Metric.MetricName = '4xx')],
  ];
  for (const [name, edit] of edits) {
    const sam = samTemplate() as unknown as T;
    edit(find(sam, 'AWS::CloudWatch::Alarm', named(name)).Properties);
    caught('alarms', sam as never, cdkTemplate());
  }
});

test('a dashboard metric that differs is caught [dashboard]', () => {
  const cdk = cdkTemplate() as unknown as T;
  const d = find(cdk, 'AWS::CloudWatch::Dashboard').Properties;
  const body = JSON.stringify(d.DashboardBody);
  assert.ok(body.includes('ColdStart'));
  d.DashboardBody = JSON.parse(body.replace('\\"ColdStart\\"', '\\"ColdStarts\\"'));
  caught('dashboard', samTemplate(), cdk as never);
});

test('a saved query or memory filter that differs is caught [logs]', () => {
  const sam = samTemplate() as unknown as T;
  find(sam, 'AWS::Logs::QueryDefinition', named('login-failures')).Properties.QueryString = 'filter status >= 400';
  caught('logs', sam as never, cdkTemplate());
});

test('a resource on one side only is caught [resources]', () => {
  const cdk = cdkTemplate() as unknown as T;
  const id = Object.keys(cdk.Resources).find((k) => cdk.Resources[k].Type === 'AWS::Logs::SubscriptionFilter')!;
  delete cdk.Resources[id];
  caught('resources', samTemplate(), cdk as never);
});

test('logical ids do not matter: every CDK id renamed, no difference', () => {
  const cdk = cdkTemplate();
  let text = JSON.stringify(cdk);
  for (const id of Object.keys((cdk as unknown as T).Resources)) {
    const to = `Renamed${id}`;
    text = text
      .split(`"${id}"`).join(`"${to}"`)
      .split(`\${${id}}`).join(`\${${to}}`)
      .split(`\${${id}.`).join(`\${${to}.`);
  }
  const renamed = JSON.parse(text);
  assert.ok(!('AuthFunction' in renamed.Resources));
  const found = differences(samTemplate(), renamed);
  assert.equal(found.length, 0, render(found));
});
