import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import {
  METADATA_ENCODING_KEY,
  ValueError,
  type DataConverter,
  type Payload,
  type PayloadCodec,
} from '@temporalio/common';
import { temporal } from '@temporalio/proto';

/** Metadata `encoding` of an encrypted payload: the convention of Temporal's encryption samples (all SDKs). */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
/** Metadata key naming the key a payload was encrypted with, as in Temporal's encryption samples. */
export const METADATA_ENCRYPTION_KEY_ID = 'encryption-key-id';

const CIPHER = 'aes-256-gcm';
const KEY_LENGTH = 32;
const IV_LENGTH = 12;
const TAG_LENGTH = 16;
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;

/**
 * The payload encryption keys: `current` encrypts every new payload; every key in `keys` (the current one included)
 * can still decrypt, so a rotation keeps older histories readable for as long as their key is listed.
 */
export interface CodecKeys {
  /** Id of the key used for encryption; written into each payload's `encryption-key-id` metadata. */
  current: string;
  /** Key id → 32-byte AES-256 key. */
  keys: Record<string, Buffer>;
}

/**
 * Parses a key list from configuration, `k2:BASE64KEY,k1:BASE64KEY`: the first entry is the current key, the others
 * are kept only to decrypt older payloads. Throws an Error naming the faulty entry (by position and id, never by key
 * material) on an empty list, a bad id, a key that is not 32 bytes of base64, or a duplicate id.
 */
export function parseCodecKeys(spec: string): CodecKeys {
  const entries = spec
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e.length > 0);
  if (entries.length === 0) throw new Error('payload codec keys: empty, expected "id:base64key[,id:base64key...]"');
  const keys: Record<string, Buffer> = {};
  entries.forEach((entry, index) => {
    const where = `payload codec keys: entry ${index + 1}`;
    const colon = entry.indexOf(':');
    if (colon < 0) throw new Error(`${where}: expected "id:base64key"`);
    const id = entry.slice(0, colon).trim();
    const encoded = entry.slice(colon + 1).trim();
    if (!KEY_ID.test(id)) throw new Error(`${where}: bad key id "${id}" (1-64 characters of A-Z a-z 0-9 . _ -)`);
    if (Object.hasOwn(keys, id)) throw new Error(`${where}: duplicate key id "${id}"`);
    const key = BASE64.test(encoded) ? Buffer.from(encoded, 'base64') : undefined;
    if (!key || key.length !== KEY_LENGTH) {
      throw new Error(
        `${where}: key "${id}" must be ${KEY_LENGTH} bytes, base64-encoded (e.g. openssl rand -base64 32)`,
      );
    }
    keys[id] = key;
  });
  return { current: entries[0].slice(0, entries[0].indexOf(':')).trim(), keys };
}

/**
 * AES-256-GCM payload codec, so phone numbers, codes and identity data reach Temporal (and its history) only
 * encrypted. Each payload — metadata included — is serialized as a protobuf `Payload` and encrypted with a random
 * 12-byte IV; the result is a new payload with metadata `encoding: binary/encrypted` and `encryption-key-id`, data
 * `iv ‖ ciphertext ‖ tag`: the format of Temporal's encryption samples, so other SDKs' codecs can read it. Decoding
 * picks the key by id (rotation) and leaves payloads that are not encrypted as they are. Runs on the client and
 * worker side, outside the workflow sandbox.
 */
export class EncryptionCodec implements PayloadCodec {
  private readonly current: string;
  private readonly keys: ReadonlyMap<string, Buffer>;

  constructor(keys: CodecKeys) {
    const entries = Object.entries(keys.keys);
    for (const [id, key] of entries) {
      if (key.length !== KEY_LENGTH) throw new Error(`payload codec: key "${id}" must be ${KEY_LENGTH} bytes`);
    }
    this.keys = new Map(entries);
    if (!this.keys.has(keys.current)) throw new Error(`payload codec: current key id "${keys.current}" has no key`);
    this.current = keys.current;
  }

  /** Id of the key new payloads are encrypted with. */
  get currentKeyId(): string {
    return this.current;
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const key = this.keys.get(this.current)!;
    return payloads.map((payload) => ({
      metadata: {
        [METADATA_ENCODING_KEY]: Buffer.from(ENCRYPTED_ENCODING, 'utf8'),
        [METADATA_ENCRYPTION_KEY_ID]: Buffer.from(this.current, 'utf8'),
      },
      data: encrypt(temporal.api.common.v1.Payload.encode(payload).finish(), key),
    }));
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const encoding = payload.metadata?.[METADATA_ENCODING_KEY];
      if (!encoding || utf8(encoding) !== ENCRYPTED_ENCODING) return payload;
      const keyIdBytes = payload.metadata?.[METADATA_ENCRYPTION_KEY_ID];
      if (!keyIdBytes) throw new ValueError('payload codec: encrypted payload without an encryption-key-id');
      const keyId = utf8(keyIdBytes);
      const key = this.keys.get(keyId);
      if (!key) {
        throw new ValueError(
          `payload codec: unknown encryption key id "${keyId}" (known: ${[...this.keys.keys()].join(', ')}); ` +
            'keep retired keys in the key list while histories encrypted with them exist',
        );
      }
      if (!payload.data || payload.data.length < IV_LENGTH + TAG_LENGTH) {
        throw new ValueError(`payload codec: encrypted payload (key "${keyId}") is too short`);
      }
      let clear: Buffer;
      try {
        clear = decrypt(payload.data, key);
      } catch {
        throw new ValueError(`payload codec: cannot decrypt payload with key "${keyId}": data altered or wrong key`);
      }
      return temporal.api.common.v1.Payload.decode(clear);
    });
  }
}

/**
 * The data converter for clients, workers and replayers: our encryption codec, or undefined (the SDK default,
 * payloads in clear) when no keys are configured.
 */
export function codecDataConverter(keys?: CodecKeys): DataConverter | undefined {
  return keys ? { payloadCodecs: [new EncryptionCodec(keys)] } : undefined;
}

function encrypt(clear: Uint8Array, key: Buffer): Buffer {
  const iv = randomBytes(IV_LENGTH);
  const cipher = createCipheriv(CIPHER, key, iv, { authTagLength: TAG_LENGTH });
  return Buffer.concat([iv, cipher.update(clear), cipher.final(), cipher.getAuthTag()]);
}

function decrypt(data: Uint8Array, key: Buffer): Buffer {
  const iv = data.subarray(0, IV_LENGTH);
  const ciphertext = data.subarray(IV_LENGTH, data.length - TAG_LENGTH);
  const decipher = createDecipheriv(CIPHER, key, iv, { authTagLength: TAG_LENGTH });
  decipher.setAuthTag(data.subarray(data.length - TAG_LENGTH));
  return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
}

function utf8(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
}
