import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { decodeTransferEncoding } from '../../../shared/mime/transfer-encoding.ts';

const decode = (text: string, encoding: string) => decodeTransferEncoding(Buffer.from(text, 'latin1'), encoding);

describe('Content-Transfer-Encoding (RFC 2045 §6)', () => {
  test('identity encodings in any case', () => {
    for (const encoding of ['7bit', '8BIT', 'Binary'])
      assert.deepEqual(decode('a\r\nb', encoding), Buffer.from('a\r\nb'));
  });

  test('base64, with line breaks and junk skipped', () => {
    assert.deepEqual(decode('SGVs\r\nbG8=', 'BASE64'), Buffer.from('Hello'));
    assert.deepEqual(decode('SGVs bG8!!', 'base64'), Buffer.from('Hello'));
  });

  test('quoted-printable: escapes, soft breaks, transport blanks, stray "="', () => {
    assert.deepEqual(decode('caf=C3=A9=\r\n au lait  \r\nx', 'quoted-printable'), Buffer.from('café au lait\r\nx'));
    assert.deepEqual(decode('a=\nb= \r\nc', 'quoted-printable'), Buffer.from('abc'));
    assert.deepEqual(decode('100% =ZZ sure=', 'quoted-printable'), Buffer.from('100% =ZZ sure'));
    assert.deepEqual(decode('tab\t', 'quoted-printable'), Buffer.from('tab'));
  });

  test('unknown encodings are refused', () => {
    assert.equal(decode('begin 644 a.txt', 'x-uuencode'), undefined);
  });

  test('round trip with Buffer base64 for any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const data = Buffer.from(bytes);
        const wrapped = data.toString('base64').replace(/.{76}/g, '$&\r\n');
        assert.deepEqual(decodeTransferEncoding(Buffer.from(wrapped), 'base64'), data);
      }),
    );
  });
});
