/**
 * Verification metrics, emitted from the workflows through the SDK's workflow metric meter (`metricMeter`): it drops
 * what replayed code emits, so a verification is counted once however often its history is replayed (a workflow task
 * that fails and is retried can count its own emissions twice), and it adds no command to the history. The worker
 * serves them for Prometheus with the SDK's own metrics (README "Operating it").
 *
 * Labels are kind, channel, provider, reason, status, scope and client — never an ID, a number or a code. The SDK adds
 * namespace, taskQueue and workflowType.
 *
 * The workflows call this module from the few places a verification starts, sends, checks a code, falls back, is
 * refused and ends. Deterministic, Node-free (workflow bundle). The estimated cost goes to the worker through a sink
 * (`VerificationCostSinks`): the price table is worker config, which workflow code cannot read.
 */
import { metricMeter, proxySinks, workflowInfo, type Sinks } from '@temporalio/workflow';
import type { ApplicationFailure } from '@temporalio/common';
import { TEMPORAL_CALLER_CLIENT } from './common';
import { isTerminal, type VerificationStatus } from './contract/common';
import type { CheckCodeResult } from './contract/phone';
import type { PhoneState } from './phone/state';

/** The metric names, for the dashboard, its test and the worker's histogram buckets. */
export const VERIFICATION_METRICS = {
  started: 'verifyflow_verifications_started_total',
  sends: 'verifyflow_sends_total',
  ended: 'verifyflow_verifications_ended_total',
  timeToVerify: 'verifyflow_time_to_verify_seconds',
  sendsPerVerification: 'verifyflow_verification_sends',
  checks: 'verifyflow_checks_total',
  failedChecks: 'verifyflow_checks_failed_total',
  fallbacks: 'verifyflow_fallbacks_total',
  refusals: 'verifyflow_abuse_refusals_total',
  /** Recorded by the worker from the cost sink (it knows the prices). */
  cost: 'verifyflow_verification_estimated_cost',
} as const;

/** Where a send went: `provider` and `channel` labels (and the price table's `provider:channel` key). */
export interface SendTarget {
  provider: string;
  channel: string;
}

/** What the worker prices when a verification ends: how many sends went where (`provider:channel` → count). */
export interface VerificationCostSummary {
  kind: string;
  status: VerificationStatus;
  client: string;
  sends: Record<string, number>;
}

/** The sink the worker registers (VerificationPlugin) to record the estimated cost of each verification. */
export interface VerificationCostSinks extends Sinks {
  verifyflowCost: { ended(summary: VerificationCostSummary): void };
}

const costSink = proxySinks<VerificationCostSinks>().verifyflowCost;

/**
 * One verification's metrics: counted as started when made (the first thing a workflow does), then sends, checks,
 * fallbacks and refusals as they happen, and `ended` once.
 */
export class VerificationMeter {
  private readonly sends: Record<string, number> = {};
  private readonly client: string;
  private over = false;

  constructor(
    readonly kind: 'phone' | 'push' | 'identity',
    client: string | undefined,
  ) {
    this.client = client ?? TEMPORAL_CALLER_CLIENT;
    count(VERIFICATION_METRICS.started, 'verifications started', { kind, client: this.client });
  }

  /** A message, call, silent-auth attempt, push challenge or identity session went out. */
  sent(to: SendTarget): void {
    const key = `${to.provider}:${to.channel}`;
    this.sends[key] = (this.sends[key] ?? 0) + 1;
    count(VERIFICATION_METRICS.sends, 'sends by provider and channel', { ...this.labels(), ...to });
  }

  /** A code was checked on `at`; a wrong one (invalid, or the last attempt) also counts as a failed check. */
  checked<R extends Pick<CheckCodeResult, 'status' | 'reason'>>(result: R, at: SendTarget): R {
    count(VERIFICATION_METRICS.checks, 'codes checked', { ...this.labels(), ...at });
    if (result.status === 'invalid_code' || (result.status === 'failed' && result.reason === 'max_attempts')) {
      count(VERIFICATION_METRICS.failedChecks, 'wrong codes checked', { ...this.labels(), ...at });
    }
    return result;
  }

  /** The verification left `from` for another channel or provider, `reason` being why. */
  fellBack(from: SendTarget, reason: string): void {
    count(VERIFICATION_METRICS.fallbacks, 'fallbacks taken', { ...this.labels(), ...from, reason });
  }

  /** The abuse guard refused a send or a check (its details name the scope). Returns the refusal. */
  refused(refusal: ApplicationFailure): ApplicationFailure {
    const detail = (refusal.details?.[0] ?? {}) as { scope?: unknown };
    const scope = typeof detail.scope === 'string' && /^[a-z_]{1,32}$/.test(detail.scope) ? detail.scope : 'unknown';
    count(VERIFICATION_METRICS.refusals, 'abuse guard refusals by scope', { ...this.labels(), scope });
    return refusal;
  }

  /**
   * The verification is over (`status`, `reason`) on `at` (the channel it ended on): its outcome, its time to verify
   * when completed, its sends, and its sends handed to the worker to price. Once; later calls do nothing.
   */
  ended(status: VerificationStatus, reason: string | undefined, at: SendTarget): void {
    if (this.over || !isTerminal(status)) return;
    this.over = true;
    const labels = { ...this.labels(), ...at };
    count(VERIFICATION_METRICS.ended, 'verifications ended by status and reason', {
      ...labels,
      status,
      reason: reason ?? status,
    });
    if (status === 'completed') {
      const seconds = Math.max(0, (Date.now() - workflowInfo().startTime.getTime()) / 1000);
      metricMeter
        .createHistogram(VERIFICATION_METRICS.timeToVerify, 'float', 's', 'time from start to verified')
        .record(seconds, labels);
    }
    const total = Object.values(this.sends).reduce((a, b) => a + b, 0);
    metricMeter
      .createHistogram(VERIFICATION_METRICS.sendsPerVerification, 'int', undefined, 'sends per verification')
      .record(total, { ...this.labels(), status });
    if (!workflowInfo().unsafe.isReplaying) {
      costSink.ended({ kind: this.kind, status, client: this.client, sends: { ...this.sends } });
    }
  }

  private labels(): { kind: string; client: string } {
    return { kind: this.kind, client: this.client };
  }
}

function count(name: string, description: string, labels: Record<string, string>): void {
  metricMeter.createCounter(name, undefined, description).add(1, labels);
}

/**
 * What the phone observer saw last: channels seen sent, the code of ours last seen, the current channel and its
 * deadline (0 while that channel is not active).
 */
export interface PhoneSeen {
  sent: readonly number[];
  issue: number;
  index: number;
  deadline: number;
}

/** What a look at the phone state gives: sends (channel indexes) and the channel left, if any, and why. */
export interface PhoneChanges {
  seen: PhoneSeen;
  sends: number[];
  left?: { index: number; reason: 'timeout' | 'requested' | 'failed' };
}

/**
 * The pure part of the phone observer. A Vonage channel is sent when it first shows active (or completed); a code of
 * ours when a new issue serves the run (a resend included). A move to a later channel while channels are left is a
 * fallback from the channel left: `timeout` when it was active and its deadline had passed, `requested` when the
 * caller asked (nextChannel), else `failed` (the provider or the send failed).
 */
export function phoneChanges(seen: PhoneSeen, s: PhoneState, now: number, requested: boolean): PhoneChanges {
  const sends: number[] = [];
  const sent = [...seen.sent];
  s.view.channels.forEach((c, i) => {
    const shown = c.status === 'active' || c.status === 'completed';
    if (shown && !sent.includes(i) && s.channels[i]?.provider !== 'sms_gateway') sends.push(i);
    if (shown && !sent.includes(i)) sent.push(i);
  });
  const issue = s.run?.kind === 'own_otp' ? s.run.issue : seen.issue;
  if (issue !== seen.issue && s.run) sends.push(s.run.first);
  const index = s.view.channelIndex;
  const moved = index > seen.index && index < s.channels.length && !isTerminal(s.view.status);
  const reason = seen.deadline > 0 && now >= seen.deadline ? 'timeout' : requested ? 'requested' : 'failed';
  // A deadline is the current channel's only while that channel is active (0: none to time out).
  const deadline = s.view.channels[index]?.status === 'active' ? s.channelDeadline : 0;
  return {
    seen: { sent, issue, index, deadline },
    sends,
    ...(moved ? { left: { index: seen.index, reason } } : {}),
  };
}

/**
 * The phone workflow's meter: looks at its state after each step and each provider event (`observe`), so the
 * driver's only calls are observe, checked, refused, nextChannelRequested and ended.
 */
export class PhoneMeter {
  private readonly meter: VerificationMeter;
  private seen: PhoneSeen = { sent: [], issue: 0, index: 0, deadline: 0 };
  private requested = false;

  constructor(private readonly s: PhoneState) {
    this.meter = new VerificationMeter('phone', s.view.client);
  }

  /** Counts what changed since the last look: sends, and the channel left. */
  observe(): void {
    const changes = phoneChanges(this.seen, this.s, Date.now(), this.requested);
    for (const i of changes.sends) this.meter.sent(this.target(i));
    if (changes.left) {
      this.meter.fellBack(this.target(changes.left.index), changes.left.reason);
      this.requested = false;
    }
    this.seen = changes.seen;
  }

  /** The caller asked for the next channel: the move that follows is `requested`. */
  nextChannelRequested(): void {
    this.requested = true;
  }

  checked<R extends CheckCodeResult>(result: R): R {
    return this.meter.checked(result, this.target(this.s.view.channelIndex));
  }

  refused(refusal: ApplicationFailure): ApplicationFailure {
    return this.meter.refused(refusal);
  }

  ended(): void {
    this.observe();
    this.meter.ended(this.s.view.status, this.s.view.reason, this.target(this.s.view.channelIndex));
  }

  private target(index: number): SendTarget {
    const c = this.s.channels[Math.min(index, this.s.channels.length - 1)];
    return { provider: c.provider, channel: c.channel };
  }
}
