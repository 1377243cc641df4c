// Names each resource by what it is for, so SAM's and the CDK's logical ids do not matter:
// a function by its name, an alarm by its name, a version or alias by its function, a role by
// the function that assumes it, a log-side resource by its log group.
import { Json, Resolver, Template } from './resolve';

const str = (r: Resolver, v: Json | undefined): string => {
  const x = r.value(v);
  return typeof x === 'string' ? x : JSON.stringify(x);
};
const refId = (v: Json | undefined): string | undefined => {
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    if (typeof v.Ref === 'string') return v.Ref;
    const g = v['Fn::GetAtt'];
    if (Array.isArray(g)) return g[0] as string;
    if (typeof g === 'string') return g.split('.')[0];
  }
  return undefined;
};

/** Fills resolver.roles; resources whose role depends on another's are named in later passes. */
export function assignRoles(t: Template, r: Resolver): void {
  const roles = r.roles;
  const strip = (name: string) => name.replace(/^STACK-/, '').replace(/^CodeDeployHook_STACK-/, '');
  for (let pass = 0; pass < 4; pass++) {
    for (const [id, res] of Object.entries(t.Resources)) {
      if (roles.has(id)) continue;
      const p = res.Properties ?? {};
      const via = (v: Json | undefined) => {
        const target = refId(v);
        return target ? roles.get(target) : undefined;
      };
      let role: string | undefined;
      switch (res.Type) {
        case 'AWS::Lambda::Function':
          role = `fn:${strip(str(r, p.FunctionName))}`;
          break;
        case 'AWS::Logs::LogGroup':
          role = `log-group:${str(r, p.LogGroupName)}`;
          break;
        case 'AWS::SecretsManager::Secret':
          role = `secret:${str(r, p.Description).replace(/^STACK: /, '')}`;
          break;
        case 'AWS::CloudWatch::Alarm':
        case 'AWS::CloudWatch::CompositeAlarm':
          role = `alarm:${strip(str(r, p.AlarmName))}`;
          break;
        case 'AWS::CloudWatch::Dashboard':
          role = `dashboard:${str(r, p.DashboardName)}`;
          break;
        case 'AWS::Logs::QueryDefinition':
          role = `query:${str(r, p.Name)}`;
          break;
        case 'AWS::CodeDeploy::Application':
          role = 'codedeploy-application';
          break;
        case 'AWS::ApiGatewayV2::Api':
          role = 'http-api';
          break;
        case 'AWS::ApiGatewayV2::Stage':
          role = `http-api-stage:${str(r, p.StageName)}`;
          break;
        case 'AWS::CloudFormation::CustomResource':
          role = via(p.ServiceToken) && `custom-resource:${via(p.ServiceToken)}`;
          break;
        case 'AWS::Lambda::Version':
          role = via(p.FunctionName) && `version:${via(p.FunctionName)}`;
          break;
        case 'AWS::Lambda::Alias':
          role = via(p.FunctionName) && `alias:${via(p.FunctionName)}:${str(r, p.Name)}`;
          break;
        case 'AWS::Logs::Transformer':
          role = via(p.LogGroupIdentifier) && `transformer:${via(p.LogGroupIdentifier)}`;
          break;
        case 'AWS::Logs::MetricFilter':
          role = via(p.LogGroupName) && `metric-filter:${via(p.LogGroupName)}`;
          break;
        case 'AWS::Logs::SubscriptionFilter':
          role = via(p.LogGroupName) && `subscription:${via(p.LogGroupName)}`;
          break;
        case 'AWS::SecretsManager::RotationSchedule':
          role = via(p.SecretId) && `rotation:${via(p.SecretId)}`;
          break;
        case 'AWS::IAM::Role':
          role = iamRole(t, id, p, roles);
          break;
        case 'AWS::CodeDeploy::DeploymentGroup':
          role = deploymentGroupRole(t, id, roles);
          break;
        case 'AWS::Lambda::Permission':
          role = via(p.FunctionName) && `permission:${via(p.FunctionName)}:${str(r, p.Principal)}`;
          break;
        case 'AWS::ApiGatewayV2::Route':
        case 'AWS::ApiGatewayV2::Integration':
          role = `${res.Type.split('::')[2].toLowerCase()}:${id}`;
          break;
        default:
          role = `${res.Type}:${id}`;
      }
      if (role) roles.set(id, role);
    }
  }
}

function iamRole(t: Template, id: string, p: Record<string, Json>, roles: Map<string, string>): string | undefined {
  for (const [fnId, res] of Object.entries(t.Resources)) {
    if (res.Type === 'AWS::Lambda::Function' && refId(res.Properties?.Role) === id) {
      return roles.has(fnId) ? `iam-role:${roles.get(fnId)}` : undefined;
    }
  }
  const doc = JSON.stringify(p.AssumeRolePolicyDocument ?? {});
  const service = /"Service":\[?"([a-z.]+)"/.exec(doc)?.[1] ?? id;
  return `iam-role:${service}`;
}

function deploymentGroupRole(t: Template, id: string, roles: Map<string, string>): string | undefined {
  for (const [aliasId, res] of Object.entries(t.Resources)) {
    const update = res.UpdatePolicy?.CodeDeployLambdaAliasUpdate as Record<string, Json> | undefined;
    if (res.Type === 'AWS::Lambda::Alias' && update && refId(update.DeploymentGroupName) === id) {
      return roles.has(aliasId) ? `deployment-group:${roles.get(aliasId)}` : undefined;
    }
  }
  return `deployment-group:${id}`;
}
