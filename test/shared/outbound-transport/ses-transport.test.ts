/**
 * The SES transport against the SES v2 emulator started in this process: raw messages accepted with the
 * envelope recipients as destinations (batched by SES's limit), and a message SES refuses classified as
 * permanent, an unreachable endpoint as temporary.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import { SesTransport } from '../../../shared/outbound-transport/ses-transport.ts';
import { EMULATOR_CREDENTIALS, type SesEmulator, startSes } from './ses-emulator.ts';

const MESSAGE = Buffer.from(
  'From: Alice <alice@sender.example>\r\nTo: bob@remote.example\r\nSubject: via SES\r\n\r\nHello over SES\r\n',
);

describe('SES transport', () => {
  let ses: SesEmulator;
  let transport: SesTransport;

  before(async () => {
    ses = await startSes();
    transport = new SesTransport({
      region: 'eu-west-1',
      endpoint: ses.endpoint,
      credentials: EMULATOR_CREDENTIALS,
      configurationSet: 'marmot',
    });
  });
  after(async () => {
    await transport.close();
    await ses.close();
  });
  beforeEach(async () => {
    await ses.clear();
  });

  test('a raw message is accepted for every envelope recipient', async () => {
    const outcomes = await transport.send({
      id: 'a'.repeat(20),
      envelope: { mailFrom: 'alice@sender.example', recipients: ['bob@remote.example', 'carol@remote.example'] },
      message: MESSAGE,
    });
    assert.deepEqual(
      outcomes.map((o) => [o.recipient, o.status]),
      [
        ['bob@remote.example', 'accepted'],
        ['carol@remote.example', 'accepted'],
      ],
    );
    const [email] = await ses.emails();
    assert.equal(email?.subject, 'via SES');
    assert.equal(email?.from, '"Alice" <alice@sender.example>');
    assert.equal(email?.body.text?.trim(), 'Hello over SES');
    assert.match(outcomes[0]!.reply, new RegExp(`as ${email?.messageId}$`));
  });

  test('more recipients than SES takes per call go out in batches of 50', async () => {
    const recipients = Array.from({ length: 120 }, (_, i) => `r${i}@remote.example`);
    const outcomes = await transport.send({
      id: 'b'.repeat(20),
      envelope: { mailFrom: 'alice@sender.example', recipients },
      message: MESSAGE,
    });
    assert.equal(outcomes.length, 120);
    assert.ok(outcomes.every((o) => o.status === 'accepted'));
    assert.equal((await ses.emails()).length, 3);
  });

  test("an error without SES's error type is retried, never bounced", async () => {
    // The emulator refuses a raw message without From with a bare 400 (real SES names its errors), which
    // the SDK reports as "Unknown": not known to be the message's fault, so temporary.
    const [outcome] = await transport.send({
      id: 'c'.repeat(20),
      envelope: { mailFrom: 'alice@sender.example', recipients: ['bob@remote.example'] },
      message: Buffer.from('Subject: no sender at all\r\n\r\nbody\r\n'),
    });
    assert.equal(outcome?.status, 'temporary', outcome?.reply);
    assert.match(outcome?.reply ?? '', /Bad Request Exception/);
    assert.deepEqual(await ses.emails(), []);
  });

  test('MessageRejected and BadRequestException are permanent; a paused account or unverified MAIL FROM is not', async () => {
    // A stand-in answering as SES's REST-JSON API does: the error type in x-amzn-ErrorType.
    let errorType = 'MessageRejected';
    const standIn = createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        response.writeHead(400, {
          'content-type': 'application/json',
          'x-amzn-errortype': errorType,
        });
        response.end(JSON.stringify({ message: `${errorType} from the stand-in` }));
      });
    });
    await new Promise<void>((resolve) => standIn.listen(0, '127.0.0.1', resolve));
    const client = new SesTransport({
      region: 'eu-west-1',
      endpoint: `http://127.0.0.1:${(standIn.address() as AddressInfo).port}`,
      credentials: EMULATOR_CREDENTIALS,
    });
    try {
      const statusFor = async (type: string) => {
        errorType = type;
        const [outcome] = await client.send({
          id: 'e'.repeat(20),
          envelope: { mailFrom: 'alice@sender.example', recipients: ['bob@remote.example'] },
          message: MESSAGE,
        });
        return [outcome?.status, outcome?.enhancedStatus, outcome?.reply];
      };
      assert.deepEqual(await statusFor('MessageRejected'), [
        'permanent',
        '5.7.1',
        'SES MessageRejected: MessageRejected from the stand-in',
      ]);
      assert.equal((await statusFor('BadRequestException'))[0], 'permanent');
      assert.equal((await statusFor('SendingPausedException'))[0], 'temporary');
      assert.equal((await statusFor('MailFromDomainNotVerifiedException'))[0], 'temporary');
    } finally {
      await client.close();
      standIn.closeAllConnections();
      await new Promise<void>((resolve) => standIn.close(() => resolve()));
    }
  });

  test('an unreachable SES endpoint is a temporary failure', async () => {
    const unreachable = new SesTransport({
      region: 'eu-west-1',
      endpoint: 'http://127.0.0.1:9',
      credentials: EMULATOR_CREDENTIALS,
    });
    try {
      const [outcome] = await unreachable.send({
        id: 'd'.repeat(20),
        envelope: { mailFrom: 'alice@sender.example', recipients: ['bob@remote.example'] },
        message: MESSAGE,
      });
      assert.equal(outcome?.status, 'temporary');
    } finally {
      await unreachable.close();
    }
  });
});
