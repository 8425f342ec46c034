/**
 * SASLprep (RFC 4013), the stringprep (RFC 3454) profile SCRAM and PLAIN apply to user names and
 * passwords so that the same password typed as different Unicode sequences compares equal.
 *
 * Implemented: the mapping (RFC 4013 §2.1), NFKC (§2.2), the prohibited tables (§2.3), the bidi rule
 * (RFC 3454 §6) and unassigned code points (§2.5). Two approximations, both documented where they are:
 * "unassigned" is judged by the Unicode version JavaScript ships rather than Unicode 3.2 (so code points
 * assigned since 3.2 are accepted), and LCat (table D.2) is approximated by letters outside the
 * right-to-left scripts. Table D.1 (RandALCat) is exact.
 */

export class SaslprepError extends Error {
  override name = 'SaslprepError';
}

/** RFC 3454 table C.1.2: non-ASCII space characters, mapped to SPACE (RFC 4013 §2.1). */
const NON_ASCII_SPACE = /[\u00a0\u1680\u2000-\u200b\u202f\u205f\u3000]/gu;
/** RFC 3454 table B.1: commonly mapped to nothing. */
// biome-ignore lint/suspicious/noMisleadingCharacterClass: each listed code point is deleted on its own
const MAPPED_TO_NOTHING = /[\u00ad\u034f\u1806\u180b-\u180d\u200b-\u200d\u2060\ufe00-\ufe0f\ufeff]/gu;

/** RFC 4013 §2.3: tables C.1.2, C.2.1, C.2.2, C.3, C.4, C.5, C.6, C.7, C.8, C.9. */
const PROHIBITED = new RegExp(
  [
    '[\\u00a0\\u1680\\u2000-\\u200b\\u202f\\u205f\\u3000]', // C.1.2
    '[\\u0000-\\u001f\\u007f]', // C.2.1
    '[\\u0080-\\u009f\\u06dd\\u070f\\u180e\\u200c\\u200d\\u2028\\u2029\\u2060-\\u2063\\u206a-\\u206f\\ufeff\\ufff9-\\ufffc\\u{1d173}-\\u{1d17a}]', // C.2.2
    '[\\ue000-\\uf8ff\\u{f0000}-\\u{ffffd}\\u{100000}-\\u{10fffd}]', // C.3
    '[\\ufdd0-\\ufdef\\ufffe\\uffff\\u{1fffe}\\u{1ffff}\\u{2fffe}\\u{2ffff}\\u{3fffe}\\u{3ffff}\\u{4fffe}\\u{4ffff}\\u{5fffe}\\u{5ffff}\\u{6fffe}\\u{6ffff}\\u{7fffe}\\u{7ffff}\\u{8fffe}\\u{8ffff}\\u{9fffe}\\u{9ffff}\\u{afffe}\\u{affff}\\u{bfffe}\\u{bffff}\\u{cfffe}\\u{cffff}\\u{dfffe}\\u{dffff}\\u{efffe}\\u{effff}\\u{ffffe}\\u{fffff}\\u{10fffe}\\u{10ffff}]', // C.4
    '[\\ud800-\\udfff]', // C.5 (lone surrogates; pairs are read as code points under /u)
    '[\\ufff9-\\ufffd]', // C.6
    '[\\u2ff0-\\u2ffb]', // C.7
    '[\\u0340\\u0341\\u200e\\u200f\\u202a-\\u202e\\u206a-\\u206f]', // C.8
    '[\\u{e0001}\\u{e0020}-\\u{e007f}]', // C.9
  ].join('|'),
  'u',
);

/** RFC 3454 table D.1: characters with bidirectional property R or AL. */
const RAND_AL_CAT =
  /[\u05be\u05c0\u05c3\u05d0-\u05ea\u05f0-\u05f4\u061b\u061f\u0621-\u063a\u0640-\u064a\u066d-\u066f\u0671-\u06d5\u06dd\u06e5\u06e6\u06fa-\u06fe\u0700-\u070d\u0710\u0712-\u072c\u0780-\u07a5\u07b1\u200f\ufb1d\ufb1f-\ufb28\ufb2a-\ufb36\ufb38-\ufb3c\ufb3e\ufb40\ufb41\ufb43\ufb44\ufb46-\ufbb1\ufbd3-\ufd3d\ufd50-\ufd8f\ufd92-\ufdc7\ufdf0-\ufdfc\ufe70-\ufe74\ufe76-\ufefc]/u;

/**
 * Approximates RFC 3454 table D.2 (bidirectional property L): letters and spacing marks outside the
 * right-to-left scripts. Table D.2 is several hundred ranges; this errs only on rare characters.
 */
const L_CAT =
  /(?![\p{Script=Hebrew}\p{Script=Arabic}\p{Script=Syriac}\p{Script=Thaana}\p{Script=Nko}\p{Script=Samaritan}\p{Script=Mandaic}])[\p{L}\p{Mc}]/u;

const UNASSIGNED = /\p{Cn}/u;

export interface SaslprepOptions {
  /**
   * Stored strings (a password being set) reject unassigned code points; queries (a password being
   * checked) allow them (RFC 3454 §7).
   */
  allowUnassigned: boolean;
}

export function saslprep(input: string, options: SaslprepOptions): string {
  // U+200B is in both tables; deleting first (as common implementations do) removes it.
  const mapped = input.replace(MAPPED_TO_NOTHING, '').replace(NON_ASCII_SPACE, ' ');
  const normalized = mapped.normalize('NFKC');
  if (PROHIBITED.test(normalized)) throw new SaslprepError('contains a prohibited character');
  if (!options.allowUnassigned && UNASSIGNED.test(normalized)) {
    throw new SaslprepError('contains an unassigned code point');
  }
  checkBidi(normalized);
  return normalized;
}

/** RFC 3454 §6: a string with any RandALCat character has no LCat and starts and ends with RandALCat. */
function checkBidi(text: string): void {
  if (!RAND_AL_CAT.test(text)) return;
  if (L_CAT.test(text)) throw new SaslprepError('mixes left-to-right and right-to-left characters');
  const codePoints = [...text];
  if (!RAND_AL_CAT.test(codePoints[0]!) || !RAND_AL_CAT.test(codePoints[codePoints.length - 1]!)) {
    throw new SaslprepError('right-to-left text must start and end with a right-to-left character');
  }
}
