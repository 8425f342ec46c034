import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { md4 } from '../../../shared/sasl/md4.ts';
import { hmacMd5FromStates, hmacMd5States, md5ResumeFrom, md5StateAfterBlock } from '../../../shared/sasl/md5-state.ts';

describe('MD4', () => {
  it('passes the RFC 1320 §A.5 test suite', () => {
    const suite: [string, string][] = [
      ['', '31d6cfe0d16ae931b73c59d7e0c089c0'],
      ['a', 'bde52cb31de33e46245e05fbdbd6fb24'],
      ['abc', 'a448017aaf21d8525fc10ae87aa6729d'],
      ['message digest', 'd9130a8164549fe818874806e1c7014b'],
      ['abcdefghijklmnopqrstuvwxyz', 'd79e1c308aa5bbcdeea8ed63df412da9'],
      ['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789', '043f8582f241db351ce627e153e7f0e4'],
      ['1234567890'.repeat(8), 'e33b4ddc9c38f2199c3e7b164fcc0536'],
    ];
    for (const [input, digest] of suite) assert.equal(md4(Buffer.from(input)).toString('hex'), digest, input);
  });

  it('gives the MS-NLMP §4.2.2.1.2 NT hash of "Password"', () => {
    assert.equal(md4(Buffer.from('Password', 'utf16le')).toString('hex'), 'a4f49c406510bdcab6824ee7c30fd852');
  });
});

describe('MD5 with exported state', () => {
  it('passes the RFC 1321 §A.5 test suite when resumed from the initial state', () => {
    const initial = Buffer.from('0123456789abcdeffedcba9876543210', 'hex');
    const suite: [string, string][] = [
      ['', 'd41d8cd98f00b204e9800998ecf8427e'],
      ['a', '0cc175b9c0f1b6a831c399e269772661'],
      ['abc', '900150983cd24fb0d6963f7d28e17f72'],
      ['message digest', 'f96b697d7cb7938d525a2f31aaf161d0'],
      ['1234567890'.repeat(8), '57edf4a22be3c955ac49da2e2107b67a'],
    ];
    for (const [input, digest] of suite) {
      assert.equal(md5ResumeFrom(initial, 0, Buffer.from(input)).toString('hex'), digest, input);
    }
  });

  it('resuming after a block equals hashing block + rest with node', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 64, maxLength: 64 }), fc.uint8Array({ maxLength: 300 }), (block, rest) => {
        const resumed = md5ResumeFrom(md5StateAfterBlock(block), 64, rest);
        assert.deepEqual(resumed, createHash('md5').update(block).update(rest).digest());
      }),
    );
  });

  it('HMAC-MD5 from precomputed states equals node HMAC, for short and over-long keys', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), fc.uint8Array({ maxLength: 200 }), (key, message) => {
        const states = hmacMd5States(key);
        assert.deepEqual(hmacMd5FromStates(states, message), createHmac('md5', key).update(message).digest());
      }),
    );
  });
});
