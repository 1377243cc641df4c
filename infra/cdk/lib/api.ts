// The HTTP API: every function's routes on its live alias, the $default catch-all, and the
// contract's CORS (API Gateway answers preflights; functions never handle CORS).
import { Aws, Fn, Stack } from 'aws-cdk-lib';
import { CfnApi, HttpApi, HttpMethod } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { Deployed } from './functions';

export function addHttpApi(stack: Stack, functions: Deployed[]): HttpApi {
  const withRoutes = functions.filter((d) => d.config.routes.length > 0);
  const integration = new Map(withRoutes.map((d) => [d.needs.name, new HttpLambdaIntegration(`${d.prefix}Integration`, d.alias!)]));
  const catchAll = withRoutes.find((d) => d.config.routes.some((r) => r.path === '$default'));

  const api = new HttpApi(stack, 'HttpApi', {
    apiName: Aws.STACK_NAME,
    defaultIntegration: catchAll ? integration.get(catchAll.needs.name) : undefined,
  });
  const cfn = api.node.defaultChild as CfnApi;
  cfn.overrideLogicalId('HttpApi');
  cfn.addPropertyOverride('FailOnWarnings', true);
  // AllowedOrigins is a CommaDelimitedList parameter: the L2's corsPreflight wants literal origins.
  cfn.addPropertyOverride('CorsConfiguration', {
    AllowOrigins: Fn.ref('AllowedOrigins'),
    AllowMethods: ['GET', 'POST', 'DELETE', 'OPTIONS'],
    AllowHeaders: ['Authorization', 'Content-Type'],
    MaxAge: 600,
  });

  for (const d of withRoutes) {
    for (const route of d.config.routes) {
      if (route.path === '$default') continue;
      api.addRoutes({ path: route.path, methods: [route.method as HttpMethod], integration: integration.get(d.needs.name)! });
    }
  }
  return api;
}
