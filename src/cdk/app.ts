/**
 * Example CDK app, run by `npx cdk synth` from the repository root (see cdk.json). Set SKYPOOL_ENGINE_API_CIDR to
 * the address skypool runs from before a deploy.
 */
import { buildExampleApp } from './example.js';

buildExampleApp(undefined, process.env.SKYPOOL_ENGINE_API_CIDR).app.synth();
