/** The CDK app `cdk.json` runs: `npx cdk synth` / `npx cdk deploy` from the repository root. */
import { App } from 'aws-cdk-lib';
import { defineMarmotApp } from './marmot-app.ts';

defineMarmotApp(new App());
