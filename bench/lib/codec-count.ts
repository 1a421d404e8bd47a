import type { Payload, PayloadCodec } from '@temporalio/common';

/** What a payload codec did in one process: calls, payloads and bytes each way, and the time spent in them. */
export interface CodecCounts {
  encodeCalls: number;
  encodedPayloads: number;
  /** Bytes of the payloads handed to encode (before encryption). */
  encodedBytesIn: number;
  encodeMs: number;
  /** Encoded payloads by their `encoding` metadata (json/plain, binary/null …): what the codec is handed. */
  encodedByEncoding: Record<string, number>;
  decodeCalls: number;
  decodedPayloads: number;
  /** Bytes of the payloads handed to decode (as stored: encrypted, or in clear when not ours). */
  decodedBytesIn: number;
  decodeMs: number;
}

export const noCodecCounts = (): CodecCounts => ({
  encodeCalls: 0,
  encodedPayloads: 0,
  encodedBytesIn: 0,
  encodeMs: 0,
  encodedByEncoding: {},
  decodeCalls: 0,
  decodedPayloads: 0,
  decodedBytesIn: 0,
  decodeMs: 0,
});

/** Size of a payload as the codec sees it: its data plus its metadata keys and values. */
export function payloadBytes(payload: Payload): number {
  let bytes = payload.data?.length ?? 0;
  for (const [key, value] of Object.entries(payload.metadata ?? {})) bytes += key.length + (value?.length ?? 0);
  return bytes;
}

type Codec = Pick<PayloadCodec, 'encode' | 'decode'>;

/**
 * Wraps `target`'s encode and decode (an instance, or a class prototype so every instance of the class is counted,
 * e.g. in a worker built elsewhere) so each call adds to `counts`: calls, payloads, bytes, and the milliseconds until
 * the call returned its promise. Our codec does all of its work before that (no await inside), so the time is the
 * codec's own, not the event loop's. Answers exactly what the wrapped codec answers.
 */
export function countCodec(target: Codec, counts: () => CodecCounts): void {
  const encode = target.encode;
  const decode = target.decode;
  target.encode = function (this: unknown, payloads: Payload[]) {
    const c = counts();
    const started = performance.now();
    const result = encode.call(this, payloads);
    c.encodeMs += performance.now() - started;
    c.encodeCalls++;
    c.encodedPayloads += payloads.length;
    for (const p of payloads) {
      c.encodedBytesIn += payloadBytes(p);
      const encoding = p.metadata?.encoding ? Buffer.from(p.metadata.encoding).toString('utf8') : '(none)';
      c.encodedByEncoding[encoding] = (c.encodedByEncoding[encoding] ?? 0) + 1;
    }
    return result;
  };
  target.decode = function (this: unknown, payloads: Payload[]) {
    const c = counts();
    const started = performance.now();
    const result = decode.call(this, payloads);
    c.decodeMs += performance.now() - started;
    c.decodeCalls++;
    c.decodedPayloads += payloads.length;
    for (const p of payloads) c.decodedBytesIn += payloadBytes(p);
    return result;
  };
}
