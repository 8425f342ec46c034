/**
 * A process-wide cache of messages' top-level header sections by blob key. Clients fetch header fields
 * (`BODY.PEEK[HEADER.FIELDS (...)]`) of many messages at a time, and several clients of one user fetch
 * the same ones; blobs never change, so a header read once can serve every later request without
 * opening the blob again (Dovecot's cache file plays this part). Bounded by bytes, least recently used
 * dropped first; headers larger than a limit are never cached.
 */

/** Bytes of headers kept in total. */
export const MAX_CACHED_HEADER_BYTES = 32 * 1024 * 1024;
/** A header section larger than this is read from the blob every time. */
export const MAX_CACHED_HEADER_SECTION_BYTES = 64 * 1024;

export class HeaderCache {
  private readonly entries = new Map<string, Buffer>();
  private bytes = 0;

  constructor(private readonly maxBytes = MAX_CACHED_HEADER_BYTES) {}

  /** The header section of the blob, from the cache or read with `read` (and then kept). */
  async get(blobKey: string, length: number, read: () => Promise<Buffer>): Promise<Buffer> {
    const cached = this.entries.get(blobKey);
    if (cached) {
      this.entries.delete(blobKey);
      this.entries.set(blobKey, cached);
      return cached;
    }
    const header = await read();
    if (length <= MAX_CACHED_HEADER_SECTION_BYTES && !this.entries.has(blobKey)) {
      this.entries.set(blobKey, header);
      this.bytes += header.length;
      for (const [key, oldest] of this.entries) {
        if (this.bytes <= this.maxBytes) break;
        this.entries.delete(key);
        this.bytes -= oldest.length;
      }
    }
    return header;
  }
}
