// The HTTP API: every function's routes on its live alias, the $default catch-all, and the
// contract's CORS (API Gateway answers preflights; functions never handle CORS).
import { Aws, Fn, Stack } from 'aws-cdk-lib';
import { CfnPermission } from 'aws-cdk-lib/aws-lambda';
import { CfnApi, CfnRoute, CfnStage, HttpApi, HttpMethod } from 'aws-cdk-lib/aws-apigatewayv2';
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
      const [added] = api.addRoutes({ path: route.path, methods: [route.method as HttpMethod], integration: integration.get(d.needs.name)! });
      // The integration lets API Gateway invoke the alias for any method on the path ("*/*/path",
      // path parameters literal); SAM grants this route alone, as "*/METHOD/path" with each
      // {parameter} a wildcard. The narrower grant, as SAM makes it:
      const sourceArn = Fn.sub(
        `arn:\${AWS::Partition}:execute-api:\${AWS::Region}:\${AWS::AccountId}:\${HttpApi}/*/${route.method}${route.path.replace(/\{[^}]+\}/g, '*')}`,
      );
      for (const p of added.node.findAll().filter((c): c is CfnPermission => c instanceof CfnPermission)) p.sourceArn = sourceArn;
    }
  }
  throttle(api);
  return api;
}

/** Routes API Gateway throttles harder: nothing legitimate needs them at volume. */
const TIGHT_ROUTES = ['GET /health', 'GET /health/live', 'GET /health/ready', 'GET /api/v1/auth/lock-status/{identifier}', '$default'];

function throttle(api: HttpApi): void {
  const stage = api.defaultStage!.node.defaultChild as CfnStage;
  stage.addPropertyOverride('DefaultRouteSettings', {
    ThrottlingRateLimit: Fn.ref('ThrottlingRateLimit'),
    ThrottlingBurstLimit: Fn.ref('ThrottlingBurstLimit'),
  });
  const tight = { ThrottlingRateLimit: Fn.ref('TightThrottlingRateLimit'), ThrottlingBurstLimit: Fn.ref('TightThrottlingBurstLimit') };
  stage.addPropertyOverride('RouteSettings', Object.fromEntries(TIGHT_ROUTES.map((key) => [key, tight])));
  // A route setting names a route by key: the stage must come after the routes exist.
  for (const route of api.node.findAll().filter((c) => c instanceof CfnRoute)) stage.addDependency(route as CfnRoute);
}
