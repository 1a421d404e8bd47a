import { SimplePlugin } from '@temporalio/plugin';
import { createActivities, type ActivityDeps } from '../../activities';
import { VonageVerifyAdapter, type VonageAdapterOptions } from '../../activities/providers/vonage';

export interface VerificationPluginOptions {
  /** Provider credentials; or `deps` to inject ready-made adapters (tests, custom transports). */
  vonage?: VonageAdapterOptions;
  deps?: ActivityDeps;
}

/**
 * The verifyflow worker plugin: registers our workflows and activities in any worker —
 * `Worker.create({ ..., plugins: [new VerificationPlugin({ vonage })] })`. Activities are merged with the host
 * worker's own; a host with its own workflowsPath must re-export ours from it (README "Embedding in your worker").
 */
export class VerificationPlugin extends SimplePlugin {
  constructor(options: VerificationPluginOptions) {
    const deps = options.deps ?? buildDeps(options);
    const activities = createActivities(deps);
    super({
      name: 'verifyflow',
      workflowsPath: (own) => own ?? require.resolve('../../workflows'),
      activities: (own) => ({ ...(own ?? {}), ...activities }),
    });
  }
}

/** One adapter per configured provider; providers without options are left out (their activities fail typed). */
function buildDeps(options: VerificationPluginOptions): ActivityDeps {
  return {
    vonage: options.vonage ? new VonageVerifyAdapter(options.vonage) : undefined,
  };
}
