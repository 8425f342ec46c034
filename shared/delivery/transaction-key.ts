/**
 * The key that makes delivery idempotent per SMTP transaction.
 *
 * The problem: we answer 250 only after every write, so a crash (or a lost connection) between the last
 * write and the 250 makes the sender retry a message we already stored. The retry arrives as a new SMTP
 * session with nothing to connect it to the first attempt except its content, so the key must be a
 * function of what the sender sends again, and of nothing we add:
 *
 *   key = SHA-256( envelope sender, SHA-256(message content as received) )
 *
 * and each mailbox keeps one delivery marker per key (shared/mailbox), so a retry finds the first
 * attempt's entry and adds nothing, in every mailbox, whatever subset or order of recipients it comes
 * with. Our own additions (Received: with its timestamp, the spool blob's name, our transaction id)
 * differ between attempts and are deliberately left out.
 *
 * The price: two different transactions from the same sender with byte-identical content are one
 * message to a mailbox. RFC 5322 §3.6 makes Date mandatory and Message-ID expected, so distinct messages
 * practically never collide; a sender that really sends the same bytes twice gets one copy, which is
 * what duplicate suppression by Message-ID (done by many providers) does anyway. Markers are trimmed by
 * the expire job after any sender's retry window (RFC 5321 §4.5.4.1: give up after 4-5 days).
 */
import { createHash } from 'node:crypto';

export function transactionKey(mailFrom: string, contentSha256: string): string {
  return createHash('sha256').update(mailFrom).update('\u0000').update(contentSha256).digest('base64url');
}

/** The outbound-queue id for the remote recipients of one transaction (same retry logic). */
export function outboundQueueId(key: string, remoteRecipients: readonly string[]): string {
  const hash = createHash('sha256').update(key);
  for (const recipient of [...remoteRecipients].sort()) hash.update('\u0000').update(recipient);
  return hash.digest('base64url');
}
