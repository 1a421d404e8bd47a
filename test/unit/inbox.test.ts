import { z } from 'zod';
import { createInbox, type InboxOptions } from '../../workflows/common';
import { shared } from '../../workflows/contract';

/**
 * The provider-event inbox every workflow shares, without a Temporal server: event sequences in, what was delivered,
 * held and logged out. The subject stands for what the run knows its events are about (a Vonage request, a Stripe
 * session, a Twilio challenge): until it is known, events are held.
 */
const schema = z.strictObject({ eventId: z.string().min(1), about: z.string() });
type Event = z.infer<typeof schema>;

type Step =
  | Event
  | { raw: unknown }
  | { know: string } // the run learns its subject: held events are released
  | { end: true }; // the run is over

function play(steps: Step[], options: Partial<InboxOptions<Event>> = {}) {
  const delivered: string[] = [];
  const logged: string[] = [];
  let subject: string | undefined;
  let over = false;
  const inbox = createInbox<Event>({
    schema,
    deliver: (e) => delivered.push(e.eventId),
    route: (e) => (subject === undefined ? 'hold' : e.about === subject ? 'deliver' : { drop: 'another subject' }),
    isOver: () => over,
    log: { info: (message) => logged.push(message), warn: (message) => logged.push(message) },
    ...options,
  });
  for (const step of steps) {
    if ('know' in step) {
      subject = step.know;
      inbox.release();
    } else if ('end' in step) over = true;
    else inbox.receive('raw' in step ? step.raw : step);
  }
  return { delivered, logged, inbox };
}

const ev = (eventId: string, about = 'A'): Event => ({ eventId, about });

test.each<[string, Step[], string[], number, string[]]>([
  // name, steps, delivered, still held, log lines
  ['delivers events about the subject', [{ know: 'A' }, ev('1'), ev('2')], ['1', '2'], 0, []],
  ['drops duplicates by eventId', [{ know: 'A' }, ev('1'), ev('1'), ev('2'), ev('1')], ['1', '2'], 0, []],
  [
    'drops a malformed event with a log line',
    [{ know: 'A' }, { raw: { eventId: '' } }, { raw: 'x' }, ev('1')],
    ['1'],
    0,
    ['malformed provider event dropped', 'malformed provider event dropped'],
  ],
  [
    'drops events about something else with the route’s reason',
    [{ know: 'A' }, ev('1', 'B')],
    [],
    0,
    ['another subject'],
  ],
  [
    'holds events that arrive before the subject is known, then releases them in arrival order',
    [ev('2'), ev('1'), { know: 'A' }, ev('3')],
    ['2', '1', '3'],
    0,
    [],
  ],
  [
    'drops held events of another subject when they are released',
    [ev('1', 'B'), ev('2'), { know: 'A' }],
    ['2'],
    0,
    ['another subject'],
  ],
  ['a duplicate of a held event is not held twice', [ev('1'), ev('1'), { know: 'A' }], ['1'], 0, []],
  [
    'holds a bounded number of events',
    [ev('1'), ev('2'), ev('3'), { know: 'A' }],
    ['1', '2'],
    0,
    ['provider event dropped: too many held'],
  ],
  ['drops events once the run is over', [{ know: 'A' }, ev('1'), { end: true }, ev('2')], ['1'], 0, []],
  ['releases nothing once the run is over', [ev('1'), { end: true }, { know: 'A' }], [], 0, []],
  ['keeps holding while nothing is known', [ev('1'), ev('2')], [], 2, []],
])('%s', (_name, steps, delivered, held, logged) => {
  const result = play(steps, { maxHeld: 2 });
  expect(result.delivered).toEqual(delivered);
  expect(result.inbox.held).toBe(held);
  expect(result.logged).toEqual(logged);
});

test('counts fresh events only: duplicates and malformed ones are not received', () => {
  const { inbox } = play([{ know: 'A' }, ev('1'), ev('1'), { raw: {} }, ev('2', 'B'), { end: true }, ev('3')]);
  expect(inbox.received).toBe(3);
});

test('dedupe memory is bounded: the oldest ids are forgotten first', () => {
  const { delivered, inbox } = play([{ know: 'A' }, ev('1'), ev('2'), ev('3'), ev('1'), ev('3')], { maxSeen: 2 });
  // '1' was forgotten when '3' arrived, so its redelivery is taken again; '3' is still remembered.
  expect(delivered).toEqual(['1', '2', '3', '1']);
  expect(inbox.seenIds()).toEqual(['3', '1']);
});

test('ids carried over continue-as-new stay duplicates; seenIds hands on the newest', () => {
  const { delivered, inbox } = play([{ know: 'A' }, ev('a'), ev('b'), ev('c')], { seen: ['a', 'b'] });
  expect(delivered).toEqual(['c']);
  expect(inbox.seenIds(2)).toEqual(['b', 'c']);
  expect(inbox.seenIds(0)).toEqual([]);
});

test('parses with the kind’s own schema (a Stripe identity event)', () => {
  const taken: string[] = [];
  const warned: string[] = [];
  const inbox = createInbox({
    schema: shared.identityProviderEvent(),
    deliver: (e) => taken.push(`${e.type}@${e.created}`),
    log: { info: () => undefined, warn: (m) => warned.push(m) },
  });
  inbox.receive({
    eventId: 'evt_1',
    provider: 'stripe',
    type: 'processing',
    sessionId: 'vs_1',
    created: 10,
    sessionStatus: 'processing',
  });
  inbox.receive({ eventId: 'evt_2', provider: 'stripe', type: 'processing', sessionId: 'vs_1' });
  expect(taken).toEqual(['processing@10']);
  expect(warned).toEqual(['malformed provider event dropped']);
});
