// Every function of needs.json: its role (exactly its grants), its log group, the function from
// the prebuilt artefact, and, where needs.json says so, a version per change and the `live` alias.
import * as fs from 'fs';
import { CfnCondition, CfnParameter, CfnResource, Fn, RemovalPolicy, Stack, Token, Aws, Duration } from 'aws-cdk-lib';
import { CfnRole, IRole, Role } from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { CfnLogGroup, LogGroup } from 'aws-cdk-lib/aws-logs';
import { FunctionNeeds } from './needs';
import { configOf, FunctionConfig } from './functions-config';
import { Cfn, grantResource, intrinsic } from './intrinsics';

export interface Deployed {
  needs: FunctionNeeds;
  config: FunctionConfig;
  /** The template's logical id without "Function": Auth, PreTrafficHook. */
  prefix: string;
  fn: lambda.Function;
  logGroup: CfnLogGroup;
  alias?: lambda.Alias;
}

const lambdaPolicy = (name: string) => Fn.sub(`arn:\${AWS::Partition}:iam::aws:policy/service-role/${name}`);

/** One IAM statement per needs.json grant; a conditional grant is there only when its condition holds. */
function statements(needs: FunctionNeeds): Cfn[] {
  return needs.grants.map((g) => {
    const resources = g.resources.map(grantResource);
    const statement: Cfn = {
      Effect: 'Allow',
      Action: g.actions.length === 1 ? g.actions[0] : g.actions,
      Resource: resources.length === 1 ? resources[0] : resources,
    };
    return g.condition ? { 'Fn::If': [g.condition, statement, { Ref: 'AWS::NoValue' }] } : statement;
  });
}

function role(stack: Stack, needs: FunctionNeeds, config: FunctionConfig): IRole {
  const managed: string[] = [lambdaPolicy('AWSLambdaBasicExecutionRole')];
  if (config.vpc) {
    managed.push(Token.asString(Fn.conditionIf('InVpc', lambdaPolicy('AWSLambdaVPCAccessExecutionRole'), Aws.NO_VALUE)));
  }
  const id = `${needs.logical_id}Role`;
  const cfn = new CfnRole(stack, id, {
    assumeRolePolicyDocument: {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
    },
    managedPolicyArns: managed,
    policies: needs.grants.length
      ? [{ policyName: 'grants', policyDocument: { Version: '2012-10-17', Statement: statements(needs) } }]
      : undefined,
  });
  cfn.overrideLogicalId(id);
  // Immutable from here: the CDK's own grant helpers (log group, deployment group hooks) must
  // not add statements; the role holds needs.json's grants and nothing else.
  return Role.fromRoleArn(stack, `${id}Immutable`, cfn.attrArn, { mutable: false, addGrantsToResources: false });
}

/** Where scripts/build-lambda.sh puts the artefacts: target/lambda/<binary>/bootstrap. */
export function artefactDir(stack: Stack, binary: string): string {
  const root = (stack.node.tryGetContext('lambdaDir') as string | undefined) ?? process.env.REDLINE_LAMBDA_DIR ?? `${__dirname}/../../../../target/lambda`;
  const dir = `${root}/${binary}`;
  if (!fs.existsSync(dir)) {
    throw new Error(`no Lambda artefact at ${dir}: run scripts/build-lambda.sh first (or set REDLINE_LAMBDA_DIR)`);
  }
  return dir;
}

export function addFunction(stack: Stack, needs: FunctionNeeds): Deployed {
  const config = configOf(needs.name);
  const prefix = needs.logical_id.replace(/Function$/, '');

  const logGroup = new CfnLogGroup(stack, `${prefix}LogGroup`, {
    logGroupName: Fn.sub(`/aws/lambda/${needs.function_name}`),
    retentionInDays: Token.asNumber(Fn.ref('LogRetentionDays')),
  });
  logGroup.overrideLogicalId(`${prefix}LogGroup`);

  const environment: Record<string, string> = {};
  for (const [k, v] of Object.entries(needs.environment)) environment[k] = Token.asString(intrinsic(v));

  const fn = new lambda.Function(stack, needs.logical_id, {
    functionName: Fn.sub(needs.function_name),
    runtime: lambda.Runtime.PROVIDED_AL2023,
    handler: 'bootstrap',
    architecture: lambda.Architecture.X86_64,
    code: lambda.Code.fromAsset(artefactDir(stack, needs.binary)),
    memorySize: config.memory,
    timeout: Duration.seconds(config.timeout),
    role: role(stack, needs, config),
    environment,
    // JSON logs, both levels at INFO: Lambda treats a line without a level (every EMF document)
    // as INFO, and the memory filters read the system REPORT lines.
    loggingFormat: lambda.LoggingFormat.JSON,
    applicationLogLevelV2: lambda.ApplicationLogLevel.INFO,
    systemLogLevelV2: lambda.SystemLogLevel.INFO,
    logGroup: LogGroup.fromLogGroupName(stack, `${prefix}LogGroupRef`, logGroup.ref),
    // A new version on any change of the function's configuration, as SAM's
    // AutoPublishAliasAllProperties; old versions stay for rollbacks.
    currentVersionOptions: { removalPolicy: RemovalPolicy.RETAIN },
  });
  const cfnFn = fn.node.defaultChild as lambda.CfnFunction;
  cfnFn.overrideLogicalId(needs.logical_id);
  if (config.vpc) {
    // Conditional VPC placement is a template condition, which the L2 vpc prop cannot express.
    cfnFn.addPropertyOverride(
      'VpcConfig',
      Fn.conditionIf('InVpc', { SubnetIds: Fn.ref('SubnetIds'), SecurityGroupIds: Fn.ref('SecurityGroupIds') }, Aws.NO_VALUE),
    );
  }

  reserveConcurrency(stack, prefix, cfnFn);

  const deployed: Deployed = { needs, config, prefix, fn, logGroup };
  if (needs.alias) {
    deployed.alias = new lambda.Alias(stack, `${needs.logical_id}Alias${needs.alias}`, { aliasName: needs.alias, version: fn.currentVersion });
  }
  return deployed;
}

/** A parameter per function: -1 leaves it in the account's shared pool, a number reserves (and caps) its concurrency, 0 stops it. */
function reserveConcurrency(stack: Stack, prefix: string, fn: lambda.CfnFunction): void {
  const parameter = `${prefix}ReservedConcurrency`;
  new CfnParameter(stack, parameter, {
    type: 'Number',
    default: -1,
    minValue: -1,
    description: `Reserved concurrent executions of the ${prefix} function; -1 for none (the shared pool), 0 to stop it.`,
  });
  const condition = `Reserve${prefix}Concurrency`;
  new CfnCondition(stack, condition, { expression: Fn.conditionNot(Fn.conditionEquals(Fn.ref(parameter), -1)) });
  fn.addPropertyOverride('ReservedConcurrentExecutions', Fn.conditionIf(condition, Fn.ref(parameter), Aws.NO_VALUE));
}

/** Secrets Manager may invoke the rotation function, from this account only. */
export function addRotationPermission(stack: Stack, rotate: lambda.Function): CfnResource {
  const p = new lambda.CfnPermission(stack, 'RotateSecretPermission', {
    action: 'lambda:InvokeFunction',
    functionName: rotate.functionArn,
    principal: 'secretsmanager.amazonaws.com',
    sourceAccount: Aws.ACCOUNT_ID,
  });
  p.overrideLogicalId('RotateSecretPermission');
  return p;
}
