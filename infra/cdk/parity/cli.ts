// node build/parity/cli.js <sam.json> <cdk.json> '<parameters JSON>': exits 1 with the diff
// when the CDK's template does not deploy what SAM's transform of template.yaml deploys.
import * as fs from 'fs';
import { extract } from './extract';
import { compare, render } from './compare';

const [samFile, cdkFile, params = '{}'] = process.argv.slice(2);
if (!samFile || !cdkFile) {
  console.error('usage: cli.js <sam-transformed.json> <cdk-synth.json> [parameters-json]');
  process.exit(2);
}
const parameters = JSON.parse(params);
const read = (f: string) => JSON.parse(fs.readFileSync(f, 'utf8'));
const differences = compare(extract(read(samFile), parameters), extract(read(cdkFile), parameters));
if (differences.length) {
  console.error(`SAM and CDK templates differ in ${differences.length} place(s):\n${render(differences)}`);
  process.exit(1);
}
console.log('SAM and CDK templates deploy the same resources');
