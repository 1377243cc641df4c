// The seven Secrets Manager secrets, values generated at deploy, and their rotation schedules.
// L1 resources on purpose: the L2 Secret's rotation helpers grant the rotation function read
// and write on the secret and add their own Lambda permission, and the rotation function's role
// must hold exactly the grants needs.json lists.
import { CfnCondition, CfnDeletionPolicy, CfnResource, Fn, Stack, Token } from 'aws-cdk-lib';
import { CfnRotationSchedule, CfnSecret } from 'aws-cdk-lib/aws-secretsmanager';

function secret(stack: Stack, id: string, description: string, generate: CfnSecret.GenerateSecretStringProperty, retain = false): CfnSecret {
  const s = new CfnSecret(stack, id, { description: Fn.sub(`\${AWS::StackName}: ${description}`), generateSecretString: generate });
  s.overrideLogicalId(id);
  if (retain) {
    // Losing these loses the data (or every blind index): CloudFormation keeps them.
    s.cfnOptions.deletionPolicy = CfnDeletionPolicy.RETAIN;
    s.cfnOptions.updateReplacePolicy = CfnDeletionPolicy.RETAIN;
  }
  return s;
}

// Hex only: 0-9a-f are left, so 64 characters are 256 bits.
const HEX = { excludePunctuation: true, excludeUppercase: true, excludeCharacters: 'ghijklmnopqrstuvwxyz' };
const KEY_SET = { secretStringTemplate: '{"keys":[]}', generateStringKey: 'bootstrap' };

export function addSecrets(stack: Stack): void {
  // Never edit a GenerateSecretString after the first deploy: CloudFormation would generate a
  // new value and overwrite the live one.
  // The schema owner's login (migrate's); the master of the application secret's rotation.
  secret(stack, 'DatabaseSecret', 'PostgreSQL login (engine, host, port, dbname, username, password[, masterarn])', {
    secretStringTemplate: Token.asString(Fn.conditionIf(
      'HasDatabaseMasterSecret',
      Fn.sub('{"engine":"postgres","host":"${DatabaseHost}","port":${DatabasePort},"dbname":"${DatabaseName}","username":"${DatabaseUser}","masterarn":"${DatabaseMasterSecretArn}"}'),
      Fn.sub('{"engine":"postgres","host":"${DatabaseHost}","port":${DatabasePort},"dbname":"${DatabaseName}","username":"${DatabaseUser}"}'),
    )),
    generateStringKey: 'password',
    passwordLength: 32,
    excludePunctuation: true,
  });
  // The application role's login (the API functions'): alternating users, the owner as master.
  secret(stack, 'DatabaseAppSecret', 'PostgreSQL login of the application role (engine, host, port, dbname, username, password, masterarn)', {
    secretStringTemplate: Fn.sub('{"engine":"postgres","host":"${DatabaseHost}","port":${DatabasePort},"dbname":"${DatabaseName}","username":"${DatabaseAppUser}","masterarn":"${DatabaseSecret}"}'),
    generateStringKey: 'password',
    passwordLength: 32,
    excludePunctuation: true,
  });
  secret(stack, 'SigningKeysSecret', 'private token signing key set (written by the rotation function)', KEY_SET);
  secret(stack, 'VerificationKeysSecret', 'public JWK Set of the signing keys (written by the rotation function)', KEY_SET);
  secret(stack, 'DataKeysSecret', 'AES-256-GCM personal-data keys, versioned (hex)', { secretStringTemplate: '{"current":1}', generateStringKey: '1', passwordLength: 64, ...HEX }, true);
  secret(stack, 'BlindIndexKeySecret', 'blind index HMAC key (hex; never rotated online)', { passwordLength: 64, ...HEX }, true);
  secret(stack, 'SmokeAccountSecret', "the traffic hooks' smoke account (auth and the hooks derive its login and signing key)", {
    passwordLength: 48,
    excludePunctuation: true,
  });
}

/**
 * Rotation: the signing keys always (first rotation at deploy), both database logins when
 * enabled; the application role's once migrations (which create the role) have run.
 */
export function addRotation(stack: Stack, rotateFunctionArn: string, permission: CfnResource, migrations: CfnResource): void {
  const signing = new CfnRotationSchedule(stack, 'SigningKeysRotation', {
    secretId: Fn.ref('SigningKeysSecret'),
    rotationLambdaArn: rotateFunctionArn,
    rotateImmediatelyOnUpdate: true,
    rotationRules: { automaticallyAfterDays: Token.asNumber(Fn.ref('SigningKeyRotationDays')) },
  });
  signing.overrideLogicalId('SigningKeysRotation');
  signing.addResourceDependency(permission);

  // Both database logins rotate on one switch and interval; the application's after the
  // migrations, which create its role.
  const databaseRotation = (id: string, secret: string) => {
    const schedule = new CfnRotationSchedule(stack, id, {
      secretId: Fn.ref(secret),
      rotationLambdaArn: rotateFunctionArn,
      rotateImmediatelyOnUpdate: false,
      rotationRules: { automaticallyAfterDays: Token.asNumber(Fn.ref('DatabaseRotationDays')) },
    });
    schedule.overrideLogicalId(id);
    schedule.cfnOptions.condition = stack.node.findChild('RotateDatabase') as CfnCondition;
    schedule.addResourceDependency(permission);
    return schedule;
  };
  databaseRotation('DatabaseRotationSchedule', 'DatabaseSecret');
  databaseRotation('DatabaseAppRotationSchedule', 'DatabaseAppSecret').addResourceDependency(migrations);
}
