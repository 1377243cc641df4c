// The synthesised template passes cfn-lint, the linter template.yaml passes (same pinned version,
// scripts/install-tools.sh).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { cdkTemplate, CFN_LINT, scratch } from './fixtures';

test('the synthesised template passes cfn-lint', () => {
  assert.ok(fs.existsSync(CFN_LINT), `${CFN_LINT} is missing: run scripts/install-tools.sh once`);
  const file = path.join(scratch('lint'), 'Redline.template.json');
  fs.writeFileSync(file, JSON.stringify(cdkTemplate(), null, 1));
  const run = spawnSync(CFN_LINT, [file], { encoding: 'utf8', env: { ...process.env, HTTPS_PROXY: 'http://127.0.0.1:9' } });
  assert.equal(run.status, 0, `cfn-lint:\n${run.stdout}${run.stderr}`);
});
