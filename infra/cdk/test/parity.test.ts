// The parity check: the CDK app deploys what SAM's transform of template.yaml deploys,
// resource by resource, matched by role.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { extract } from '../parity/extract';
import { compare, render } from '../parity/compare';
import { Template } from '../parity/resolve';
import { cdkTemplate, PARAMETERS, samTemplate } from './fixtures';
import { FUNCTION_CONFIG } from '../lib/functions-config';

test('the CDK twin deploys what template.yaml deploys', () => {
  const differences = compare(extract(samTemplate() as unknown as Template, PARAMETERS), extract(cdkTemplate() as unknown as Template, PARAMETERS));
  assert.equal(differences.length, 0, `SAM (left) and CDK (right) differ:\n${render(differences)}`);
});

test('the comparison holds every category, not an empty one', () => {
  const sam = extract(samTemplate() as unknown as Template, PARAMETERS);
  const sizes = Object.fromEntries(Object.entries(sam).map(([k, v]) => [k, Object.keys(v).length]));
  // Every configured route ($default included); 8 functions + 8 log groups; 10 roles; 39 alarms (2 composite).
  const routes = Object.values(FUNCTION_CONFIG).reduce((n, c) => n + c.routes.length, 0);
  assert.equal(sizes.routes, routes, JSON.stringify(sizes));
  assert.equal(sizes.functions, 16);
  assert.equal(sizes.environment, 8);
  assert.equal(sizes.iam, 10);
  assert.equal(sizes.alarms, 39);
  for (const [category, n] of Object.entries(sizes)) assert.ok(n > 0, `${category} is empty`);
});
