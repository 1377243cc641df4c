// Log-side observability: each log group's transformer and memory metric filter, the Logs
// Insights saved queries, and the optional subscription of every log group to a Firehose stream.
import { CfnCondition, Fn, Stack } from 'aws-cdk-lib';
import { CfnRole } from 'aws-cdk-lib/aws-iam';
import { CfnMetricFilter, CfnQueryDefinition, CfnSubscriptionFilter, CfnTransformer } from 'aws-cdk-lib/aws-logs';
import { Deployed } from './functions';

/**
 * Lambda's REPORT line carries each invocation's peak memory but not the function's name, and a
 * metric filter takes dimensions only from the event: the transformer adds "function" first.
 */
export function addMemoryMetrics(stack: Stack, functions: Deployed[]): void {
  for (const d of functions) {
    const transformer = new CfnTransformer(stack, `${d.prefix}LogTransformer`, {
      logGroupIdentifier: d.logGroup.ref,
      transformerConfig: [{ parseJson: {} }, { addKeys: { entries: [{ key: 'function', value: d.needs.name, overwriteIfExists: false }] } }],
    });
    transformer.overrideLogicalId(`${d.prefix}LogTransformer`);
    const filter = new CfnMetricFilter(stack, `${d.prefix}MemoryMetricFilter`, {
      logGroupName: d.logGroup.ref,
      applyOnTransformedLogs: true,
      filterPattern: '{ $.type = "platform.report" && $.record.metrics.maxMemoryUsedMB > 0 }',
      metricTransformations: [
        {
          metricNamespace: 'Redline',
          metricName: 'MaxMemoryUsedMB',
          metricValue: '$.record.metrics.maxMemoryUsedMB',
          unit: 'Megabytes',
          dimensions: [{ key: 'Function', value: '$.function' }],
        },
      ],
    });
    filter.overrideLogicalId(`${d.prefix}MemoryMetricFilter`);
    filter.addResourceDependency(transformer);
  }
}

const QUERIES: { id: string; name: string; all: boolean; onlyAuth?: boolean; query: string }[] = [
  {
    // Every line of one request: put the Lambda request id or API Gateway's apiRequestId in place of REQUEST_ID.
    id: 'RequestByIdQuery',
    name: 'request-by-id',
    all: true,
    query:
      'fields @timestamp, level, message, function, version, route, status, reason, latencyMs, error, record.metrics.maxMemoryUsedMB\n' +
      '| filter requestId = "REQUEST_ID" or apiRequestId = "REQUEST_ID" or record.requestId = "REQUEST_ID"\n' +
      '| sort @timestamp asc\n',
  },
  {
    id: 'ErrorsByRouteQuery',
    name: 'errors-by-route',
    all: false,
    query:
      'filter message = "request" and status >= 500\n' +
      '| stats count(*) as errors, latest(error) as lastError by function, route, reason\n' +
      '| sort errors desc\n',
  },
  {
    id: 'SlowestRequestsQuery',
    name: 'slowest-requests',
    all: false,
    query:
      'filter message = "request"\n' +
      '| fields @timestamp, function, version, route, status, latencyMs, coldStart, requestId, traceId\n' +
      '| sort latencyMs desc\n' +
      '| limit 50\n',
  },
  {
    // No user names: the logs never hold them.
    id: 'LoginFailuresQuery',
    name: 'login-failures',
    all: false,
    onlyAuth: true,
    query:
      'filter message = "request" and route = "/api/v1/auth/login" and status >= 400\n' +
      '| stats count(*) as failures by reason, bin(5m)\n' +
      '| sort failures desc\n',
  },
  {
    id: 'MemoryAndColdStartsQuery',
    name: 'memory-and-cold-starts',
    all: true,
    query:
      'filter type = "platform.report"\n' +
      '| stats max(record.metrics.maxMemoryUsedMB) as maxMemoryMB, max(record.metrics.memorySizeMB) as memorySizeMB, count(record.metrics.initDurationMs) as coldStarts, max(record.metrics.initDurationMs) as maxInitMs by function, bin(1h)\n',
  },
];

export function addSavedQueries(stack: Stack, functions: Deployed[], api: Deployed[]): void {
  for (const q of QUERIES) {
    const groups = q.onlyAuth ? api.filter((d) => d.needs.name === 'auth') : q.all ? functions : api;
    const def = new CfnQueryDefinition(stack, q.id, {
      name: Fn.sub(`\${AWS::StackName}/${q.name}`),
      logGroupNames: groups.map((d) => d.logGroup.ref),
      queryString: q.query,
    });
    def.overrideLogicalId(q.id);
  }
}

/** CloudWatch Logs -> Firehose (-> OpenSearch), only when LogDestinationArn is set. */
export function addLogPipeline(stack: Stack, functions: Deployed[]): void {
  const condition = stack.node.findChild('HasLogDestination') as CfnCondition;
  const role = new CfnRole(stack, 'LogDeliveryRole', {
    assumeRolePolicyDocument: {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Service: 'logs.amazonaws.com' },
          Action: 'sts:AssumeRole',
          // This account's log groups only.
          Condition: {
            StringEquals: { 'aws:SourceAccount': Fn.ref('AWS::AccountId') },
            StringLike: { 'aws:SourceArn': Fn.sub('arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:*') },
          },
        },
      ],
    },
    policies: [
      {
        policyName: 'firehose',
        policyDocument: {
          Version: '2012-10-17',
          Statement: [{ Sid: 'PutLogRecords', Effect: 'Allow', Action: ['firehose:PutRecord', 'firehose:PutRecordBatch'], Resource: Fn.ref('LogDestinationArn') }],
        },
      },
    ],
  });
  role.overrideLogicalId('LogDeliveryRole');
  role.cfnOptions.condition = condition;
  for (const d of functions) {
    const sub = new CfnSubscriptionFilter(stack, `${d.prefix}LogSubscription`, {
      logGroupName: d.logGroup.ref,
      filterPattern: '',
      destinationArn: Fn.ref('LogDestinationArn'),
      roleArn: role.attrArn,
    });
    sub.overrideLogicalId(`${d.prefix}LogSubscription`);
    sub.cfnOptions.condition = condition;
  }
}
