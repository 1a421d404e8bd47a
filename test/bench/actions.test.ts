import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { temporal } from '@temporalio/proto';
import { countActions, historyShape, meanCount, meanShape } from '../../bench/lib/actions';

const committed = (name: string) =>
  historyFromJSON(JSON.parse(readFileSync(join(__dirname, '..', 'histories', `${name}.json`), 'utf8')));

describe('countActions (billable actions from a history)', () => {
  it('counts a committed SMS happy-path history', () => {
    // Start, 3 activities, 2 condition timers, 2 updates, 2 search-attribute upserts; no signal.
    expect(countActions(committed('phone-sms-happy'))).toEqual({
      start: 1,
      activityAttempts: 3,
      timers: 2,
      signals: 0,
      updates: 2,
      upserts: 2,
      patchUpserts: 0,
      other: 0,
      total: 10,
    });
  });

  it("leaves out the upsert Temporal's core adds for a patch marker (TemporalChangeVersion): Cloud does not bill it", () => {
    // After the first provider request, publish-channel-changes' marker with the core's upsert of
    // TemporalChangeVersion (not billed), the workflow's channel-change upserts, then the terminal one.
    const c = countActions(committed('phone-e2e-silent-auth-to-sms-published'));
    expect(c).toMatchObject({ upserts: 3, patchUpserts: 1 });
    expect(c.total).toBe(c.start + c.activityAttempts + c.timers + c.signals + c.updates + c.upserts + c.other);
  });

  it('counts what outbound events add to an SMS verification (2 events): +2 in it, 5 in its delivery workflow', () => {
    // The verification starts its eventDelivery child with the first event and signals it the second (other: 2);
    // the outbound-events patch marker's upsert is not billed.
    expect(countActions(committed('phone-events'))).toEqual({
      start: 1,
      activityAttempts: 2,
      timers: 1,
      signals: 0,
      updates: 1,
      upserts: 2,
      patchUpserts: 1,
      other: 2,
      total: 9,
    });
    // The delivery: its start, one deliverEvent per event, the signal of the second, the redelivery window's timer.
    expect(countActions(committed('event-delivery'))).toEqual({
      start: 1,
      activityAttempts: 2,
      timers: 1,
      signals: 1,
      updates: 0,
      upserts: 0,
      patchUpserts: 0,
      other: 0,
      total: 5,
    });
  });

  it('counts a Twilio Verify SMS verification like a Vonage one (the twilio-sms-happy row)', () => {
    // Start, the Twilio start and two checks, one channel timer, two check updates, two upserts of the workflow's own
    // (the patch marker's is not billed): a Twilio SMS costs the same actions as a Vonage SMS.
    const twilio = countActions(committed('phone-twilio-sms-happy'));
    expect(twilio).toEqual(countActions(committed('phone-sms-happy-fewer-actions')));
    expect(twilio).toMatchObject({ start: 1, activityAttempts: 3, timers: 1, updates: 2, upserts: 2, total: 9 });
  });

  it.each([
    ['phone-sms-happy-fewer-actions', 'phone-sms-happy-release'],
    ['phone-events', 'phone-events-release'],
    ['push-approved-fewer-actions', 'push-approved-release'],
    ['identity-verified-fewer-actions', 'identity-verified-release'],
    ['onboarding-step-already-running-fewer-actions', 'onboarding-step-already-running-release'],
  ])(
    '%s → %s: the release patch leaves one patch upsert per run (not billed), every billed action as it was',
    (before, after) => {
      const b = countActions(committed(before));
      expect(countActions(committed(after))).toEqual({ ...b, patchUpserts: 1 });
    },
  );

  it.each([
    ['phone-sms-happy-release', 2],
    ['phone-events-release', 1],
  ])(
    '%s → %s-2026-12-05: checks inside their update task bill the same actions, markers instead of activity tasks',
    (before, checks) => {
      const b = countActions(committed(before));
      const after = countActions(committed(`${before}-2026-12-05`));
      expect(after).toEqual({ ...b, activityAttempts: b.activityAttempts - checks, other: b.other + checks });
      // Each check no longer costs its activity's three events nor a workflow task of its own (three more).
      const events = (name: string) => committed(name).events?.length ?? 0;
      expect(events(before) - events(`${before}-2026-12-05`)).toBeGreaterThanOrEqual(2 * checks);
    },
  );

  it.each(['phone-sms-happy-release-2026-12-05', 'phone-events-release-2026-12-05'])(
    '%s → its -starts history: the Vonage start inside the first workflow task bills the same, a marker for an activity',
    (before) => {
      const b = countActions(committed(before));
      const after = countActions(committed(`${before}-starts`));
      expect(after).toEqual({ ...b, activityAttempts: b.activityAttempts - 1, other: b.other + 1 });
      expect(after.activityAttempts).toBe(0);
      // No activity task (three events) and no workflow task for its answer (three more), one marker instead.
      const events = (name: string) => committed(name).events?.length ?? 0;
      expect(events(before) - events(`${before}-starts`)).toBe(5);
    },
  );

  it('counts a run that moves between providers: Vonage silent auth → Twilio SMS → Vonage voice', () => {
    // Activities: Vonage start, Twilio start, Twilio cancel (its channel timed out), Vonage start, the check; one timer
    // per channel deadline; the silent auth `failed` callback; one check update; the workflow's upserts (its patch
    // marker's is not billed).
    expect(countActions(committed('phone-vonage-twilio-vonage'))).toMatchObject({
      start: 1,
      activityAttempts: 5,
      timers: 3,
      signals: 1,
      updates: 1,
      patchUpserts: 1,
      total: 15,
    });
  });

  it('counts signals of a history with provider callbacks', () => {
    const c = countActions(committed('phone-silent-auth-fallback'));
    expect(c.signals).toBe(4);
    expect(c.total).toBe(c.start + c.activityAttempts + c.timers + c.signals + c.updates + c.upserts);
  });

  it("counts every attempt of a retried activity, no patch marker, and one workflow task's local activities once", () => {
    // The JSON form committed histories use (ids as strings), read the same way.
    const history = historyFromJSON({
      events: [
        {
          eventId: '1',
          eventType: 'EVENT_TYPE_WORKFLOW_EXECUTION_STARTED',
          workflowExecutionStartedEventAttributes: {},
        },
        { eventId: '5', eventType: 'EVENT_TYPE_ACTIVITY_TASK_SCHEDULED', activityTaskScheduledEventAttributes: {} },
        {
          eventId: '6',
          eventType: 'EVENT_TYPE_ACTIVITY_TASK_STARTED',
          activityTaskStartedEventAttributes: { scheduledEventId: '5', attempt: 3 },
        },
        { eventId: '8', eventType: 'EVENT_TYPE_ACTIVITY_TASK_SCHEDULED', activityTaskScheduledEventAttributes: {} },
        {
          eventId: '9',
          eventType: 'EVENT_TYPE_MARKER_RECORDED',
          markerRecordedEventAttributes: { markerName: 'core_patch' },
        },
        // Two local activities completed by the workflow task of event 7, one by that of event 14.
        {
          eventId: '10',
          eventType: 'EVENT_TYPE_MARKER_RECORDED',
          markerRecordedEventAttributes: { markerName: 'core_local_activity', workflowTaskCompletedEventId: '7' },
        },
        {
          eventId: '11',
          eventType: 'EVENT_TYPE_MARKER_RECORDED',
          markerRecordedEventAttributes: { markerName: 'core_local_activity', workflowTaskCompletedEventId: '7' },
        },
        {
          eventId: '15',
          eventType: 'EVENT_TYPE_MARKER_RECORDED',
          markerRecordedEventAttributes: { markerName: 'core_local_activity', workflowTaskCompletedEventId: '14' },
        },
      ],
    });
    expect(countActions(history)).toMatchObject({ start: 1, activityAttempts: 4, other: 2, total: 7 });
  });

  it('averages counts field by field', () => {
    const a = countActions(committed('phone-sms-happy'));
    const b = countActions(committed('phone-max-attempts'));
    expect(meanCount([a, b]).total).toBe((a.total + b.total) / 2);
  });
});

describe('historyShape (events, signals, failed workflow tasks of a run)', () => {
  it('counts the signals of a committed history, and no failed task', () => {
    const history = committed('phone-silent-auth-fallback');
    expect(historyShape(history)).toEqual({ events: history.events!.length, signals: 4, failedWorkflowTasks: 0 });
  });

  it('counts a workflow task the server failed (a signal that landed while the completing task was out)', () => {
    const E = temporal.api.enums.v1.EventType;
    const events = [
      E.EVENT_TYPE_WORKFLOW_TASK_STARTED,
      E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
      E.EVENT_TYPE_WORKFLOW_TASK_FAILED,
      E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
    ].map((eventType) => ({ eventType }));
    expect(historyShape({ events })).toEqual({ events: 4, signals: 1, failedWorkflowTasks: 1 });
  });

  it('averages shapes field by field, to one decimal', () => {
    const shapes = [
      { events: 26, signals: 0, failedWorkflowTasks: 0 },
      { events: 29, signals: 1, failedWorkflowTasks: 1 },
      { events: 26, signals: 0, failedWorkflowTasks: 0 },
    ];
    expect(meanShape(shapes)).toEqual({ events: 27, signals: 0.3, failedWorkflowTasks: 0.3 });
    expect(meanShape([])).toEqual({ events: 0, signals: 0, failedWorkflowTasks: 0 });
  });
});
