import { ServiceError, WorkflowNotFoundError } from '@temporalio/client';
import { isAbortedWithTaskFailure, sendUpdate } from '../../src/temporal/updates';

/** The error the TypeScript client throws when the server aborts an update with its workflow task. */
const aborted = () =>
  new ServiceError('Failed to start update', {
    cause: Object.assign(
      new Error(
        '9 FAILED_PRECONDITION: Unable to perform workflow execution update due to unexpected workflow task failure.',
      ),
      { code: 9 },
    ),
  });

test('an update aborted with its workflow task is sent again under the same update ID', async () => {
  const ids: string[] = [];
  const answer = await sendUpdate(async (id) => {
    ids.push(id);
    if (ids.length < 3) throw aborted();
    return 'answered';
  }, 'check-1');
  expect(answer).toBe('answered');
  expect(ids).toEqual(['check-1', 'check-1', 'check-1']);
});

test('without an ID of the caller one is made, and kept for the repeat', async () => {
  const ids: string[] = [];
  await sendUpdate(async (id) => {
    ids.push(id);
    if (ids.length === 1) throw aborted();
    return 1;
  });
  expect(ids[0]).toMatch(/^[0-9a-f-]{36}$/);
  expect(ids[1]).toBe(ids[0]);
});

test('three aborts in a row, or any other error, reach the caller', async () => {
  let sent = 0;
  await expect(sendUpdate(async () => (sent++, Promise.reject(aborted())), 'u')).rejects.toThrow(
    'Failed to start update',
  );
  expect(sent).toBe(3);
  const other = Object.assign(new Error('9 FAILED_PRECONDITION: something else'), { code: 9 });
  sent = 0;
  await expect(sendUpdate(async () => (sent++, Promise.reject(other)), 'u')).rejects.toBe(other);
  expect(sent).toBe(1);
  expect(isAbortedWithTaskFailure(other)).toBe(false);
  expect(isAbortedWithTaskFailure(aborted())).toBe(true);
});

test('a run that ended before the repeat answers from how it ended; a first send to an ended run does not', async () => {
  const ended = async () => 'from the result';
  const closed = new WorkflowNotFoundError('workflow execution already completed', 'wf', undefined);
  let sent = 0;
  const answer = await sendUpdate(
    async () => {
      sent++;
      throw sent === 1 ? aborted() : closed;
    },
    'u',
    ended,
  );
  expect(answer).toBe('from the result');
  await expect(sendUpdate(async () => Promise.reject(closed), 'u', ended)).rejects.toBe(closed);
});
