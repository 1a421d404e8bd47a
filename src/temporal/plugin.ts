import type { DataConverter, PayloadCodec } from '@temporalio/common';
import { SimplePlugin } from '@temporalio/plugin';
import { Runtime, type BundleOptions, type ReplayWorkerOptions, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../../activities';
import type { AbuseGuard } from '../../activities/abuse-guard';
import type { EventEndpoints } from '../../activities/events';
import type { MessageTemplates } from '../../activities/message-templates';
import { VonageVerifyAdapter, type VonageAdapterOptions } from '../../providers/vonage/verify';
import { TwilioPushAdapter, type TwilioPushOptions } from '../../providers/twilio/push';
import { TwilioVerifyAdapter, type TwilioVerifyOptions } from '../../providers/twilio/verify';
import { StripeIdentityAdapter, type StripeIdentityAdapterOptions } from '../../providers/stripe/identity';
import { HttpSmsGateways, type SmsGatewayConfig } from '../../providers/sms-gateway/http-gateways';
import { VonageSmsAdapter, type VonageSmsOptions } from '../../providers/vonage/sms';
import { EXAMPLE_PROVIDER_PRICES, type PriceTable } from '../config/telemetry-config';
import { verificationCostSinks } from '../telemetry/cost';
import { verificationServiceHandler, type NexusEndpointClient } from './nexus';
import { dropTaskTokenFromLogs } from './task-token-interceptor';

export interface VerificationPluginOptions {
  /** Encrypts payloads (appended after the host's own codecs). Give clients that talk to these workflows the same. */
  payloadCodec?: PayloadCodec;
  /** Provider credentials; or `deps` to inject ready-made adapters (tests, custom transports). */
  vonage?: VonageAdapterOptions;
  /** Twilio Verify: Push, and the Verifications of `twilio` phone channels (same account and service). */
  twilio?: TwilioPushOptions & Pick<TwilioVerifyOptions, 'customFriendlyName'>;
  /** Stripe Identity (identity verification): secret key and an optional API base override. */
  stripe?: StripeIdentityAdapterOptions;
  /** HTTP SMS gateways (provider `sms_gateway`), the default one first, and their default per-call timeout. */
  smsGateways?: { gateways: SmsGatewayConfig[]; timeoutMs?: number };
  /** The key of our own OTP's HMAC (OTP_HMAC_SECRET); sms_gateway channels need it. */
  otpHmacSecret?: Buffer | string;
  /** The Vonage SMS API (smsDelivery routes). */
  vonageSms?: VonageSmsOptions;
  /**
   * The abuse guard every send and code check passes (sends per destination, prefix and client; failed checks per
   * destination). Give the one your API uses (same store), or every worker counts on its own. Its store also holds
   * the notes that let a Vonage start run again after a lost workflow task take over the request it made; without a
   * guard such a start falls back to the next channel instead.
   */
  abuseGuard?: AbuseGuard;
  /** Named SMS texts of our own OTP (`messageTemplate`); without it only `default`. */
  templates?: MessageTemplates;
  /**
   * The events endpoint and Standard Webhooks secret of each API client that receives outbound events (by client id).
   * Only runs whose input carries the `events` option send any.
   */
  events?: EventEndpoints;
  deps?: ActivityDeps;
  /**
   * Evaluate the pure libraries our workflows use (zod, libphonenumber-js: `workflows/shared-libraries.ts`) once per
   * worker, in the SDK's reusable V8 context, instead of once per workflow (`bundlerOptions.preloadModules`); the
   * contract's zod schemas are then built once per worker too (`buildOnce`). Default
   * true: about a quarter less worker CPU and a third of the memory per cached workflow (docs/PERFORMANCE.md). Turn
   * it off only to measure the difference; it has no effect on a worker run with `reuseV8Context: false`.
   */
  shareWorkflowLibraries?: boolean;
  /**
   * Prices per send (`provider:channel` → price) for the estimated cost per verification the worker records
   * (`verifyflow_verification_estimated_cost`); default the example table of README "Operating it".
   */
  prices?: PriceTable;
  /**
   * Serve the `verification` Nexus service (workflows/contract/nexus.ts) from this worker: Nexus endpoint name → the
   * API client its callers act as (README "Embedding"). Without it the worker serves no Nexus service.
   */
  nexus?: {
    endpoints: Record<string, NexusEndpointClient>;
    /**
     * The API's VERIFYFLOW_HASH_SECRET: a start under a running reference with another request is then refused
     * (`ReferenceConflict`) instead of joining it.
     */
    referenceKey?: Buffer;
  };
}

/** The modules `shareWorkflowLibraries` preloads; give them to `bundleWorkflowCode` when you prebuild a bundle. */
export const SHARED_WORKFLOW_MODULES: readonly string[] = [require.resolve('../../workflows/shared-libraries')];

/**
 * The verifyflow worker plugin: registers our workflows and activities in any worker —
 * `Worker.create({ ..., plugins: [new VerificationPlugin({ vonage })] })`. Activities are merged with the host
 * worker's own; a host with its own workflowsPath must re-export ours from it (README "Embedding in your worker").
 * With `nexus`, it also serves the `verification` Nexus service. It keeps activity task tokens out of the worker's log
 * lines.
 */
export class VerificationPlugin extends SimplePlugin {
  private readonly preloadModules: readonly string[];
  private readonly prices: PriceTable;

  constructor(options: VerificationPluginOptions) {
    const deps = options.deps ?? buildDeps(options);
    const activities = createActivities(deps);
    super({
      name: 'verifyflow',
      workflowsPath: (own) => own ?? require.resolve('../../workflows'),
      activities: (own) => ({ ...(own ?? {}), ...activities }),
      ...(options.nexus
        ? {
            nexusServices: [
              verificationServiceHandler({
                endpoints: options.nexus.endpoints,
                abuseGuard: deps.guard,
                templates: deps.templates,
                ...(options.nexus.referenceKey && { referenceKey: options.nexus.referenceKey }),
              }),
            ],
          }
        : {}),
      // Activity log lines carry no task token (a credential): see task-token-interceptor.ts.
      workerInterceptors: { activity: [dropTaskTokenFromLogs] },
      ...(options.payloadCodec
        ? {
            dataConverter: (own?: DataConverter): DataConverter => ({
              ...own,
              payloadCodecs: [...(own?.payloadCodecs ?? []), options.payloadCodec!],
            }),
          }
        : {}),
    });
    this.preloadModules = options.shareWorkflowLibraries === false ? [] : SHARED_WORKFLOW_MODULES;
    this.prices = options.prices ?? EXAMPLE_PROVIDER_PRICES;
  }

  override configureWorker(options: WorkerOptions): WorkerOptions {
    const configured = super.configureWorker(options);
    const bundlerOptions = configured.bundlerOptions ?? {};
    return {
      ...configured,
      bundlerOptions: { ...bundlerOptions, preloadModules: this.withPreload(bundlerOptions) },
      sinks: { ...configured.sinks, ...this.costSinks() },
    };
  }

  override configureReplayWorker(options: ReplayWorkerOptions): ReplayWorkerOptions {
    const configured = super.configureReplayWorker(options);
    return { ...configured, sinks: { ...configured.sinks, ...this.costSinks() } };
  }

  /** The sink the workflows hand each ended verification's sends to (workflows/metrics.ts), priced here. */
  private costSinks() {
    return verificationCostSinks(this.prices, () => Runtime.instance().metricMeter);
  }

  override configureBundler(options: BundleOptions): BundleOptions {
    const configured = super.configureBundler(options);
    return { ...configured, preloadModules: this.withPreload(configured) };
  }

  private withPreload(options: { preloadModules?: string[] }): string[] {
    return [...new Set([...(options.preloadModules ?? []), ...this.preloadModules])];
  }
}

/** One adapter per configured provider; providers without options are left out (their activities fail typed). */
function buildDeps(options: VerificationPluginOptions): ActivityDeps {
  return {
    vonage: options.vonage ? new VonageVerifyAdapter(options.vonage) : undefined,
    twilio: options.twilio ? new TwilioPushAdapter(options.twilio) : undefined,
    twilioVerify: options.twilio ? new TwilioVerifyAdapter(options.twilio) : undefined,
    stripe: options.stripe ? new StripeIdentityAdapter(options.stripe) : undefined,
    smsGateways: options.smsGateways?.gateways.length
      ? new HttpSmsGateways(options.smsGateways.gateways, { timeoutMs: options.smsGateways.timeoutMs })
      : undefined,
    otp: options.otpHmacSecret ? { hmacSecret: Buffer.from(options.otpHmacSecret) } : undefined,
    vonageSms: options.vonageSms ? new VonageSmsAdapter(options.vonageSms) : undefined,
    guard: options.abuseGuard,
    templates: options.templates,
    events: options.events,
  };
}
