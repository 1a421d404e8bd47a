import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { samplePayloads } from '../../bench/lib/api-overhead';
import { countCodec, noCodecCounts, payloadBytes } from '../../bench/lib/codec-count';
import { EncryptionCodec } from '../../src/temporal/codec';
import { phoneContract } from '../../workflows/contract';

const codec = () => new EncryptionCodec({ current: 'k1', keys: { k1: randomBytes(32) } });

describe('countCodec (payloads and time of a payload codec, for the bench)', () => {
  it('counts calls, payloads, bytes and encodings each way, and answers what the codec answers', async () => {
    const counts = noCodecCounts();
    const counted = codec();
    countCodec(counted, () => counts);
    const payloads = [
      defaultPayloadConverter.toPayload({ to: '+14155550100' }),
      defaultPayloadConverter.toPayload(undefined),
    ];

    const encrypted = await counted.encode(payloads);
    const decoded = await counted.decode(encrypted);

    expect(decoded.map((p) => defaultPayloadConverter.fromPayload(p))).toEqual([{ to: '+14155550100' }, undefined]);
    expect(encrypted.every((p) => Buffer.from(p.metadata!.encoding!).toString() === 'binary/encrypted')).toBe(true);
    expect(counts).toMatchObject({
      encodeCalls: 1,
      encodedPayloads: 2,
      encodedBytesIn: payloadBytes(payloads[0]) + payloadBytes(payloads[1]),
      encodedByEncoding: { 'json/plain': 1, 'binary/null': 1 },
      decodeCalls: 1,
      decodedPayloads: 2,
      decodedBytesIn: payloadBytes(encrypted[0]) + payloadBytes(encrypted[1]),
    });
    expect(counts.encodeMs).toBeGreaterThanOrEqual(0);
  });

  it('counts every instance of a class whose prototype it wraps, into the counts of the moment', async () => {
    class Echo {
      async encode(p: Payload[]) {
        return p;
      }
      async decode(p: Payload[]) {
        return p;
      }
    }
    let counts = noCodecCounts();
    countCodec(Echo.prototype, () => counts);
    const payload = defaultPayloadConverter.toPayload('x');
    await new Echo().encode([payload]);
    const first = counts;
    counts = noCodecCounts();
    await new Echo().decode([payload, payload]);
    expect(first).toMatchObject({ encodeCalls: 1, encodedPayloads: 1, decodeCalls: 0 });
    expect(counts).toMatchObject({ encodeCalls: 0, decodeCalls: 1, decodedPayloads: 2 });
  });

  it('measures the codec on payloads an SMS verification really carries (the input the workflow accepts)', () => {
    const samples = samplePayloads();
    const input = defaultPayloadConverter.fromPayload(samples.startInput);
    expect(phoneContract.schemas().input.parse(input)).toMatchObject({
      client: 'bench',
      channels: [{ channel: 'sms', provider: 'vonage' }],
    });
    expect(defaultPayloadConverter.fromPayload(samples.state)).toMatchObject({ status: 'pending' });
    expect(Object.keys(samples)).toEqual(['startInput', 'state', 'providerEventSignal', 'checkCodeArgument']);
  });
});
