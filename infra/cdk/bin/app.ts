#!/usr/bin/env node
// `cdk synth` / `cdk deploy`: one stack, named by the `stackName` context (default "redline").
import { App } from 'aws-cdk-lib';
import { RedlineStack } from '../lib/stack';

const app = new App();
const stackName = (app.node.tryGetContext('stackName') as string | undefined) ?? 'redline';
new RedlineStack(app, 'Redline', { stackName });
app.synth();
