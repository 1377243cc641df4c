// The operations dashboard (docs/operations.md): alarms, traffic, errors, latency, logins,
// dependencies, cold starts, memory, Lambda's own errors and throttles, the event functions and
// availability. Built from the function table, so a new API function gets its lines.
import { Fn, Stack } from 'aws-cdk-lib';
import { CfnDashboard } from 'aws-cdk-lib/aws-cloudwatch';
import { Deployed } from './functions';

type Json = unknown;
// Resolved by Fn::Sub when CloudFormation builds the body.
const REGION = '${AWS::Region}';
const AVAILABILITY = '__AVAILABILITY_TARGET__';

const emf = (metric: string, fn: string, extra: Record<string, Json>): Json[] => ['Redline', metric, 'Service', 'redline', 'Function', fn, extra];

function graph(x: number, y: number, width: number, title: string, stat: string, period: number, metrics: Json[], more: Record<string, Json> = {}): Json {
  return {
    type: 'metric',
    x,
    y,
    width,
    height: 6,
    properties: { title, region: REGION, view: 'timeSeries', stacked: false, stat, period, metrics, ...more },
  };
}

export function dashboardBody(functions: Deployed[], api: Deployed[]): string {
  const names = api.map((d) => d.needs.name);
  const auth = 'auth';
  const rollback = api.flatMap((d) => ['RollbackServerErrorRate', 'RollbackLatency', 'RollbackInvocationErrors'].map((w) => `${d.prefix}${w}Alarm`));
  const alarms = [
    ...rollback,
    'HttpApi5xxRateAlarm',
    ...api.map((d) => `${d.prefix}LatencyAlarm`),
    ...functions.map((d) => `${d.prefix}ThrottlesAlarm`),
    ...functions.map((d) => `${d.prefix}MemoryAlarm`),
    'SloFastBurnAlarm',
    'SloSlowBurnAlarm',
  ].map((id) => `\${${id}.Arn}`);
  const hidden = names.flatMap((n) => [emf('Requests', n, { id: `r${n}`, visible: false }), emf('ServerErrors', n, { id: `e${n}`, visible: false })]);
  const fill = (p: string) => names.map((n) => `FILL(${p}${n}, 0)`).join(' + ');
  const label = (d: Deployed) => d.config.label;
  const withDb = api.filter((d) => d.needs.database && d.needs.redis);
  const big = functions.filter((d) => d.config.memory !== 256);
  const small = functions.find((d) => d.config.memory === 256);

  const widgets: Json[] = [
    {
      type: 'alarm',
      x: 0,
      y: 0,
      width: 24,
      height: 6,
      properties: { title: 'Alarms (rollback alarms watch the version being deployed)', alarms, sortBy: 'stateUpdatedTimestamp' },
    },
    graph(0, 6, 8, 'Requests per function', 'Sum', 60, names.map((n) => emf('Requests', n, { label: n }))),
    graph(8, 6, 8, 'Server error rate (%) per function', 'Sum', 60,
      [...names.map((n) => ({ expression: `IF(r${n} > 0, 100 * e${n} / r${n}, 0)`, label: n, id: `x${n}` })), ...hidden],
      { yAxis: { left: { min: 0 } }, annotations: { horizontal: [{ label: 'rollback and stack alarms', value: 5 }] } }),
    graph(16, 6, 8, 'HTTP API: requests, 4xx, 5xx', 'Sum', 60, [
      ['AWS/ApiGateway', 'Count', 'ApiId', '${HttpApi}', { label: 'requests' }],
      ['AWS/ApiGateway', '4xx', 'ApiId', '${HttpApi}', { label: '4xx' }],
      ['AWS/ApiGateway', '5xx', 'ApiId', '${HttpApi}', { label: '5xx' }],
    ]),
    graph(0, 12, 12, 'Handler latency p50 / p99 (ms)', 'p99', 60,
      names.flatMap((n) => ['p50', 'p99'].map((s) => emf('Latency', n, { stat: s, label: `${n} ${s}` }))),
      { annotations: { horizontal: [{ label: 'latency alarms', value: 2000 }] } }),
    graph(12, 12, 12, 'Client errors (4xx) per function', 'Sum', 60, names.map((n) => emf('ClientErrors', n, { label: n }))),
    graph(0, 18, 12, 'Logins: succeeded, failed, locked; refresh reuse, captcha failures, rejected tokens', 'Sum', 60, [
      ...['LoginSucceeded', 'LoginFailed', 'AccountLocked', 'RefreshReuseDetected', 'CaptchaFailed', 'TokenRejected'].map((m) => emf(m, auth, { label: m })),
      emf('TokenRejected', 'users', { label: 'TokenRejected (users)' }),
    ]),
    graph(12, 18, 12, 'PostgreSQL and Redis time per request, p99 (ms)', 'p99', 60,
      withDb.flatMap((d) => [emf('DbLatency', d.needs.name, { label: `${d.needs.name} PostgreSQL p99` }), emf('CacheLatency', d.needs.name, { label: `${d.needs.name} Redis p99` })])),
    graph(0, 24, 8, 'Dependency errors (PostgreSQL, Redis, Secrets Manager)', 'Sum', 60, names.map((n) => emf('DependencyErrors', n, { label: n }))),
    graph(8, 24, 8, 'Cold starts', 'Sum', 60, names.map((n) => emf('ColdStart', n, { label: n }))),
    graph(16, 24, 8, 'Peak memory per invocation (MB) vs 80 % of MemorySize', 'Maximum', 300,
      functions.map((d) => ['Redline', 'MaxMemoryUsedMB', 'Function', d.needs.name, { label: label(d) }]),
      {
        annotations: {
          horizontal: [
            ...big.map((d) => ({ label: `${d.needs.name} alarm (80 % of ${d.config.memory} MB)`, value: Math.round(d.config.memory * 8) / 10 })),
            ...(small ? [{ label: `other functions' alarm (80 % of ${small.config.memory} MB)`, value: Math.round(small.config.memory * 8) / 10 }] : []),
          ],
        },
      }),
    graph(0, 30, 12, 'Lambda invocation errors and throttles', 'Sum', 60,
      ['Errors', 'Throttles'].flatMap((m) => functions.map((d) => ['AWS/Lambda', m, 'FunctionName', `\${${d.needs.logical_id}}`, { label: `${label(d)} ${m.toLowerCase()}` }]))),
    graph(12, 30, 12, 'Migrations and secret rotation', 'Sum', 60, [
      ...['Invocations', 'Failures', 'MigrationsApplied'].map((m) => emf(m, 'migrate', { label: `migrate ${m}` })),
      ...['Invocations', 'Failures', 'RotationStep'].map((m) => emf(m, 'rotate-secret', { label: `rotate-secret ${m}` })),
    ]),
    graph(0, 36, 12, 'Availability per hour (%) against the SLO', 'Sum', 3600,
      [{ expression: `100 - 100 * (${fill('e')}) / (${fill('r')})`, label: 'availability (%)', id: 'availability' }, ...hidden],
      { annotations: { horizontal: [{ label: 'AvailabilityTarget', value: AVAILABILITY }] } }),
    {
      type: 'log',
      x: 12,
      y: 36,
      width: 12,
      height: 6,
      properties: {
        title: 'Latest server errors',
        region: REGION,
        view: 'table',
        query:
          api.map((d) => `SOURCE '/aws/lambda/${d.needs.function_name}'`).join(' | ') +
          " | fields @timestamp, function, route, status, reason, error, requestId | filter message = 'request' and status >= 500 | sort @timestamp desc | limit 50",
      },
    },
  ];
  // The target is a number in the body: substituted unquoted.
  return JSON.stringify({ widgets }).replace(`"${AVAILABILITY}"`, '${AvailabilityTarget}');
}

export function addDashboard(stack: Stack, functions: Deployed[], api: Deployed[]): void {
  const d = new CfnDashboard(stack, 'Dashboard', {
    dashboardName: Fn.sub('${AWS::StackName}'),
    dashboardBody: Fn.sub(dashboardBody(functions, api)),
  });
  d.overrideLogicalId('Dashboard');
}
