/**
 * Every size limit of the SASL layer in one place. Client input beyond these is malformed: the
 * exchange fails with `malformed` before anything is allocated in proportion to it.
 */

/** Largest decoded client response any mechanism accepts (an NTLM AUTHENTICATE message is the largest). */
export const MAX_SASL_RESPONSE_BYTES = 8 * 1024;
/** The same limit as base64 text, for listeners to stop reading a line early. */
export const MAX_SASL_RESPONSE_BASE64_CHARS = Math.ceil(MAX_SASL_RESPONSE_BYTES / 3) * 4;

/** RFC 4616 §2 bounds each PLAIN field at 255 octets; names are held to that everywhere. */
export const MAX_IDENTITY_BYTES = 255;
/** Passwords may be longer than 255 octets; beyond this they are refused as malformed. */
export const MAX_PASSWORD_BYTES = 1024;

/** SCRAM client nonce (printable characters, RFC 5802 §5.1 `c-nonce`). */
export const MAX_SCRAM_NONCE_CHARS = 256;
/** DIGEST-MD5 directives in one response (RFC 2831 defines 13). */
export const MAX_DIGEST_DIRECTIVES = 24;
/** DIGEST-MD5 client nonce. */
export const MAX_DIGEST_CNONCE_CHARS = 256;
/** Any string field of an NTLM message (user, domain, workstation) after decoding. */
export const MAX_NTLM_STRING_BYTES = 512;
