import 'reflect-metadata';
import { randomBytes, randomUUID } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Client, Connection } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { temporal } from '@temporalio/proto';
import request from 'supertest';
import type { JsonPayload } from '../../src/codec/codec.controller';
import { CodecModule } from '../../src/codec/codec.module';
import type { CodecServerOptions } from '../../src/codec/codec-server-options';
import {
  codecDataConverter,
  EncryptionCodec,
  ENCRYPTED_ENCODING,
  parseCodecKeys,
  type CodecKeys,
} from '../../src/temporal/codec';
import type { PhoneVerificationInput } from '../../workflows/contract';

const PHONE = '+15551234567';
const k1 = randomBytes(32);
const k2 = randomBytes(32);
const keysK1: CodecKeys = { current: 'k1', keys: { k1 } };
const keysK2: CodecKeys = { current: 'k2', keys: { k2, k1 } };

const toPayload = (value: unknown): Payload => defaultPayloadConverter.toPayload(value);
const fromPayload = (payload: Payload): unknown => defaultPayloadConverter.fromPayload(payload);
const utf8 = (bytes: Uint8Array | null | undefined): string => Buffer.from(bytes ?? []).toString('utf8');

describe('EncryptionCodec', () => {
  it('round-trips payloads, metadata included, and hides their contents', async () => {
    const codec = new EncryptionCodec(keysK1);
    const input = [toPayload({ to: PHONE }), toPayload('123456'), toPayload(null)];
    const encoded = await codec.encode(input);
    expect(encoded).toHaveLength(3);
    for (const p of encoded) {
      expect(utf8(p.metadata!.encoding)).toBe(ENCRYPTED_ENCODING);
      expect(utf8(p.metadata!['encryption-key-id'])).toBe('k1');
      expect(Object.keys(p.metadata!)).toEqual(['encoding', 'encryption-key-id']);
      expect(Buffer.from(p.data!).includes(Buffer.from('json/plain'))).toBe(false);
    }
    expect(Buffer.from(encoded[0].data!).includes(Buffer.from('15551234567'))).toBe(false);
    const decoded = await codec.decode(encoded);
    expect(decoded.map(fromPayload)).toEqual([{ to: PHONE }, '123456', null]);
    expect(utf8(decoded[0].metadata!.encoding)).toBe('json/plain');
  });

  it('uses a fresh IV for every payload', async () => {
    const codec = new EncryptionCodec(keysK1);
    const [a, b] = await codec.encode([toPayload(PHONE), toPayload(PHONE)]);
    expect(Buffer.from(a.data!).equals(Buffer.from(b.data!))).toBe(false);
  });

  it('leaves payloads that are not encrypted untouched', async () => {
    const codec = new EncryptionCodec(keysK1);
    const plain = toPayload({ hello: 'world' });
    const [decoded] = await codec.decode([plain]);
    expect(decoded).toBe(plain);
  });

  it('rejects tampered data (GCM authentication)', async () => {
    const codec = new EncryptionCodec(keysK1);
    const [encoded] = await codec.encode([toPayload({ to: PHONE })]);
    for (const index of [0, 20, encoded.data!.length - 1]) {
      const data = Buffer.from(encoded.data!);
      data[index] ^= 0x01;
      await expect(codec.decode([{ ...encoded, data }])).rejects.toThrow(
        'cannot decrypt payload with key "k1": data altered or wrong key',
      );
    }
    await expect(codec.decode([{ ...encoded, data: Buffer.alloc(10) }])).rejects.toThrow('too short');
  });

  it('decodes payloads encrypted with a retired key after rotation, and encrypts with the new one', async () => {
    const [old] = await new EncryptionCodec(keysK1).encode([toPayload({ to: PHONE })]);
    const rotated = new EncryptionCodec(keysK2);
    expect(fromPayload((await rotated.decode([old]))[0])).toEqual({ to: PHONE });
    const [fresh] = await rotated.encode([toPayload('x')]);
    expect(utf8(fresh.metadata!['encryption-key-id'])).toBe('k2');
  });

  it('names an unknown key id', async () => {
    const [encoded] = await new EncryptionCodec(keysK2).encode([toPayload('x')]);
    await expect(new EncryptionCodec(keysK1).decode([encoded])).rejects.toThrow(
      'payload codec: unknown encryption key id "k2" (known: k1)',
    );
  });

  it('rejects an encrypted payload without a key id', async () => {
    const [encoded] = await new EncryptionCodec(keysK1).encode([toPayload('x')]);
    const metadata = { encoding: encoded.metadata!.encoding };
    await expect(new EncryptionCodec(keysK1).decode([{ ...encoded, metadata }])).rejects.toThrow(
      'encrypted payload without an encryption-key-id',
    );
  });

  it('refuses keys that cannot work', () => {
    expect(() => new EncryptionCodec({ current: 'k3', keys: { k1 } })).toThrow('current key id "k3" has no key');
    expect(() => new EncryptionCodec({ current: 'k1', keys: { k1: randomBytes(16) } })).toThrow('must be 32 bytes');
  });

  it('codecDataConverter: the codec, or undefined without keys', () => {
    expect(codecDataConverter(undefined)).toBeUndefined();
    expect(codecDataConverter(keysK1)?.payloadCodecs?.[0]).toBeInstanceOf(EncryptionCodec);
  });
});

describe('parseCodecKeys', () => {
  const b64 = (bytes: Buffer) => bytes.toString('base64');

  it('parses a rotation list: first = current', () => {
    const keys = parseCodecKeys(` k2:${b64(k2)} , k1:${b64(k1)}`);
    expect(keys.current).toBe('k2');
    expect(Object.keys(keys.keys)).toEqual(['k2', 'k1']);
    expect(keys.keys.k2.equals(k2)).toBe(true);
    expect(keys.keys.k1.equals(k1)).toBe(true);
  });

  it('accepts url-safe base64', () => {
    expect(parseCodecKeys(`a:${k1.toString('base64url')}`).keys.a.equals(k1)).toBe(true);
  });

  it.each([
    ['an empty list', '', 'payload codec keys: empty'],
    ['a list of blanks', ' , ', 'payload codec keys: empty'],
    ['a key without id', b64(k1), 'entry 1: expected "id:base64key"'],
    ['an empty id', `:${b64(k1)}`, 'entry 1: bad key id ""'],
    ['an id with a space', `bad id:${b64(k1)}`, 'entry 1: bad key id "bad id"'],
    ['a duplicate id', `k1:${b64(k1)},k1:${b64(k2)}`, 'entry 2: duplicate key id "k1"'],
    ['a 16-byte key', `k1:${b64(randomBytes(16))}`, 'entry 1: key "k1" must be 32 bytes'],
    ['a key that is not base64', 'k1:not*base64!', 'entry 1: key "k1" must be 32 bytes'],
  ])('rejects %s', (_label, spec, message) => {
    expect(() => parseCodecKeys(spec)).toThrow(message);
  });

  it('never echoes key material in errors', () => {
    const short = b64(randomBytes(16));
    expect(() => parseCodecKeys(`k1:${short}`)).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining(short) }),
    );
  });
});

describe('codec server (HTTP)', () => {
  const TOKEN = 'test-codec-token-0123456789';
  const ORIGIN = 'http://localhost:8233';
  let app: INestApplication;

  /** The codec module alone, as the app would import it (@nestjs/testing is not a dependency; NestFactory suffices). */
  async function start(options: Partial<CodecServerOptions>): Promise<INestApplication> {
    const nest = await NestFactory.create(
      CodecModule.forRoot({
        codec: new EncryptionCodec(keysK2),
        allowedOrigins: [ORIGIN, 'http://127.0.0.1:8233'],
        ...options,
      }),
      { logger: false },
    );
    await nest.init();
    return nest;
  }

  const asJson = (p: Payload): JsonPayload => ({
    metadata: Object.fromEntries(
      Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
    ),
    data: Buffer.from(p.data ?? []).toString('base64'),
  });

  beforeAll(async () => {
    app = await start({ token: TOKEN });
  });
  afterAll(async () => {
    await app.close();
  });

  it('encodes and decodes in the Web UI format (proto3 JSON, base64)', async () => {
    const clear = [asJson(toPayload({ to: PHONE })), asJson(toPayload(42))];
    const enc = await request(app.getHttpServer())
      .post('/codec/encode')
      .set('Authorization', `Bearer ${TOKEN}`)
      .set('X-Namespace', 'default')
      .send({ payloads: clear })
      .expect(200);
    expect(enc.body.payloads).toHaveLength(2);
    expect(Buffer.from(enc.body.payloads[0].metadata.encoding, 'base64').toString()).toBe(ENCRYPTED_ENCODING);
    expect(Buffer.from(enc.body.payloads[0].metadata['encryption-key-id'], 'base64').toString()).toBe('k2');
    expect(JSON.stringify(enc.body)).not.toContain(Buffer.from(JSON.stringify({ to: PHONE })).toString('base64'));

    const dec = await request(app.getHttpServer())
      .post('/codec/decode')
      .set('Authorization', `Bearer ${TOKEN}`)
      .send({ payloads: enc.body.payloads })
      .expect(200);
    expect(dec.body).toEqual({ payloads: clear });
    expect(JSON.parse(Buffer.from(dec.body.payloads[0].data, 'base64').toString())).toEqual({ to: PHONE });
  });

  it('decodes what the workers encrypted (with a retired key too) and passes clear payloads through', async () => {
    const [old] = await new EncryptionCodec(keysK1).encode([toPayload({ to: PHONE })]);
    const plain = asJson(toPayload('clear'));
    const res = await request(app.getHttpServer())
      .post('/codec/decode')
      .set('Authorization', `Bearer ${TOKEN}`)
      .send({ payloads: [asJson(old), plain] })
      .expect(200);
    expect(res.body.payloads[0]).toEqual(asJson(toPayload({ to: PHONE })));
    expect(res.body.payloads[1]).toEqual(plain);
  });

  it('answers 422 naming the payload it cannot decrypt', async () => {
    const [foreign] = await new EncryptionCodec({ current: 'k9', keys: { k9: randomBytes(32) } }).encode([
      toPayload(1),
    ]);
    const res = await request(app.getHttpServer())
      .post('/codec/decode')
      .set('Authorization', `Bearer ${TOKEN}`)
      .send({ payloads: [asJson(toPayload(0)), asJson(foreign)] })
      .expect(422);
    expect(res.body.message).toContain('payloads[1]: payload codec: unknown encryption key id "k9"');
  });

  it.each(['/codec/encode', '/codec/decode'])('%s: 401 without or with a wrong token', async (path) => {
    const body = { payloads: [asJson(toPayload(1))] };
    const missing = await request(app.getHttpServer()).post(path).set('Origin', ORIGIN).send(body).expect(401);
    expect(missing.headers['www-authenticate']).toBe('Bearer');
    // CORS headers on errors too, so the UI sees the 401 rather than an opaque network error.
    expect(missing.headers['access-control-allow-origin']).toBe(ORIGIN);
    await request(app.getHttpServer()).post(path).set('Authorization', 'Bearer wrong').send(body).expect(401);
    await request(app.getHttpServer()).post(path).set('Authorization', `Bearer ${TOKEN}x`).send(body).expect(401);
    await request(app.getHttpServer()).post(path).set('Authorization', TOKEN).send(body).expect(401);
  });

  it('answers the CORS preflight for the configured UI origins only', async () => {
    for (const path of ['/codec/encode', '/codec/decode']) {
      const res = await request(app.getHttpServer())
        .options(path)
        .set('Origin', ORIGIN)
        .set('Access-Control-Request-Method', 'POST')
        .set('Access-Control-Request-Headers', 'content-type,x-namespace,authorization')
        .expect(204);
      expect(res.headers['access-control-allow-origin']).toBe(ORIGIN);
      expect(res.headers['access-control-allow-headers']).toBe('content-type, x-namespace, authorization');
      expect(res.headers['access-control-allow-methods']).toBe('POST, OPTIONS');
      expect(res.headers['access-control-allow-credentials']).toBe('true');
    }
    const other = await request(app.getHttpServer())
      .options('/codec/decode')
      .set('Origin', 'http://evil.example')
      .set('Access-Control-Request-Method', 'POST')
      .expect(204);
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('sets the allowed origin on POST answers', async () => {
    const res = await request(app.getHttpServer())
      .post('/codec/decode')
      .set('Origin', 'http://127.0.0.1:8233')
      .set('Authorization', `Bearer ${TOKEN}`)
      .send({ payloads: [] })
      .expect(200);
    expect(res.headers['access-control-allow-origin']).toBe('http://127.0.0.1:8233');
    expect(res.body).toEqual({ payloads: [] });
  });

  it('treats an omitted or null payload list as empty (proto3 JSON omits empty lists; the Go CLI sends null)', async () => {
    for (const body of [{}, { payloads: null }]) {
      const res = await request(app.getHttpServer())
        .post('/codec/encode')
        .set('Authorization', `Bearer ${TOKEN}`)
        .send(body)
        .expect(200);
      expect(res.body).toEqual({ payloads: [] });
    }
  });

  it.each([
    [[1, 2], 'body: must be a JSON object'],
    [{ payloads: 'x' }, 'payloads: must be an array'],
    [{ payloads: [1] }, 'payloads[0]: must be an object'],
    [{ payloads: [{ metadata: [] }] }, 'payloads[0].metadata: must be an object'],
    [{ payloads: [{ metadata: { encoding: 5 } }] }, 'payloads[0].metadata.encoding: must be a base64 string'],
    [{ payloads: [{ data: 'not base64!' }] }, 'payloads[0].data: must be a base64 string'],
  ])('400 on a bad body %j', async (body, message) => {
    const res = await request(app.getHttpServer())
      .post('/codec/decode')
      .set('Authorization', `Bearer ${TOKEN}`)
      .send(body)
      .expect(400);
    expect(res.body.message).toBe(message);
  });

  it('without a token it is disabled, unless unauthenticated loopback access is explicitly allowed', async () => {
    const body = { payloads: [asJson(toPayload(1))] };
    const disabled = await start({});
    try {
      const res = await request(disabled.getHttpServer()).post('/codec/decode').send(body).expect(401);
      expect(res.body.message).toBe('codec server disabled: no token configured');
      await request(disabled.getHttpServer())
        .post('/codec/decode')
        .set('Authorization', 'Bearer ')
        .send(body)
        .expect(401);
    } finally {
      await disabled.close();
    }
    const dev = await start({ allowUnauthenticated: true });
    try {
      await request(dev.getHttpServer()).post('/codec/decode').send(body).expect(200);
    } finally {
      await dev.close();
    }
    const devWithToken = await start({ allowUnauthenticated: true, token: TOKEN });
    try {
      await request(devWithToken.getHttpServer()).post('/codec/decode').send(body).expect(401);
    } finally {
      await devWithToken.close();
    }
  });
});

describe('with a real Temporal server', () => {
  let connection: Connection;

  beforeAll(async () => {
    const address = process.env.TEST_TEMPORAL_ADDRESS;
    if (!address)
      throw new Error('TEST_TEMPORAL_ADDRESS is not set: run the tests with jest (global setup starts Temporal)');
    connection = await Connection.connect({ address });
  });
  afterAll(async () => {
    await connection.close();
  });

  /**
   * The history as JSON (as `temporal workflow show --output json` has it) plus its protobuf wire bytes as text: bytes
   * fields are base64 in JSON but verbatim on the wire, so a number in clear shows up in the latter.
   */
  const historyText = (history: temporal.api.history.v1.IHistory): string =>
    historyToJSON(history) + Buffer.from(temporal.api.history.v1.History.encode(history).finish()).toString('latin1');

  /** Starts a phoneVerification that no worker runs (its task queue has none): only its input lands in history. */
  const startUnrun = (client: Client, input: PhoneVerificationInput) =>
    client.workflow.start('phoneVerification', {
      taskQueue: `codec-test-${randomUUID()}`,
      workflowId: `codec-test-${randomUUID()}`,
      args: [input],
    });

  it('keeps the phone number out of the history; the codec reads it back', async () => {
    const encrypted = new Client({ connection, dataConverter: codecDataConverter(keysK2) });
    const plain = new Client({ connection });
    const input: PhoneVerificationInput = { to: PHONE, brand: 'Acme' };
    const handle = await startUnrun(encrypted, input);
    const control = await startUnrun(plain, input);
    try {
      const history = await plain.workflow.getHandle(handle.workflowId).fetchHistory();
      expect(historyText(history)).not.toContain('15551234567');
      // Control: without the codec the same serialization shows the number, so the assertion above can fail.
      expect(historyText(await control.fetchHistory())).toContain('15551234567');

      const started = history.events?.find(
        (e) => e.workflowExecutionStartedEventAttributes,
      )?.workflowExecutionStartedEventAttributes;
      const payloads = started?.input?.payloads ?? [];
      expect(payloads).toHaveLength(1);
      expect(utf8(payloads[0].metadata?.encoding)).toBe(ENCRYPTED_ENCODING);
      expect(utf8(payloads[0].metadata?.['encryption-key-id'])).toBe('k2');
      const decoded = await new EncryptionCodec(keysK2).decode(payloads);
      expect(fromPayload(decoded[0])).toEqual(input);
      expect(utf8(decoded[0].data)).toContain(PHONE);
    } finally {
      await handle.terminate('codec test done');
      await control.terminate('codec test done');
    }
  });
});
