// What the parity check cannot show: the stack's interface (parameters, conditions, rules,
// outputs) equals the template's, the artefacts each function ships, that the CDK's own grant
// helpers add nothing, and that a version follows every configuration change.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { RedlineStack } from '../lib/stack';
import { loadNeeds } from '../lib/needs';
import { cdkTemplate, placeholderArtefacts, samTemplate, scratch, synth } from './fixtures';

const cdk = () => Template.fromJSON(cdkTemplate() as Record<string, any>);

test('the same parameters, rules, conditions and outputs as template.yaml', () => {
  const sam = samTemplate() as Record<string, any>;
  const ours = cdkTemplate() as Record<string, any>;
  // BootstrapVersion (and its rule) belong to the CDK's deployment bootstrap, not the system.
  const { BootstrapVersion, ...parameters } = ours.Parameters;
  assert.ok(BootstrapVersion);
  const numbersAsStrings = (x: unknown) => JSON.parse(JSON.stringify(x, (_k, v) => (typeof v === 'number' ? String(v) : v)));
  assert.deepEqual(numbersAsStrings(parameters), numbersAsStrings(sam.Parameters));
  const { CheckBootstrapVersion, ...rules } = ours.Rules;
  assert.ok(CheckBootstrapVersion);
  assert.deepEqual(rules, sam.Rules);
  assert.deepEqual(ours.Conditions, sam.Conditions);
  assert.deepEqual(Object.keys(ours.Outputs).sort(), Object.keys(sam.Outputs).sort());
  for (const [name, output] of Object.entries(sam.Outputs as Record<string, any>)) {
    assert.deepEqual(ours.Outputs[name].Value, output.Value, name);
  }
});

test('each function ships its own binary from target/lambda/<binary>', () => {
  const app = new App({ context: { lambdaDir: placeholderArtefacts() }, outdir: scratch('assets') });
  const stack = new RedlineStack(app, 'Redline');
  const assembly = app.synth();
  const template = assembly.getStackByName(stack.stackName).template as Record<string, any>;
  for (const n of loadNeeds()) {
    const fn = template.Resources[n.logical_id];
    // The staged copy of the asset, named by its hash: its bootstrap is this binary's.
    const hash = (fn.Properties.Code.S3Key as string).replace(/\.zip$/, '');
    const bootstrap = fs.readFileSync(path.join(assembly.directory, `asset.${hash}`, 'bootstrap'), 'utf8');
    assert.equal(bootstrap, `placeholder for ${n.binary}\n`, n.logical_id);
  }
  // Both hooks run the one traffic-hook binary, so they share one asset.
  const keys = ['PreTrafficHookFunction', 'PostTrafficHookFunction'].map((id) => template.Resources[id].Properties.Code.S3Key);
  assert.equal(keys[0], keys[1]);
});

test('without the artefacts, synthesis says how to build them', () => {
  const app = new App({ context: { lambdaDir: path.join(scratch('none'), 'missing') }, outdir: scratch('out') });
  assert.throws(() => new RedlineStack(app, 'Redline'), /scripts\/build-lambda\.sh/);
});

test('hooks are named CodeDeployHook_*, the only functions the CodeDeploy role may invoke', () => {
  const t = cdk();
  for (const n of loadNeeds().filter((x) => x.hook)) {
    assert.match(n.function_name, /^CodeDeployHook_/);
    t.hasResourceProperties('AWS::Lambda::Function', { FunctionName: { 'Fn::Sub': n.function_name } });
  }
  t.hasResourceProperties('AWS::IAM::Role', {
    AssumeRolePolicyDocument: Match.objectLike({ Statement: [Match.objectLike({ Principal: { Service: ['codedeploy.amazonaws.com'] } })] }),
    ManagedPolicyArns: [{ 'Fn::Sub': 'arn:${AWS::Partition}:iam::aws:policy/service-role/AWSCodeDeployRoleForLambda' }],
  });
});

test("one CodeDeploy application, and the CDK's grant helpers add no policy anywhere", () => {
  const t = cdk();
  t.resourceCountIs('AWS::CodeDeploy::Application', 1);
  t.resourceCountIs('AWS::CodeDeploy::DeploymentGroup', loadNeeds().filter((n) => n.alias && n.name !== 'migrate').length);
  t.allResourcesProperties('AWS::CodeDeploy::DeploymentGroup', { ApplicationName: { Ref: 'ServerlessDeploymentApplication' } });
  // Least privilege is the roles' inline policies, exactly needs.json's grants: no extra
  // AWS::IAM::Policy (the deployment group's invoke grants, the log group's write grant).
  t.resourceCountIs('AWS::IAM::Policy', 0);
  t.resourceCountIs('AWS::IAM::ManagedPolicy', 0);
});

test('every secret a function references is one it may read, and no other', () => {
  const template = cdkTemplate() as Record<string, any>;
  for (const n of loadNeeds()) {
    const env = JSON.stringify(template.Resources[n.logical_id].Properties.Environment?.Variables ?? {});
    const referenced = new Set([...env.matchAll(/secretsmanager:\$\{(\w+)\}/g)].map((m) => m[1]));
    const readable = new Set(
      n.grants.filter((g) => g.actions.includes('secretsmanager:GetSecretValue')).flatMap((g) => g.resources).filter((r) => r.endsWith('Secret') || r.endsWith('SecretArn')),
    );
    for (const r of referenced) assert.ok(readable.has(r), `${n.name} references ${r} without a grant`);
    // The rotation function reads and writes secrets it does not resolve at cold start.
    if (n.name !== 'rotate-secret') for (const r of readable) assert.ok(referenced.has(r), `${n.name} may read ${r} but never references it`);
  }
});

test('a configuration change publishes a new version (SAM: AutoPublishAliasAllProperties)', () => {
  const versionOf = (t: Record<string, any>, fn: string) =>
    Object.keys(t.Resources).find((id) => t.Resources[id].Type === 'AWS::Lambda::Version' && t.Resources[id].Properties.FunctionName.Ref === fn);
  const before = versionOf(cdkTemplate() as Record<string, any>, 'GreeterFunction');
  const needs = loadNeeds();
  needs.find((n) => n.name === 'greeter')!.environment.RUST_LOG = 'debug';
  const after = versionOf(synth(needs) as Record<string, any>, 'GreeterFunction');
  assert.ok(before && after);
  assert.notEqual(before, after);
});

test('the stage is created after every route its throttling settings name', () => {
  const template = cdkTemplate() as Record<string, any>;
  const resources = Object.entries(template.Resources as Record<string, any>);
  const [, stage] = resources.find(([, r]) => r.Type === 'AWS::ApiGatewayV2::Stage')!;
  const routes = new Map(resources.filter(([, r]) => r.Type === 'AWS::ApiGatewayV2::Route').map(([id, r]) => [r.Properties.RouteKey, id]));
  for (const key of Object.keys(stage.Properties.RouteSettings)) {
    assert.ok(routes.has(key), `no route ${key}`);
    assert.ok((stage.DependsOn ?? []).includes(routes.get(key)), `the stage does not wait for ${key}`);
  }
});
