/**
 * The "base subject" of RFC 5256 §2.1, which SORT SUBJECT orders by and THREAD=ORDEREDSUBJECT and
 * THREAD=REFERENCES group by: the subject without reply/forward prefixes, list tags and "(fwd)" trailers.
 *
 * Input is the subject already decoded from RFC 2047 encoded words (the index keeps it decoded).
 * The result is upper-cased ASCII-wise, so comparing base subjects is the i;ascii-casemap collation the
 * RFC asks for (§2.1 step 7 leaves the comparison to the collation; §3 names i;ascii-casemap).
 */

/** subj-blob: "[" *BLOBCHAR "]" *WSP, where BLOBCHAR is anything but "[" and "]". */
const LEADING_BLOB = /^\[[^[\]]*\][ ]*/;
/** subj-refwd: ("re" / ("fw" ["d"])) *WSP [subj-blob] ":" */
const LEADING_REFWD = /^(?:RE|FWD?)[ ]*(?:\[[^[\]]*\][ ]*)?:/;
/** subj-trailer: "(fwd)" / WSP */
const TRAILER = /(?:\(FWD\)|[ ])$/;

export function baseSubject(subject: string): string {
  let text = normalize(subject);
  for (;;) {
    // Step 2: strip trailers.
    while (TRAILER.test(text)) text = text.replace(TRAILER, '');
    // Steps 3 to 5: strip leaders, then a leading blob if something remains after it.
    for (;;) {
      const before = text;
      text = stripLeader(text);
      const blob = LEADING_BLOB.exec(text);
      if (blob && blob[0].length < text.length) text = text.slice(blob[0].length);
      if (text === before) break;
    }
    // Step 6: "[fwd: ...]" wrapping.
    if (text.startsWith('[FWD:') && text.endsWith(']')) {
      text = text.slice(5, -1);
      continue;
    }
    return text;
  }
}

/** subj-leader: (*subj-blob subj-refwd) / WSP, removed repeatedly (§2.1 step 3). */
function stripLeader(text: string): string {
  for (;;) {
    if (text.startsWith(' ')) {
      text = text.slice(1);
      continue;
    }
    let rest = text;
    for (let blob = LEADING_BLOB.exec(rest); blob; blob = LEADING_BLOB.exec(rest)) rest = rest.slice(blob[0].length);
    const refwd = LEADING_REFWD.exec(rest);
    if (!refwd) return text;
    text = rest.slice(refwd[0].length);
  }
}

/**
 * True when the subject marks a reply or forward (§2.1 notes: a subject that had "Re:"/"Fwd:"/"(fwd)"
 * removed, or was wrapped in "[fwd: ]"); THREAD=REFERENCES uses it when merging by subject (RFC 5256 §4 step 5).
 */
export function isReplyOrForward(subject: string): boolean {
  const text = normalize(subject).trim();
  if (/\(FWD\)$/.test(text)) return true;
  let rest = text;
  for (;;) {
    const blob = LEADING_BLOB.exec(rest);
    if (!blob || blob[0].length === rest.length) break;
    rest = rest.slice(blob[0].length);
  }
  return LEADING_REFWD.test(rest) || (rest.startsWith('[FWD:') && rest.endsWith(']'));
}

/** §2.1 step 1 (after encoded-word decoding): tabs and continuations become spaces, runs of spaces one; ASCII upper case. */
function normalize(subject: string): string {
  return subject
    .replace(/[\r\n\t]+/g, ' ')
    .replace(/ {2,}/g, ' ')
    .replace(/[a-z]+/g, (letters) => letters.toUpperCase());
}
