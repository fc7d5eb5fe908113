/**
 * multipart/form-data decoding shared by the protocol simulators (Telegram Bot API, Discord).
 *
 * Node's built-in fetch (undici) already ships a spec-compliant multipart parser behind
 * `Request#formData()`, so no dependency is needed: the raw body is wrapped in a Request and
 * parsed there. Parts come back in wire order, text fields as strings, file parts with their
 * bytes, file name and declared Content-Type.
 */

export interface MultipartField {
  kind: 'field';
  name: string;
  value: string;
}

export interface MultipartFile {
  kind: 'file';
  name: string;
  filename: string;
  /** The part's Content-Type as declared; undici reports a part without one as `text/plain`. */
  type: string;
  data: Buffer;
}

export type MultipartPart = MultipartField | MultipartFile;

/** The media type of a Content-Type header, lower-cased, without parameters. */
export function mediaTypeOf(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

/**
 * Parses a multipart/form-data body. `contentType` is the request's full Content-Type header
 * (the boundary parameter is needed). Throws on a malformed body or a missing boundary.
 */
export async function parseMultipart(body: Buffer, contentType: string): Promise<MultipartPart[]> {
  const form = await new Request('http://sim.invalid/', {
    method: 'POST',
    headers: { 'content-type': contentType },
    body: new Uint8Array(body),
  }).formData();
  const parts: MultipartPart[] = [];
  for (const [name, value] of form) {
    if (typeof value === 'string') {
      parts.push({ kind: 'field', name, value });
    } else {
      parts.push({ kind: 'file', name, filename: value.name, type: value.type, data: Buffer.from(await value.arrayBuffer()) });
    }
  }
  return parts;
}
