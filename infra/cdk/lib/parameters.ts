// The template's parameters, rules and conditions, by the same names: `cdk deploy
// --parameters Name=value` takes exactly what `sam deploy --parameter-overrides` takes.
import { CfnCondition, CfnParameter, CfnRule, Fn, Stack, Token } from 'aws-cdk-lib';

const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

export const DEPLOYMENT_TYPES = [
  'AllAtOnce',
  'Canary10Percent5Minutes',
  'Canary10Percent10Minutes',
  'Canary10Percent15Minutes',
  'Canary10Percent30Minutes',
  'Linear10PercentEvery1Minute',
  'Linear10PercentEvery2Minutes',
  'Linear10PercentEvery3Minutes',
  'Linear10PercentEvery10Minutes',
];

export function addParameters(stack: Stack): void {
  const p = (name: string, props: ConstructorParameters<typeof CfnParameter>[2]) => new CfnParameter(stack, name, props);
  p('Environment', {
    type: 'String',
    allowedValues: ['dev', 'test', 'prod'],
    default: 'prod',
    description: 'Configuration layer the functions load (REDLINE_ENV); prod refuses development shortcuts.',
  });
  p('AllowedOrigins', {
    type: 'CommaDelimitedList',
    description: 'Browser origins CORS allows (e.g. https://app.example.com). No default, so no stack allows every origin by accident.',
  });
  p('LogRetentionDays', {
    type: 'Number',
    // A string, as the allowed values are: cfn-lint compares them as written.
    default: '30',
    allowedValues: LOG_RETENTION_DAYS.map(String),
    description: "How long CloudWatch keeps each function's logs.",
  });
  p('DatabaseHost', { type: 'String', description: 'PostgreSQL host name; TLS with verify-full, so it must match the server certificate.' });
  p('DatabasePort', { type: 'Number', default: 5432 });
  p('DatabaseName', { type: 'String', default: 'redline' });
  p('DatabaseUser', { type: 'String', default: 'redline', description: 'The schema owner, which migrate logs in as; it must be allowed to create roles (CREATEROLE).' });
  p('DatabaseAppUser', {
    type: 'String',
    default: 'redline_app',
    description: 'The application role the API functions log in as; migrate creates it and grants it read and write on the tables only.',
  });
  p('DatabaseMasterSecretArn', {
    type: 'String',
    default: '',
    description: 'Optional. ARN of the master (superuser) secret; set it for alternating-users rotation of the database secret.',
  });
  p('DatabaseRotation', {
    type: 'String',
    allowedValues: ['disabled', 'enabled'],
    default: 'disabled',
    description: "Rotate both database secrets on a schedule. Enable once the role's password matches the secret (docs/secrets.md, \"Bootstrap\"); creating the schedule earlier fails its first test login.",
  });
  p('DatabaseRotationDays', { type: 'Number', default: 30, minValue: 1, maxValue: 1000, description: 'Days between rotations of the database passwords.' });
  p('RedisUrl', {
    type: 'String',
    noEcho: true,
    default: '',
    description: 'rediss://[user:password@]host:port (TLS and AUTH for ElastiCache). Ignored when RedisUrlSecretArn is set.',
  });
  p('RedisUrlSecretArn', {
    type: 'String',
    default: '',
    description: 'Optional. ARN of a secret {"url":"rediss://[user:password@]host:port"}; when set, the functions read the Redis URL from it instead of RedisUrl.',
  });
  p('SigningKeyRotationDays', {
    type: 'Number',
    default: 30,
    minValue: 8,
    maxValue: 1000,
    description: 'Days between rotations of the token signing key (more than the 7-day refresh-token lifetime plus the secret cache TTL).',
  });
  p('SubnetIds', { type: 'CommaDelimitedList', default: '', description: 'Private subnets; leave empty (with SecurityGroupIds) to run outside a VPC.' });
  p('SecurityGroupIds', { type: 'CommaDelimitedList', default: '', description: 'Security groups allowed to reach PostgreSQL and Redis.' });
  p('AvailabilityTarget', {
    type: 'Number',
    default: 99.9,
    minValue: 90,
    maxValue: 99.99,
    description: 'Availability SLO of the API functions, in percent of requests answered without a server error; the burn-rate alarms watch its error budget.',
  });
  p('AlarmTopicArn', {
    type: 'String',
    default: '',
    allowedPattern: '^$|^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_.-]+$',
    description: 'Optional. ARN of an SNS topic that receives the stack alarms (on ALARM and on OK); the rollback alarms only drive deployments.',
  });
  p('LogDestinationArn', {
    type: 'String',
    default: '',
    allowedPattern: '^$|^arn:aws[a-z-]*:firehose:[a-z0-9-]+:[0-9]{12}:deliverystream/[A-Za-z0-9_.-]+$',
    description: "Optional. ARN of a Kinesis Data Firehose delivery stream (same account and Region) that every function's log group is subscribed to, e.g. one delivering to OpenSearch.",
  });
  p('DeploymentType', {
    type: 'String',
    default: 'Canary10Percent5Minutes',
    allowedValues: DEPLOYMENT_TYPES,
    description: "SAM's CodeDeploy traffic-shifting type for the API functions' live alias (AllAtOnce is blue-green, Canary canary, Linear rolling).",
  });

  // Throttling: API Gateway drops what exceeds these before a function runs (429). Health
  // probes, lock status and the $default catch-all get the tighter pair (api.ts).
  p('ThrottlingRateLimit', {
    type: 'Number',
    default: 200,
    minValue: 1,
    description: 'Requests per second the HTTP API passes on, per route, unless a tighter pair below applies.',
  });
  p('ThrottlingBurstLimit', { type: 'Number', default: 400, minValue: 1, description: 'Burst bucket of the default throttling.' });
  p('TightThrottlingRateLimit', {
    type: 'Number',
    default: 10,
    minValue: 1,
    description: 'Requests per second for each of /health, /health/live, /health/ready, lock status and the $default catch-all.',
  });
  p('TightThrottlingBurstLimit', { type: 'Number', default: 20, minValue: 1, description: 'Burst bucket of the tighter throttling.' });

  // One of the two must say where Redis is: refused at deploy rather than at every cold start.
  new CfnRule(stack, 'RedisLocation', {
    assertions: [
      {
        assert: Fn.conditionOr(
          Fn.conditionNot(Fn.conditionEquals(Fn.ref('RedisUrl'), '')),
          Fn.conditionNot(Fn.conditionEquals(Fn.ref('RedisUrlSecretArn'), '')),
        ),
        assertDescription: 'Set RedisUrl, or RedisUrlSecretArn for a URL kept in Secrets Manager.',
      },
    ],
  });

  const notEmpty = (name: string) => Fn.conditionNot(Fn.conditionEquals(Fn.ref(name), ''));
  const notEmptyList = (name: string) => Fn.conditionNot(Fn.conditionEquals(Fn.join('', Token.asList(Fn.ref(name))), ''));
  // A VPC needs both lists: subnets without security groups (or the reverse) is a deploy error.
  new CfnCondition(stack, 'InVpc', { expression: Fn.conditionAnd(notEmptyList('SubnetIds'), notEmptyList('SecurityGroupIds')) });
  new CfnCondition(stack, 'HasDatabaseMasterSecret', { expression: notEmpty('DatabaseMasterSecretArn') });
  new CfnCondition(stack, 'HasRedisUrlSecret', { expression: notEmpty('RedisUrlSecretArn') });
  new CfnCondition(stack, 'RotateDatabase', { expression: Fn.conditionEquals(Fn.ref('DatabaseRotation'), 'enabled') });
  new CfnCondition(stack, 'HasAlarmTopic', { expression: notEmpty('AlarmTopicArn') });
  new CfnCondition(stack, 'HasLogDestination', { expression: notEmpty('LogDestinationArn') });
}
