// The one stack: what template.yaml deploys, built from needs.json. The template's logical ids
// are kept (overrideLogicalId) so needs.json's references (${DatabaseSecret}, ${AuthFunction.Arn})
// mean the same here, and the runbooks' names hold for either deployment.
import { CfnOutput, DefaultStackSynthesizer, Fn, Stack, StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { addParameters } from './parameters';
import { addRotation, addSecrets } from './secrets';
import { addFunction, addRotationPermission, Deployed } from './functions';
import { addHttpApi } from './api';
import { addMigrations } from './migrations';
import { addDeployments } from './deployment';
import { addRollbackAlarms, addStackAlarms } from './alarms';
import { addLogPipeline, addMemoryMetrics, addSavedQueries } from './logs';
import { addDashboard } from './dashboard';
import { FunctionNeeds, loadNeeds } from './needs';

export interface RedlineStackProps extends StackProps {
  /** Defaults to the repository's needs.json. */
  needs?: FunctionNeeds[];
}

export class RedlineStack extends Stack {
  readonly functions: Deployed[];

  constructor(scope: Construct, id: string, props: RedlineStackProps = {}) {
    super(scope, id, {
      description:
        'redline: the auth API on AWS Lambda. One function per API area behind one HTTP API, deployed by CodeDeploy through its traffic hooks, plus the migrate function (run at each deploy) and the Secrets Manager rotation function (the CDK twin of template.yaml).',
      synthesizer: new DefaultStackSynthesizer(),
      // No AWS::CDK::Metadata resource: the stack holds what template.yaml deploys, nothing more.
      analyticsReporting: false,
      ...props,
    });
    addParameters(this);
    addSecrets(this);

    this.functions = (props.needs ?? loadNeeds()).map((n) => addFunction(this, n));
    const api = this.functions.filter((d) => d.config.routes.length > 0);
    const byName = (name: string) => {
      const d = this.functions.find((f) => f.needs.name === name);
      if (!d) throw new Error(`needs.json has no ${name} function`);
      return d;
    };

    const rotate = byName('rotate-secret');
    const migrations = addMigrations(this, byName('migrate'), api);
    addRotation(this, rotate.fn.functionArn, addRotationPermission(this, rotate.fn), migrations);

    const httpApi = addHttpApi(this, this.functions);
    const rollbackAlarms = addRollbackAlarms(this, api);
    addDeployments(this, this.functions, rollbackAlarms);
    addStackAlarms(this, this.functions, api, httpApi.apiId);
    addMemoryMetrics(this, this.functions);
    addDashboard(this, this.functions, api);
    addSavedQueries(this, this.functions, api);
    addLogPipeline(this, this.functions);

    new CfnOutput(this, 'ApiUrl', { description: 'Base URL of the HTTP API ($default stage).', value: Fn.sub('https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/') });
    new CfnOutput(this, 'MigrateFunctionName', {
      description: 'Runs the migrations at every deploy (MigrateOnDeploy); invoke it to run them by hand.',
      value: byName('migrate').fn.functionName,
    });
    new CfnOutput(this, 'DatabaseSecretArn', {
      description: "The schema owner's database login secret (its ARN, not its value); set the owner's password from it once (docs/secrets.md).",
      value: Fn.ref('DatabaseSecret'),
    });
    new CfnOutput(this, 'DatabaseAppSecretArn', {
      description: "The application role's database login secret (its ARN); migrate creates the role from it.",
      value: Fn.ref('DatabaseAppSecret'),
    });
  }
}
