import type { MetricHistogram, MetricMeter } from '@temporalio/common';
import type { InjectedSinks } from '@temporalio/worker';
import type { WorkflowInfo } from '@temporalio/workflow';
import type { PriceTable } from '../config/telemetry-config';
import { RecentlySeen } from './recently-seen';
import {
  VERIFICATION_METRICS,
  type VerificationCostSinks,
  type VerificationCostSummary,
} from '../../workflows/metrics';

/** What a verification's sends cost by the price table (`provider:channel` → price per send; missing = 0). */
export function estimateCost(prices: PriceTable, sends: Readonly<Record<string, number>>): number {
  let total = 0;
  for (const [key, count] of Object.entries(sends)) total += (prices[key] ?? 0) * count;
  return Math.round(total * 1e6) / 1e6;
}

/**
 * The worker side of the workflows' cost sink: prices each ended verification's sends and records the estimated cost
 * (`verifyflow_verification_estimated_cost{kind, status, client}`, in the price table's currency) on the runtime's
 * metric meter, beside the metrics the workflows emit. Not called for replayed code.
 */
export function verificationCostSinks(
  prices: PriceTable,
  meter: () => MetricMeter,
): InjectedSinks<VerificationCostSinks> {
  let histogram: MetricHistogram | undefined;
  const priced = new RecentlySeen();
  return {
    verifyflowCost: {
      ended: {
        fn(info: WorkflowInfo, summary: VerificationCostSummary) {
          // Once per run, though the task that ended it may run twice on this worker.
          if (!priced.firstTime(`${info.workflowId}/${info.runId}`)) return;
          histogram ??= meter().createHistogram(
            VERIFICATION_METRICS.cost,
            'float',
            undefined,
            'estimated provider cost per verification, in the currency of PROVIDER_PRICES',
          );
          histogram.record(estimateCost(prices, summary.sends), {
            namespace: info.namespace,
            taskQueue: info.taskQueue,
            workflowType: info.workflowType,
            kind: summary.kind,
            status: summary.status,
            client: summary.client,
          });
        },
        callDuringReplay: false,
      },
    },
  };
}
