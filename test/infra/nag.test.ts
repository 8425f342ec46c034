/**
 * cdk-nag AWS Solutions checks run on every synthesis of the app: zero unacknowledged findings, and
 * every acknowledgement names one finding and carries a reason.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { App, Validations } from 'aws-cdk-lib';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { defineMarmotApp } from '../../infra/marmot-app.ts';
import { NAG_PACK } from '../../infra/nag.ts';
import {
  cdkJsonContext,
  FULL_CONTEXT,
  type MarmotSynthesis,
  synthesizeMarmot,
  temporaryDirectory,
} from './synthesize-marmot.ts';

/** Reasons shorter than this cannot say why a finding is acceptable. */
const MIN_REASON_LENGTH = 40;

const minimal: MarmotSynthesis = synthesizeMarmot({ handlers: [] });
const full: MarmotSynthesis = synthesizeMarmot({ context: FULL_CONTEXT });
after(() => {
  minimal.cleanup();
  full.cleanup();
});

function acknowledgements(app: App): { path: string; id: string; reason: string }[] {
  return app.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, string>).map(([id, reason]) => ({
          path: construct.node.path,
          id,
          reason,
        })),
      ),
  );
}

interface Finding {
  ruleName: string;
  reason?: string;
  violatingConstructs: { constructPath: string }[];
}

function nagReport(synthesis: MarmotSynthesis): { violations: Finding[]; suppressedViolations: Finding[] } {
  const report = JSON.parse(readFileSync(join(synthesis.outdir, 'validation-report.json'), 'utf8'));
  const plugin = report.pluginReports.find((p: { pluginName: string }) => p.pluginName === NAG_PACK);
  assert.ok(plugin, 'the AWS Solutions checks ran');
  return plugin;
}

describe('cdk-nag AwsSolutionsChecks', () => {
  for (const [name, synthesis] of [
    ['the minimal deployment', minimal],
    ['the deployment with every option on', full],
  ] as const) {
    it(`report no unacknowledged finding for ${name}`, () => {
      const report = nagReport(synthesis);
      assert.deepEqual(report.violations, []);
      for (const finding of report.suppressedViolations) assert.ok(finding.reason, finding.ruleName);
    });

    it(`have no stale acknowledgement in ${name}`, () => {
      const suppressed = nagReport(synthesis).suppressedViolations;
      const ours = acknowledgements(synthesis.app).filter(({ id }) => id.startsWith(`${NAG_PACK}::`));
      for (const { id, path } of ours) {
        const rule = id.slice(`${NAG_PACK}::`.length);
        const used = suppressed.some(
          (finding) =>
            finding.ruleName === rule &&
            finding.violatingConstructs.some((c) => c.constructPath.startsWith(`${path}/`)),
        );
        assert.ok(used, `${path}: ${rule} acknowledges nothing`);
      }
    });
  }

  it('fail the synthesis on a resource that breaks a rule', () => {
    const dir = temporaryDirectory('infra-nag-');
    try {
      const app = new App({
        context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] },
        outdir: join(dir, 'cdk.out'),
      });
      const stack = defineMarmotApp(app, { functionsRoot: join(dir, 'functions') });
      new Bucket(stack, 'CarelessBucket');
      assert.throws(() => app.synth(), /Validation failed/);
      const report = JSON.parse(readFileSync(join(dir, 'cdk.out', 'validation-report.json'), 'utf8'));
      const violations = report.pluginReports.flatMap(
        (plugin: { violations: { ruleName: string; violatingConstructs: { constructPath: string }[] }[] }) =>
          plugin.violations,
      );
      const careless = violations.filter((v: { violatingConstructs: { constructPath: string }[] }) =>
        v.violatingConstructs.some((c) => c.constructPath.includes('CarelessBucket')),
      );
      const rules = careless.map((v: { ruleName: string }) => v.ruleName);
      assert.ok(rules.includes('AwsSolutions-S1'), `server access logs rule fired: ${rules}`);
      assert.ok(rules.includes('AwsSolutions-S10'), `SSL-only rule fired: ${rules}`);
      assert.equal(careless.length, violations.length, 'nothing but the careless bucket is reported');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('acknowledgements', () => {
  // aws-cdk-lib acknowledges a few of its own CloudFormation-Validate rules; ours are all cdk-nag's.
  const everything = acknowledgements(full.app);
  const all = everything.filter(({ id }) => id.startsWith(`${NAG_PACK}::`));

  it('name one finding of the AWS Solutions pack each, in the qualified form', () => {
    assert.ok(all.length > 0);
    for (const { id, path } of all) {
      assert.match(id, new RegExp(`^${NAG_PACK}::AwsSolutions-[A-Z]+\\d+(\\[[^\\]]+\\])?$`), path);
    }
    const misplaced = everything.filter(({ id }) => id.includes('AwsSolutions-') && !id.startsWith(`${NAG_PACK}::`));
    assert.deepEqual(misplaced, []);
  });

  it('each give a reason', () => {
    for (const { id, reason, path } of all) {
      assert.ok(reason.length >= MIN_REASON_LENGTH, `${path} ${id}: "${reason}"`);
    }
  });

  it('acknowledge wildcard resources only for object prefixes, function versions and ecr:GetAuthorizationToken', () => {
    const wildcards = all.filter(({ id }) => id.includes('IAM5'));
    for (const { id } of wildcards) {
      assert.match(
        id,
        /IAM5\[Resource::(\*|<\w+\.Arn>\/(msg|outbound|spool|quarantine|spool\/ses-inbound)\/\*|<FunctionsExpire\w+\.Arn>:\*)\]$/,
      );
    }
    const acknowledgedRules = new Set(all.map(({ id }) => id.replace(/\[.*$/, '')));
    assert.deepEqual([...acknowledgedRules].sort(), [
      `${NAG_PACK}::AwsSolutions-EC23`,
      `${NAG_PACK}::AwsSolutions-ECS2`,
      `${NAG_PACK}::AwsSolutions-IAM5`,
      `${NAG_PACK}::AwsSolutions-SMG4`,
    ]);
  });
});
