import { Runtime, type RuntimeOptions, type TelemetryOptions } from '@temporalio/worker';
import type { TelemetryConfig } from '../config/telemetry-config';
import { VERIFICATION_METRICS } from '../../workflows/metrics';

/**
 * Buckets of the verification histograms (the SDK's defaults are milliseconds of task latency): time to verify in
 * seconds, sends per verification, estimated cost in the price table's currency.
 */
export const VERIFICATION_HISTOGRAM_BUCKETS: Record<string, number[]> = {
  [VERIFICATION_METRICS.timeToVerify]: [5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1800],
  [VERIFICATION_METRICS.sendsPerVerification]: [0, 1, 2, 3, 4, 5, 6, 8, 10],
  [VERIFICATION_METRICS.cost]: [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5],
};

/**
 * The worker runtime's telemetry: the Temporal SDK's metrics (task slots, schedule-to-start latency, sticky cache,
 * polls, requests, workflow and activity outcomes) and the verification metrics our workflows emit, served for
 * Prometheus at `http://<WORKER_METRICS_ADDRESS>/metrics` (127.0.0.1:9464 by default; nothing when off). Counters keep
 * the SDK's names (`temporal_request`, no `_total`); our counters carry `_total` in their names.
 */
export function workerTelemetryOptions(telemetry: TelemetryConfig): TelemetryOptions {
  if (!telemetry.workerMetricsAddress) return {};
  return {
    metrics: {
      prometheus: {
        bindAddress: telemetry.workerMetricsAddress,
        histogramBucketOverrides: VERIFICATION_HISTOGRAM_BUCKETS,
      },
    },
  };
}

/**
 * Installs the process's Temporal runtime with that telemetry; call it once, before the first worker or native
 * connection is made. A platform team running our plugin in its own worker configures its own runtime the same way.
 */
export function installWorkerRuntime(telemetry: TelemetryConfig, options: Pick<RuntimeOptions, 'logger'> = {}): void {
  Runtime.install({ ...options, telemetryOptions: workerTelemetryOptions(telemetry) });
}
