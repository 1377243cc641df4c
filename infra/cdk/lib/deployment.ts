// CodeDeploy: one application (as SAM makes), one deployment group per API function shifting
// its live alias by the DeploymentType parameter, rolled back by the function's rollback alarms
// or a hook's Failed report, with the two traffic hooks.
import { Fn, Stack } from 'aws-cdk-lib';
import { Alarm, CfnAlarm } from 'aws-cdk-lib/aws-cloudwatch';
import { CfnApplication, LambdaApplication, LambdaDeploymentConfig, LambdaDeploymentGroup } from 'aws-cdk-lib/aws-codedeploy';
import { CfnRole, Role } from 'aws-cdk-lib/aws-iam';
import { Deployed } from './functions';

export function addDeployments(stack: Stack, functions: Deployed[], rollbackAlarms: Map<string, CfnAlarm[]>): LambdaApplication {
  const application = new LambdaApplication(stack, 'ServerlessDeploymentApplication');
  (application.node.defaultChild as CfnApplication).overrideLogicalId('ServerlessDeploymentApplication');

  // SAM's role: the AWS managed policy lets CodeDeploy invoke only functions named
  // CodeDeployHook_*, which is why the hooks carry that prefix. Immutable so the deployment
  // group's own grants (invoke on each hook, the Limited policy) add nothing to it.
  const serviceRole = new CfnRole(stack, 'CodeDeployServiceRole', {
    assumeRolePolicyDocument: {
      Version: '2012-10-17',
      Statement: [{ Action: ['sts:AssumeRole'], Effect: 'Allow', Principal: { Service: ['codedeploy.amazonaws.com'] } }],
    },
    managedPolicyArns: [Fn.sub('arn:${AWS::Partition}:iam::aws:policy/service-role/AWSCodeDeployRoleForLambda')],
  });
  serviceRole.overrideLogicalId('CodeDeployServiceRole');
  const role = Role.fromRoleArn(stack, 'CodeDeployServiceRoleImmutable', serviceRole.attrArn, { mutable: false, addGrantsToResources: false });

  const config = LambdaDeploymentConfig.fromLambdaDeploymentConfigName(stack, 'DeploymentType', Fn.sub('CodeDeployDefault.Lambda${DeploymentType}'));
  const hook = (phase: string) => functions.find((d) => d.needs.hook === phase)?.fn;

  for (const d of functions.filter((f) => f.config.routes.length > 0)) {
    // CodeDeploy names alarms by name: an alarm's Ref is its name.
    const alarms = (rollbackAlarms.get(d.needs.name) ?? []).map((a) => Alarm.fromAlarmName(stack, `${a.node.id}Ref`, a.ref));
    new LambdaDeploymentGroup(stack, `${d.needs.logical_id}DeploymentGroup`, {
      application,
      alias: d.alias!,
      deploymentConfig: config,
      role,
      alarms,
      preHook: hook('PreTraffic'),
      postHook: hook('PostTraffic'),
      autoRollback: { failedDeployment: true, stoppedDeployment: true, deploymentInAlarm: true },
    });
  }
  return application;
}
