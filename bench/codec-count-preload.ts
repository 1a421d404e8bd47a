import { EncryptionCodec } from '../src/temporal/codec';
import { countCodec, noCodecCounts } from './lib/codec-count';

/**
 * Preloaded (`node --require dist/bench/codec-count-preload.js`) into the API or worker of a bench run: every
 * EncryptionCodec of the process counts its payloads and time (bench/lib/codec-count.ts); the bench asks for the
 * counts over IPC (`codec-counts`; `codec-reset` starts again). The process is otherwise the one it runs as.
 */
let counts = noCodecCounts();
countCodec(EncryptionCodec.prototype, () => counts);
process.on('message', (message) => {
  if (message === 'codec-counts') process.send?.({ codecCounts: { ...counts } });
  if (message === 'codec-reset') {
    counts = noCodecCounts();
    process.send?.({ codecCounts: 'reset' });
  }
});
