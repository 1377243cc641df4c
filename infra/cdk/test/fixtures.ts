// The two templates the tests compare, made once per run: SAM's offline transform of
// template.yaml and the CDK app's synthesis. The Rust test (tests/tests/infra/cdk.rs) makes
// them with `npx cdk synth` and scripts/sam-transform.py and passes their paths; run alone
// (`npm test`), the tests make them here.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { RedlineStack } from '../lib/stack';
import { FunctionNeeds, loadNeeds } from '../lib/needs';
import { Json } from '../parity/resolve';

// cfn-lint checks the synthesised template (cfn-lint.test.ts): the CDK's slower built-in copy of
// those rules would only repeat it in every synthesis.
process.env.CDK_VALIDATION ??= 'false';

export const ROOT = path.resolve(__dirname, '..', '..', '..', '..');
export const PYTHON = path.join(ROOT, '.local', 'venv', 'bin', 'python');
export const CFN_LINT = path.join(ROOT, '.local', 'venv', 'bin', 'cfn-lint');

/** Every parameter without a default, and DeploymentType off its default so it visibly flows. */
export const PARAMETERS: Record<string, Json> = JSON.parse(
  process.env.REDLINE_PARITY_PARAMETERS ??
    JSON.stringify({
      AllowedOrigins: ['https://app.example.com', 'https://admin.example.com'],
      DatabaseHost: 'db.internal',
      RedisUrl: 'rediss://cache.internal:6379',
      DeploymentType: 'Linear10PercentEvery1Minute',
    }),
);

const scratchDirs: string[] = [];
process.on('exit', () => scratchDirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** A temporary directory, removed when the test process ends. */
export function scratch(name: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `redline-cdk-${name}-`));
  scratchDirs.push(dir);
  return dir;
}

/**
 * Placeholder artefacts: synthesis only hashes and copies them, so no release build in a test.
 * Each bootstrap holds its binary's name, so each asset is told apart by its content.
 */
export function placeholderArtefacts(needs: FunctionNeeds[] = loadNeeds()): string {
  const dir = scratch('lambda');
  for (const n of needs) {
    fs.mkdirSync(path.join(dir, n.binary), { recursive: true });
    fs.writeFileSync(path.join(dir, n.binary, 'bootstrap'), `placeholder for ${n.binary}\n`);
  }
  return dir;
}

/** The CDK app's template, synthesised in process (with a needs table of the caller's choice). */
export function synth(needs?: FunctionNeeds[]): Record<string, Json> {
  const app = new App({ context: { lambdaDir: placeholderArtefacts(needs) }, outdir: scratch('out') });
  const stack = new RedlineStack(app, 'Redline', { needs });
  return Template.fromStack(stack).toJSON() as Record<string, Json>;
}

export function samTransform(templateFile = path.join(ROOT, 'template.yaml')): Record<string, Json> {
  const out = execFileSync(PYTHON, [path.join(ROOT, 'scripts', 'sam-transform.py'), templateFile, JSON.stringify(PARAMETERS)], {
    cwd: ROOT,
    env: { ...process.env, HTTPS_PROXY: 'http://127.0.0.1:9', HTTP_PROXY: 'http://127.0.0.1:9' },
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 << 20,
  });
  return JSON.parse(out.toString());
}

let sam: Record<string, Json> | undefined;
let cdk: Record<string, Json> | undefined;
export function samTemplate(): Record<string, Json> {
  sam ??= process.env.REDLINE_SAM_TEMPLATE ? JSON.parse(fs.readFileSync(process.env.REDLINE_SAM_TEMPLATE, 'utf8')) : samTransform();
  return structuredClone(sam!);
}
export function cdkTemplate(): Record<string, Json> {
  cdk ??= process.env.REDLINE_CDK_TEMPLATE ? JSON.parse(fs.readFileSync(process.env.REDLINE_CDK_TEMPLATE, 'utf8')) : synth();
  return structuredClone(cdk!);
}
