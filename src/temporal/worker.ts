import { NativeConnection, Worker, type WorkerPlugin } from '@temporalio/worker';
import type { AbuseGuard } from '../../activities/abuse-guard';
import { eventEndpointsOf, templatesOf } from '../auth/api-security';
import { ClientSettings } from '../auth/client-settings';
import type { AppConfig } from '../config/config';
import { EncryptionCodec } from './codec';
import { VerificationPlugin } from './plugin';

/**
 * Builds the verifyflow worker from config: a NativeConnection from envconfig and our VerificationPlugin — the same
 * plugin a platform team puts in its own worker. The caller runs it (`worker.run()`) and owns the connection.
 * `overrides.workflowsPath`: another workflows module (one that re-exports ours, changing some), as a host's own
 * worker would have; the cluster's rolling-deploy test runs its build B that way.
 */
export async function createWorker(
  config: AppConfig,
  guard: AbuseGuard,
  overrides: {
    connection?: NativeConnection;
    taskQueue?: string;
    plugins?: WorkerPlugin[];
    workflowsPath?: string;
  } = {},
): Promise<{ worker: Worker; connection: NativeConnection }> {
  const connection =
    overrides.connection ?? (await NativeConnection.connect(config.temporal.connect.connectionOptions));
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.connect.namespace ?? 'default',
    taskQueue: overrides.taskQueue ?? config.taskQueue,
    ...(overrides.workflowsPath ? { workflowsPath: overrides.workflowsPath } : {}),
    plugins: [
      new VerificationPlugin({
        vonage: config.vonage,
        twilio: config.twilio,
        stripe: config.stripe,
        smsGateways: { gateways: config.sms.gateways, timeoutMs: config.sms.gatewayTimeoutMs },
        otpHmacSecret: config.sms.otpHmacSecret,
        vonageSms: config.sms.vonageSms,
        payloadCodec: new EncryptionCodec(config.codec.keys),
        abuseGuard: guard,
        templates: templatesOf(config),
        events: eventEndpointsOf(config),
        shareWorkflowLibraries: config.worker.shareWorkflowLibraries,
        prices: config.telemetry.prices,
        ...(Object.keys(config.nexus.endpoints).length
          ? { nexus: { endpoints: nexusEndpoints(config), referenceKey: config.hashSecret } }
          : {}),
      }),
      ...(overrides.plugins ?? []),
    ],
    ...(config.worker.maxCachedWorkflows !== undefined ? { maxCachedWorkflows: config.worker.maxCachedWorkflows } : {}),
    ...(config.worker.maxConcurrentWorkflowTasks !== undefined
      ? { maxConcurrentWorkflowTaskExecutions: config.worker.maxConcurrentWorkflowTasks }
      : {}),
    ...(config.worker.maxConcurrentActivities !== undefined
      ? { maxConcurrentActivityTaskExecutions: config.worker.maxConcurrentActivities }
      : {}),
    ...(config.worker.deploymentName && config.worker.buildId
      ? {
          workerDeploymentOptions: {
            version: { deploymentName: config.worker.deploymentName, buildId: config.worker.buildId },
            useWorkerVersioning: true,
            defaultVersioningBehavior: config.worker.defaultVersioningBehavior,
          },
        }
      : {}),
  });
  return { worker, connection };
}

/**
 * Each Nexus endpoint's API client, with the events option and the settings of its runs (as REST starts of that client
 * have).
 */
function nexusEndpoints(config: AppConfig) {
  const settings = new ClientSettings(config.auth.clients, config.twilio ? [] : ['twilio']);
  return Object.fromEntries(
    Object.entries(config.nexus.endpoints).map(([endpoint, client]) => {
      const events = settings.eventsOption(client);
      return [endpoint, { client, settings, ...(events && { events }) }];
    }),
  );
}
