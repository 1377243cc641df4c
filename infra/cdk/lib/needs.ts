// The committed "which function needs what" table (needs.json, exported from
// shared/core/src/needs.rs). The SAM tests check template.yaml against it; this app builds
// from it, so both deployments read one source.
import * as fs from 'fs';
import * as path from 'path';

export interface Grant {
  actions: string[];
  condition: string | null;
  resources: string[];
}

export interface FunctionNeeds {
  name: string;
  logical_id: string;
  binary: string;
  function_name: string;
  alias: string | null;
  hook: 'PreTraffic' | 'PostTraffic' | null;
  database: boolean;
  redis: boolean;
  environment: Record<string, string>;
  grants: Grant[];
}

/** needs.json at the repository root, two levels above infra/cdk. */
export const NEEDS_PATH = path.resolve(__dirname, '..', '..', '..', '..', 'needs.json');

export function loadNeeds(file: string = NEEDS_PATH): FunctionNeeds[] {
  const table = JSON.parse(fs.readFileSync(file, 'utf8')) as { functions: FunctionNeeds[] };
  return table.functions;
}
