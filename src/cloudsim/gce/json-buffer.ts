/**
 * Builds a response body from ASCII strings and ready-made UTF-8 buffers with one allocation. List pages are
 * assembled this way: the JSON shared by the VMs of one launch (labels, metadata with user-data) is encoded
 * once, and copying it is far cheaper than flattening a long concatenated string per page.
 */
export class JsonBuffer {
  private readonly parts: (string | Buffer)[] = [];
  private size = 0;

  /** `text` must be ASCII (names, ids, addresses, links: validated upstream). */
  text(text: string): this {
    this.parts.push(text);
    this.size += text.length;
    return this;
  }

  bytes(bytes: Buffer): this {
    this.parts.push(bytes);
    this.size += bytes.length;
    return this;
  }

  build(): Buffer {
    const out = Buffer.allocUnsafe(this.size);
    let offset = 0;
    for (const p of this.parts) offset += typeof p === 'string' ? out.write(p, offset, 'latin1') : p.copy(out, offset);
    return out;
  }
}
