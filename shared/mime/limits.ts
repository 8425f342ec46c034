/**
 * Bounds on what the MIME structure scanner follows and keeps. Messages come from the internet; these
 * keep the work and the memory per message bounded whatever the message holds.
 */

/**
 * Levels of MIME entities, the message itself included (Dovecot's default max_nested_mime_parts). A
 * multipart or message/rfc822 whose children would be deeper is reported as application/octet-stream.
 */
export const MAX_MIME_NESTING = 100;

/** Entities per message (Dovecot's default max_total_mime_parts); boundaries after that are not followed. */
export const MAX_MIME_PARTS = 10_000;

/**
 * Bytes of one entity's header section kept for parsing. The rest of an oversized header is still counted
 * in the offsets but its fields are not read.
 */
export const MAX_HEADER_SECTION_BYTES = 512 * 1024;

/** Longest boundary we follow; RFC 2046 §5.1.1 allows 70 characters, and some mailers send a few more. */
export const MAX_BOUNDARY_BYTES = 200;

/** References kept for THREAD (RFC 5256 §2.2 needs the chain, not an unbounded list). */
export const MAX_REFERENCES = 1000;
