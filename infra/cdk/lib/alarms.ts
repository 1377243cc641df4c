// The alarms of docs/operations.md. Every alarm treats missing data as not breaching: no
// traffic is no failure. Stack alarms notify AlarmTopicArn when it is set; rollback alarms and
// the burn-rate windows have no actions (deployments and the composites read them).
import { Fn, Stack, Token } from 'aws-cdk-lib';
import { CfnAlarm, CfnAlarmProps, CfnCompositeAlarm } from 'aws-cdk-lib/aws-cloudwatch';
import { Deployed } from './functions';

const SERVICE = { name: 'Service', value: 'redline' };
const NAMESPACE = 'Redline';
const notify = () => Token.asList(Fn.conditionIf('HasAlarmTopic', [Fn.ref('AlarmTopicArn')], Fn.ref('AWS::NoValue')));

function alarm(stack: Stack, id: string, props: Omit<CfnAlarmProps, 'alarmName' | 'treatMissingData'> & { name: string }, actions: boolean): CfnAlarm {
  const { name, ...rest } = props;
  const a = new CfnAlarm(stack, id, {
    alarmName: Fn.sub(`\${AWS::StackName}-${name}`),
    ...rest,
    treatMissingData: 'notBreaching',
    ...(actions ? { alarmActions: notify(), okActions: notify() } : {}),
  });
  a.overrideLogicalId(id);
  return a;
}

const stat = (id: string, metricName: string, dimensions: CfnAlarm.DimensionProperty[], period: number, namespace = NAMESPACE): CfnAlarm.MetricDataQueryProperty => ({
  id,
  returnData: false,
  metricStat: { period, stat: 'Sum', metric: { namespace, metricName, dimensions } },
});

/** Rollback alarms: on the version being deployed only, never the alias as a whole. Returns them per function. */
export function addRollbackAlarms(stack: Stack, api: Deployed[]): Map<string, CfnAlarm[]> {
  const byFunction = new Map<string, CfnAlarm[]>();
  for (const d of api) {
    const version = d.fn.currentVersion.version;
    const dims = [SERVICE, { name: 'Function', value: d.needs.name }, { name: 'Version', value: version }];
    const n = d.needs.name;
    const rate = alarm(stack, `${d.prefix}RollbackServerErrorRateAlarm`, {
      name: `${n}-rollback-server-error-rate`,
      alarmDescription: "More than 5 % of the deploying version's requests were server errors (at least 10 requests a minute), 2 minutes out of 3.",
      metrics: [
        stat('requests', 'Requests', dims, 60),
        stat('serverErrors', 'ServerErrors', dims, 60),
        { id: 'rate', label: 'server error rate (%)', returnData: true, expression: 'IF(requests >= 10, 100 * serverErrors / requests, 0)' },
      ],
      comparisonOperator: 'GreaterThanThreshold',
      threshold: 5,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
    }, false);
    const latency = alarm(stack, `${d.prefix}RollbackLatencyAlarm`, {
      name: `${n}-rollback-latency-p99`,
      alarmDescription: "The deploying version's p99 handler latency was over 2 s, 3 minutes out of 3.",
      namespace: NAMESPACE,
      metricName: 'Latency',
      dimensions: dims,
      extendedStatistic: 'p99',
      period: 60,
      comparisonOperator: 'GreaterThanThreshold',
      threshold: 2000,
      evaluationPeriods: 3,
      datapointsToAlarm: 3,
    }, false);
    // A 500 the function returns is a successful invocation; this one sees crashes, timeouts and
    // init failures of the deploying version invoked through the alias.
    const errors = alarm(stack, `${d.prefix}RollbackInvocationErrorsAlarm`, {
      name: `${n}-rollback-invocation-errors`,
      alarmDescription: 'The deploying version failed invocations through the live alias (crash, timeout, init error), 2 minutes out of 3.',
      namespace: 'AWS/Lambda',
      metricName: 'Errors',
      dimensions: [
        { name: 'FunctionName', value: d.fn.functionName },
        { name: 'Resource', value: Fn.sub(`\${${d.needs.logical_id}}:live`) },
        { name: 'ExecutedVersion', value: version },
      ],
      statistic: 'Sum',
      period: 60,
      comparisonOperator: 'GreaterThanThreshold',
      threshold: 0,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
    }, false);
    byFunction.set(d.needs.name, [rate, latency, errors]);
  }
  return byFunction;
}

export function addStackAlarms(stack: Stack, functions: Deployed[], api: Deployed[], apiId: string): void {
  const apiDims = [{ name: 'ApiId', value: apiId }];
  alarm(stack, 'HttpApi5xxRateAlarm', {
    name: 'api-5xx-rate',
    alarmDescription: "More than 5 % of the HTTP API's requests answered 5xx over 5 minutes (API Gateway's own count, integration failures included).",
    metrics: [
      stat('requests', 'Count', apiDims, 300, 'AWS/ApiGateway'),
      stat('errors', '5xx', apiDims, 300, 'AWS/ApiGateway'),
      { id: 'rate', label: '5xx rate (%)', returnData: true, expression: 'IF(requests > 0, 100 * errors / requests, 0)' },
    ],
    comparisonOperator: 'GreaterThanThreshold',
    threshold: 5,
    evaluationPeriods: 1,
    datapointsToAlarm: 1,
  }, true);

  for (const d of api) {
    alarm(stack, `${d.prefix}LatencyAlarm`, {
      name: `${d.needs.name}-latency-p99`,
      alarmDescription: `The ${d.config.label} function's p99 handler latency, all versions, was over 2 s for 5 minutes.`,
      namespace: NAMESPACE,
      metricName: 'Latency',
      dimensions: [SERVICE, { name: 'Function', value: d.needs.name }],
      extendedStatistic: 'p99',
      period: 300,
      comparisonOperator: 'GreaterThanThreshold',
      threshold: 2000,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
    }, true);
  }

  for (const d of functions) {
    alarm(stack, `${d.prefix}ThrottlesAlarm`, {
      name: `${d.needs.name}-throttles`,
      alarmDescription: `Lambda throttled the ${d.config.label} function (concurrency limit reached) in the last 5 minutes.`,
      namespace: 'AWS/Lambda',
      metricName: 'Throttles',
      dimensions: [{ name: 'FunctionName', value: d.fn.functionName }],
      statistic: 'Sum',
      period: 300,
      comparisonOperator: 'GreaterThanThreshold',
      threshold: 0,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
    }, true);
  }

  for (const d of functions) {
    // 80 % of the function's MemorySize, in MB, from the memory metric filter (memory.ts).
    const threshold = Math.round(d.config.memory * 8) / 10;
    alarm(stack, `${d.prefix}MemoryAlarm`, {
      name: `${d.needs.name}-memory`,
      alarmDescription: `An invocation of the ${d.config.label} function used more than 80 % of its ${d.config.memory} MB MemorySize in the last 5 minutes.`,
      namespace: NAMESPACE,
      metricName: 'MaxMemoryUsedMB',
      dimensions: [{ name: 'Function', value: d.needs.name }],
      statistic: 'Maximum',
      period: 300,
      comparisonOperator: 'GreaterThanThreshold',
      threshold,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
    }, true);
  }

  addBurnRateAlarms(stack, api);
}

// Multiwindow burn-rate alerts on the availability SLO: a composite fires when its long and its
// short window both burn the error budget too fast.
function addBurnRateAlarms(stack: Stack, api: Deployed[]): void {
  const names = api.map((d) => d.needs.name);
  const fill = (p: string) => names.map((n) => `FILL(${p}${n}, 0)`).join(' + ');
  const expression = Fn.sub(`IF((${fill('r')}) > 0, 100 * (${fill('e')}) / (${fill('r')}) / (100 - \${AvailabilityTarget}), 0)`);
  const windows = [
    { id: 'SloFastBurn1hAlarm', name: 'slo-burn-fast-1h', seconds: 3600, rate: 14.4 },
    { id: 'SloFastBurn5mAlarm', name: 'slo-burn-fast-5m', seconds: 300, rate: 14.4 },
    { id: 'SloSlowBurn6hAlarm', name: 'slo-burn-slow-6h', seconds: 21600, rate: 6 },
    { id: 'SloSlowBurn30mAlarm', name: 'slo-burn-slow-30m', seconds: 1800, rate: 6 },
  ];
  for (const w of windows) {
    const metrics: CfnAlarm.MetricDataQueryProperty[] = [];
    for (const n of names) {
      const dims = [SERVICE, { name: 'Function', value: n }];
      metrics.push(stat(`r${n}`, 'Requests', dims, w.seconds), stat(`e${n}`, 'ServerErrors', dims, w.seconds));
    }
    metrics.push({ id: 'burn', label: 'error budget burn rate', returnData: true, expression });
    alarm(stack, w.id, {
      name: w.name,
      alarmDescription: `The API functions' server errors burn the availability error budget faster than ${w.rate}x over ${w.seconds / 60} minutes.`,
      metrics,
      comparisonOperator: 'GreaterThanThreshold',
      threshold: w.rate,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
    }, false);
  }
  const composite = (id: string, name: string, long: string, short: string, description: string) => {
    const c = new CfnCompositeAlarm(stack, id, {
      alarmName: Fn.sub(`\${AWS::StackName}-${name}`),
      alarmDescription: description,
      alarmRule: Fn.sub(`ALARM("\${${long}}") AND ALARM("\${${short}}")`),
      alarmActions: notify(),
      okActions: notify(),
    });
    c.overrideLogicalId(id);
  };
  composite('SloFastBurnAlarm', 'slo-fast-burn', 'SloFastBurn1hAlarm', 'SloFastBurn5mAlarm',
    'The availability error budget burns 14.4x too fast over 1 h and over the last 5 minutes (a 30-day budget gone in 2 days).');
  composite('SloSlowBurnAlarm', 'slo-slow-burn', 'SloSlowBurn6hAlarm', 'SloSlowBurn30mAlarm',
    'The availability error budget burns 6x too fast over 6 h and over the last 30 minutes (a 30-day budget gone in 5 days).');
}
