/**
 * Least privilege across every role the stack creates (the deployment with every option on): explicit
 * actions only, `*` as a resource only where the API has no resource-level permissions, no managed
 * policies, one trusted service per role.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import {
  asList,
  FULL_CONTEXT,
  type MarmotSynthesis,
  synthesizeMarmot,
  type TemplateJson,
} from './synthesize-marmot.ts';

/** Actions whose API accepts no resource but `*`. */
const RESOURCELESS_ACTIONS = new Set(['ecr:GetAuthorizationToken']);

const full: MarmotSynthesis = synthesizeMarmot({ context: FULL_CONTEXT });
after(() => full.cleanup());

const resources = Object.entries(full.json.Resources);
const roles = resources.filter(([, r]) => r.Type === 'AWS::IAM::Role');

/** Every identity-policy statement, with where it comes from. */
const statements: { source: string; statement: TemplateJson }[] = resources.flatMap(([id, r]) => {
  if (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy') {
    return asList(r.Properties.PolicyDocument.Statement).map((statement) => ({ source: id, statement }));
  }
  if (r.Type === 'AWS::IAM::Role') {
    return (r.Properties.Policies ?? []).flatMap((p: TemplateJson) =>
      asList(p.PolicyDocument.Statement).map((statement) => ({ source: id, statement })),
    );
  }
  return [];
});

/** The literal text of a resource: wildcards can only sit in the literal parts of an ARN. */
function literalParts(resource: unknown): string[] {
  if (typeof resource === 'string') return [resource];
  if (Array.isArray(resource)) return resource.flatMap(literalParts);
  if (resource && typeof resource === 'object') {
    const join = (resource as Record<string, unknown>)['Fn::Join'];
    if (Array.isArray(join)) return literalParts(join[1]);
  }
  return [];
}

describe('IAM', () => {
  it('creates roles and statements to check', () => {
    assert.ok(roles.length >= 9, `roles: ${roles.length}`);
    assert.ok(statements.length > 20);
  });

  it('grants no wildcard actions and uses no NotAction/NotResource', () => {
    for (const { source, statement } of statements) {
      assert.equal(statement.NotAction, undefined, source);
      assert.equal(statement.NotResource, undefined, source);
      for (const action of asList<string>(statement.Action)) {
        assert.doesNotMatch(action, /\*/, `${source}: ${action}`);
      }
    }
  });

  it('uses a "*" resource only for actions that accept nothing else', () => {
    for (const { source, statement } of statements) {
      if (!asList(statement.Resource).includes('*')) continue;
      for (const action of asList<string>(statement.Action)) {
        assert.ok(RESOURCELESS_ACTIONS.has(action), `${source}: ${action} on "*"`);
      }
    }
  });

  it('puts wildcards in resources only for object keys under a prefix or a function qualifier', () => {
    for (const { source, statement } of statements) {
      for (const resource of asList(statement.Resource)) {
        if (resource === '*') continue;
        for (const part of literalParts(resource)) {
          if (!part.includes('*')) continue;
          assert.match(part, /^(\/(msg|outbound|spool|quarantine|spool\/ses-inbound)\/\*|:\*)$/, `${source}: ${part}`);
        }
      }
    }
  });

  it('attaches no managed policies (AWS managed or otherwise)', () => {
    for (const [id, role] of roles) assert.equal(role.Properties.ManagedPolicyArns, undefined, id);
    assert.equal(resources.filter(([, r]) => r.Type === 'AWS::IAM::ManagedPolicy').length, 0);
  });

  it('lets each role be assumed by exactly one AWS service', () => {
    for (const [id, role] of roles) {
      const trust = asList(role.Properties.AssumeRolePolicyDocument.Statement);
      assert.equal(trust.length, 1, id);
      assert.equal(trust[0].Action, 'sts:AssumeRole', id);
      assert.deepEqual(Object.keys(trust[0].Principal), ['Service'], id);
      assert.match(trust[0].Principal.Service, /^[a-z-]+\.amazonaws\.com$/, id);
    }
  });

  it('gives no role IAM, STS or KMS administration actions', () => {
    for (const { source, statement } of statements) {
      for (const action of asList<string>(statement.Action)) {
        assert.doesNotMatch(action, /^(iam|sts|organizations):/, `${source}: ${action}`);
        assert.doesNotMatch(
          action,
          /^kms:(Create|Delete|Disable|Put|Schedule|Update|Revoke|Retire)/,
          `${source}: ${action}`,
        );
      }
    }
  });
});
