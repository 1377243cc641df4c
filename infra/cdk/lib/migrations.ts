// Migrations run once per deploy, before any API function (and so its version, alias and
// traffic shift) changes: a canary's old and new versions both meet the migrated, additive schema.
import { CfnCustomResource, CfnResource, Stack } from 'aws-cdk-lib';
import { Deployed } from './functions';

export function addMigrations(stack: Stack, migrate: Deployed, apiFunctions: Deployed[]): CfnResource {
  const resource = new CfnCustomResource(stack, 'MigrateOnDeploy', { serviceToken: migrate.fn.functionArn, serviceTimeout: 600 });
  resource.overrideLogicalId('MigrateOnDeploy');
  // A new migrate version (new migrations compiled in) is what makes CloudFormation send Update.
  resource.addPropertyOverride('MigrateVersion', migrate.fn.currentVersion.functionArn);
  for (const d of apiFunctions) (d.fn.node.defaultChild as CfnResource).addResourceDependency(resource);
  return resource;
}
