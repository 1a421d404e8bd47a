import type { EncryptionCodec } from '../temporal/codec';

/**
 * What the codec server needs, given by the entry point (never read from the environment here). The abstract class
 * is the Nest injection token; a plain object with these fields is accepted wherever it is expected.
 */
export abstract class CodecServerOptions {
  /** The codec the workers and clients use, so the Web UI sees exactly what they see. */
  abstract readonly codec: EncryptionCodec;
  /** Static bearer token an engineer's request must carry (`Authorization: Bearer <token>`). */
  abstract readonly token?: string;
  /** Web UI origins allowed to call from a browser (CORS), e.g. `http://localhost:8233`. */
  abstract readonly allowedOrigins: string[];
  /**
   * Without a token, serve requests anyway — but only those from this machine (loopback). For the local dev default,
   * where the dev server's Web UI cannot send a token; never set it where the API is reachable from elsewhere.
   */
  abstract readonly allowUnauthenticated?: boolean;
}
