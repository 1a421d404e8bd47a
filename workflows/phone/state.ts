/**
 * The phone verification as a state machine: pure functions over a plain state value — plan the provider runs, apply
 * a provider event, fail channels, spend attempts, decide the next step. No Temporal API, no clock, no I/O: the time
 * comes in as `now` (epoch ms). `workflow.ts` wires handlers, timers and activities to these; the table tests in
 * test/unit/phone-state.test.ts drive them without a server.
 */
import {
  isTerminal,
  type Channel,
  type PhoneProvider,
  type ProviderEvent,
  type Reason,
  type VerificationStatus,
} from '../contract/common';
import {
  endedCheckResult,
  phoneContract,
  type ChannelState,
  type CheckCodeResult,
  type PhoneVerificationInput,
  type PhoneVerificationState,
} from '../contract/phone';

const DEFAULTS = phoneContract.defaults;

/** Vonage Verify v2 accepts at most 3 workflow steps per request, silent_auth only as the first. */
export const MAX_PROVIDER_STEPS = 3;

/** A channel as the input plans it: where the code goes and how long the workflow waits on it. */
export interface PlannedChannel {
  channel: Channel;
  provider: PhoneProvider;
  gateway?: string;
  to: string;
  timeoutSeconds: number;
}

/** A Vonage Verify request serving channels `first..last` (Vonage moves between them on its own after a failure). */
export interface VonageRun {
  kind: 'vonage';
  requestId: string;
  first: number;
  last: number;
}

/** One issued code of ours on an sms_gateway channel: its keyed HMAC, issue number and when it stops working. */
export interface OwnOtpRun {
  kind: 'own_otp';
  first: number;
  last: number;
  hmac: string;
  issue: number;
  expiresAtMs: number;
}

/**
 * A Twilio Verify verification serving channel `first` (= `last`: Twilio verifies on one channel per verification).
 * On silent auth (`sna`) the workflow asks Twilio for the result, at `nextPollAtMs` (Twilio has no status callback).
 */
export interface TwilioRun {
  kind: 'twilio';
  verificationSid: string;
  first: number;
  last: number;
  nextPollAtMs?: number;
  pollIntervalMs?: number;
}

/** What currently serves the verification: a provider request, or a code of ours. */
export type Run = VonageRun | OwnOtpRun | TwilioRun;

/** Silent auth on Twilio: the first result check this long after the start, then twice as long each time, at most… */
export const SNA_FIRST_POLL_MS = 2_000;
/** …this long apart, until the channel times out (a 60 s channel: 7 checks). */
export const SNA_MAX_POLL_MS = 10_000;

export interface PhoneState {
  /** What `getState` answers (never the destination). */
  view: PhoneVerificationState;
  channels: PlannedChannel[];
  expiresAtMs: number;
  run?: Run;
  /** When the current channel times out (epoch ms). */
  channelDeadline: number;
  /** Bumped on every change the driver's main loop must look at. */
  tick: number;
  /** Codes of ours issued so far: each send or resend is a new issue, bound into its HMAC. */
  otpIssue: number;
  /** `provider:id` of every provider request, in the order they were created. */
  providerRefs: string[];
}

/** The input with its defaults: the planned channels (the verification's `to` unless an e-mail channel has its own). */
export function planChannels(input: PhoneVerificationInput): PlannedChannel[] {
  return (input.channels ?? DEFAULTS.channels).map((c) => ({
    channel: c.channel,
    provider: c.provider ?? 'vonage',
    gateway: c.gateway,
    to: c.to ?? input.to,
    timeoutSeconds: c.timeoutSeconds ?? DEFAULTS.channelTimeoutSeconds[c.channel],
  }));
}

/** The state of a verification that starts now. */
export function initialState(input: PhoneVerificationInput, id: string, now: number): PhoneState {
  const channels = planChannels(input);
  const expiresAtMs = now + (input.expirySeconds ?? DEFAULTS.expirySeconds) * 1000;
  const at = new Date(now).toISOString();
  return {
    view: {
      id,
      kind: 'phone',
      ...(input.client ? { client: input.client } : {}),
      status: 'pending',
      channelIndex: 0,
      channel: channels[0].channel,
      channels: channels.map((c): ChannelState => ({
        channel: c.channel,
        provider: c.provider,
        ...(c.gateway ? { gateway: c.gateway } : {}),
        timeoutSeconds: c.timeoutSeconds,
        status: 'waiting',
      })),
      attemptsLeft: input.maxCodeAttempts ?? DEFAULTS.maxCodeAttempts,
      ...(channels.some((c) => c.provider === 'sms_gateway')
        ? { resendsLeft: input.maxResends ?? DEFAULTS.otp.maxResends }
        : {}),
      expiresAt: new Date(expiresAtMs).toISOString(),
      startedAt: at,
      updatedAt: at,
    },
    channels,
    expiresAtMs,
    channelDeadline: 0,
    tick: 0,
    otpIssue: 0,
    providerRefs: [],
  };
}

export function touch(s: PhoneState, now: number): void {
  s.view.updatedAt = new Date(now).toISOString();
  s.tick++;
}

/** Ends the verification (once): the current channel completes or fails with it. */
export function finish(s: PhoneState, status: VerificationStatus, reason: Reason, now: number): void {
  if (isTerminal(s.view.status)) return;
  s.view.status = status;
  s.view.reason = reason;
  s.view.checkUrl = undefined;
  s.view.codeExpiresAt = undefined;
  const current = s.view.channels[s.view.channelIndex];
  if (current && current.status === 'active') current.status = status === 'completed' ? 'completed' : 'failed';
  touch(s, now);
}

/** Channel `index` is now the one the user waits on; its timer starts. */
export function activate(s: PhoneState, index: number, now: number, checkUrl?: string): void {
  const planned = s.channels[index];
  s.view.channelIndex = index;
  s.view.channel = planned.channel;
  s.view.channels[index].status = 'active';
  s.view.checkUrl = planned.channel === 'silent_auth' ? checkUrl : undefined;
  s.view.codeExpiresAt = undefined;
  s.view.status = s.view.checkUrl ? 'action_pending' : 'pending';
  s.channelDeadline = now + planned.timeoutSeconds * 1000;
  touch(s, now);
}

/** Marks channels `from..to` failed and moves the index past them (the caller activates or starts what follows). */
export function failChannels(s: PhoneState, from: number, to: number, now: number): void {
  for (let i = from; i <= to && i < s.channels.length; i++) {
    const status = s.view.channels[i].status;
    if (status === 'active' || status === 'waiting') s.view.channels[i].status = 'failed';
  }
  s.view.channelIndex = to + 1;
  touch(s, now);
}

/**
 * What serves the channels from `index` on: our own code for an sms_gateway channel, one Twilio verification for a
 * twilio channel, else one Vonage request for up to 3 consecutive Vonage channels (silent auth only as the first step).
 */
export function planRun(s: PhoneState, index: number): { provider: PhoneProvider; first: number; last: number } {
  const provider = s.channels[index].provider;
  if (provider === 'sms_gateway' || provider === 'twilio') return { provider, first: index, last: index };
  let last = index;
  while (
    last + 1 < s.channels.length &&
    last + 1 - index < MAX_PROVIDER_STEPS &&
    s.channels[last + 1].provider === provider &&
    s.channels[last + 1].channel !== 'silent_auth'
  ) {
    last++;
  }
  return { provider, first: index, last };
}

/** A provider request was created for channels `first..last`: it serves them now, starting with the first. */
export function requestCreated(
  s: PhoneState,
  run: { requestId: string; first: number; last: number },
  now: number,
  checkUrl?: string,
): void {
  s.run = { kind: 'vonage', ...run };
  s.providerRefs.push(`vonage:${run.requestId}`);
  activate(s, run.first, now, checkUrl);
}

/** A Twilio verification was created for channel `index`: it serves that channel (silent auth: with its SNA URL). */
export function twilioStarted(
  s: PhoneState,
  started: { verificationSid: string; index: number },
  now: number,
  snaUrl?: string,
): void {
  const onSilentAuth = s.channels[started.index].channel === 'silent_auth';
  s.run = {
    kind: 'twilio',
    verificationSid: started.verificationSid,
    first: started.index,
    last: started.index,
    ...(onSilentAuth ? { nextPollAtMs: now + SNA_FIRST_POLL_MS, pollIntervalMs: SNA_FIRST_POLL_MS } : {}),
  };
  s.providerRefs.push(`twilio:${started.verificationSid}`);
  activate(s, started.index, now, snaUrl);
}

/** Twilio has no silent auth result yet: ask again later (each time twice as long after, at most SNA_MAX_POLL_MS). */
export function snaPending(s: PhoneState, run: TwilioRun, now: number): void {
  const interval = Math.min(SNA_MAX_POLL_MS, (run.pollIntervalMs ?? SNA_FIRST_POLL_MS) * 2);
  run.pollIntervalMs = interval;
  run.nextPollAtMs = now + interval;
  touch(s, now);
}

/**
 * The provider will not deliver on the channels of `run` (a network block: Vonage `blocked`, Twilio 60410 / 60605):
 * they fail with reason `blocked` at once, and with no channel left the verification fails `blocked`.
 */
export function channelsBlocked(s: PhoneState, first: number, last: number, now: number): void {
  for (let i = first; i <= last; i++) {
    const channel = s.view.channels[i];
    if (channel.status === 'active' || channel.status === 'waiting') channel.reason = 'blocked';
  }
  failChannels(s, first, last, now);
  if (s.view.channelIndex >= s.channels.length) finish(s, 'failed', 'blocked', now);
}

/** A code of ours went out on channel `index`: it serves that channel until it expires or is replaced. */
export function codeSent(
  s: PhoneState,
  sent: { index: number; hmac: string; issue: number; gateway: string; validitySeconds: number },
  now: number,
): void {
  const expiresAtMs = now + sent.validitySeconds * 1000;
  s.run = { kind: 'own_otp', first: sent.index, last: sent.index, hmac: sent.hmac, issue: sent.issue, expiresAtMs };
  s.view.channels[sent.index].gateway = sent.gateway;
  activate(s, sent.index, now);
  s.view.codeExpiresAt = new Date(expiresAtMs).toISOString();
}

/** Whether a provider event is about the current request (else it is early, or about a request we left). */
export const isCurrent = (s: PhoneState, event: ProviderEvent): boolean =>
  s.run?.kind === 'vonage' && event.ref === s.run.requestId;

/** Whether a provider event is about a request this verification already left (so it is stale, not early). */
export const isStale = (s: PhoneState, event: ProviderEvent): boolean =>
  s.run?.kind === 'own_otp' || s.providerRefs.includes(`${event.provider}:${event.ref}`);

/** Applies an event about the current provider request. */
export function applyEvent(s: PhoneState, event: ProviderEvent, now: number): void {
  const run = s.run;
  if (run?.kind !== 'vonage' || isTerminal(s.view.status)) return;
  switch (event.status) {
    case 'action_pending':
      if (s.channels[s.view.channelIndex]?.channel === 'silent_auth' && event.checkUrl) {
        s.view.checkUrl = event.checkUrl;
        s.view.status = 'action_pending';
        touch(s, now);
      }
      return;
    case 'failed': {
      // Which step failed: the first at or after the current one with that channel; an earlier one is stale.
      let i = s.view.channelIndex;
      while (i <= run.last && s.channels[i].channel !== event.channel) i++;
      if (i > run.last) return;
      failChannels(s, s.view.channelIndex, i, now);
      // The provider moves to its next step on its own; past its last step the request is over.
      if (i < run.last) activate(s, i + 1, now);
      else s.run = undefined;
      return;
    }
    case 'expired':
      failChannels(s, s.view.channelIndex, run.last, now);
      s.run = undefined;
      return;
    case 'blocked': {
      // The provider's network block refuses the destination on every step of the request, so none of them is
      // waited out: the channel after the request is next at once, and with none left the verification fails.
      s.run = undefined;
      channelsBlocked(s, s.view.channelIndex, run.last, now);
      return;
    }
    case 'user_rejected':
      s.run = undefined;
      finish(s, 'failed', 'user_rejected', now);
      return;
    case 'completed':
      s.run = undefined;
      finish(s, 'completed', 'verified', now);
      return;
  }
}

/** A wrong code: one attempt spent; the last one fails the verification (`max_attempts`). */
export function spendAttempt(s: PhoneState, now: number): CheckCodeResult {
  s.view.attemptsLeft = Math.max(0, s.view.attemptsLeft - 1);
  touch(s, now);
  if (s.view.attemptsLeft === 0) {
    finish(s, 'failed', 'max_attempts', now);
    return { status: 'failed', attemptsLeft: 0, reason: 'max_attempts' };
  }
  return { status: 'invalid_code', attemptsLeft: s.view.attemptsLeft };
}

/** The provider locked the request (too many wrong codes there): the verification fails `max_attempts`. */
export function lockedOut(s: PhoneState, run: Run, now: number): CheckCodeResult {
  if (s.run === run) s.run = undefined;
  s.view.attemptsLeft = 0;
  finish(s, 'failed', 'max_attempts', now);
  return { status: 'failed', attemptsLeft: 0, reason: 'max_attempts' };
}

/** The right code: the verification completes. */
export function verified(s: PhoneState, run: Run, now: number): CheckCodeResult {
  if (s.run === run) s.run = undefined;
  finish(s, 'completed', 'verified', now);
  return { status: 'completed', attemptsLeft: s.view.attemptsLeft };
}

/** The provider request is over (expired or ended there): what follows it is next. */
export function requestOver(s: PhoneState, run: Run, now: number): CheckCodeResult {
  if (s.run === run) {
    failChannels(s, s.view.channelIndex, run.last, now);
    s.run = undefined;
  }
  return { status: 'expired', attemptsLeft: s.view.attemptsLeft };
}

/** What a check answers once the verification is over. */
export function terminalResult(s: PhoneState): CheckCodeResult {
  return endedCheckResult(s.view);
}

/** What the main loop does next. */
export type Step =
  | { kind: 'end'; status: VerificationStatus; reason: Reason }
  | { kind: 'start'; index: number }
  | { kind: 'advance' }
  | { kind: 'timed_out' }
  | { kind: 'poll' }
  | { kind: 'wait'; untilMs: number };

/**
 * The next step of the main loop, in order: expiry, cancellation, no channel left, a run to start (none yet, or a
 * resend asked for), a move the caller asked for, a channel that timed out, a Twilio silent auth result to ask for,
 * else wait until the channel's deadline, the verification's expiry or the next silent auth check, whichever is first.
 */
export function nextStep(
  s: PhoneState,
  asked: { cancel: boolean; advance: boolean; resend: boolean },
  now: number,
): Step {
  if (now >= s.expiresAtMs) return { kind: 'end', status: 'expired', reason: 'expired' };
  if (asked.cancel) return { kind: 'end', status: 'cancelled', reason: 'cancelled' };
  if (s.view.channelIndex >= s.channels.length) return { kind: 'end', status: 'failed', reason: 'all_channels_failed' };
  if (!s.run || asked.resend) return { kind: 'start', index: s.view.channelIndex };
  if (asked.advance) return { kind: 'advance' };
  if (now >= s.channelDeadline) return { kind: 'timed_out' };
  const pollAt = s.run.kind === 'twilio' ? s.run.nextPollAtMs : undefined;
  if (pollAt !== undefined && now >= pollAt) return { kind: 'poll' };
  return { kind: 'wait', untilMs: Math.min(s.channelDeadline, s.expiresAtMs, pollAt ?? Infinity) };
}
