// What template.yaml says about each function beyond needs.json: sizing, VPC placement and
// routes. The parity test holds these equal to SAM's transform of the template.

export interface Route {
  method: string;
  path: string;
}

export interface FunctionConfig {
  memory: number;
  timeout: number;
  /** In the VPC when InVpc holds: the functions that reach PostgreSQL or Redis. */
  vpc: boolean;
  /** HTTP API routes; `$default` is the catch-all. Functions with routes are the API functions. */
  routes: Route[];
  /** How descriptions name the function ("pre-traffic hook"). */
  label: string;
}

const get = (path: string): Route => ({ method: 'GET', path });
const post = (path: string): Route => ({ method: 'POST', path });

export const FUNCTION_CONFIG: Record<string, FunctionConfig> = {
  auth: {
    // Argon2id is CPU-bound and Lambda allots CPU in proportion to memory.
    memory: 1024,
    timeout: 10,
    vpc: true,
    label: 'auth',
    routes: [
      get('/api/v1/auth/captcha'),
      post('/api/v1/auth/captcha/verify'),
      post('/api/v1/auth/register'),
      post('/api/v1/auth/login'),
      post('/api/v1/auth/logout'),
      post('/api/v1/auth/refresh'),
      get('/api/v1/auth/lock-status/{identifier}'),
      post('/api/v1/auth/totp/setup'),
      post('/api/v1/auth/totp/enable'),
      post('/api/v1/auth/totp/disable'),
      get('/.well-known/jwks.json'),
    ],
  },
  users: {
    memory: 256,
    timeout: 10,
    vpc: true,
    label: 'users',
    routes: [get('/api/v1/users/me'), { method: 'DELETE', path: '/api/v1/users/me' }],
  },
  greeter: { memory: 256, timeout: 10, vpc: false, label: 'greeter', routes: [get('/helloworld/{name}')] },
  health: {
    memory: 256,
    timeout: 10,
    vpc: true,
    label: 'health',
    routes: [get('/health/live'), get('/health/ready'), get('/health'), { method: 'ANY', path: '$default' }],
  },
  migrate: { memory: 256, timeout: 300, vpc: true, label: 'migrate', routes: [] },
  'rotate-secret': { memory: 256, timeout: 30, vpc: true, label: 'rotate-secret', routes: [] },
  'pre-traffic': { memory: 256, timeout: 120, vpc: false, label: 'pre-traffic hook', routes: [] },
  'post-traffic': { memory: 256, timeout: 120, vpc: false, label: 'post-traffic hook', routes: [] },
};

export function configOf(name: string): FunctionConfig {
  const c = FUNCTION_CONFIG[name];
  if (!c) throw new Error(`needs.json names a function infra/cdk does not configure: ${name}`);
  return c;
}
