// A platform team's own workflows, in its own namespace: verification through our Nexus endpoint (README "Embedding").
import {
  ApplicationFailure,
  CancellationScope,
  condition,
  createNexusServiceClient,
  defineSignal,
  setHandler,
} from '@temporalio/workflow';
import { HandlerError } from 'nexus-rpc';
import { verificationNexusService } from '../../workflows/contract';

/** The code the user typed in (the team's UI signals it). */
export const codeEntered = defineSignal<[string]>('codeEntered');

/** A signup step that verifies the user's phone through the `verification` Nexus service. */
export async function signupWithPhone(input: { endpoint: string; userId: string; to: string }) {
  let code: string | undefined;
  setHandler(codeEntered, (c) => void (code = c));
  const verification = createNexusServiceClient({ endpoint: input.endpoint, service: verificationNexusService });
  // Runs the verification to its end: `result()` is its final state.
  const phone = await verification.startOperation('phoneVerification', {
    to: input.to,
    brand: 'Acme',
    reference: input.userId, // the ID is phone-<our client>-<userId>: checkCode and getState find it by reference
    channels: [{ channel: 'sms' }],
  });
  await condition(() => code !== undefined);
  const check = await verification.executeOperation('checkCode', { reference: input.userId, code: code! });
  return { check, phone: await phone.result() };
}

type Operation = keyof typeof verificationNexusService.operations;

/** What one operation answered, or how it failed (the handler's error type, or the operation's failure type). */
export async function callOperation(input: {
  endpoint: string;
  operation: Operation;
  input: unknown;
}): Promise<{ ok: unknown } | { error: { handler?: string; failure?: string; message: string } }> {
  const verification = createNexusServiceClient({ endpoint: input.endpoint, service: verificationNexusService });
  try {
    // Any operation, any input: the test sends bad ones too.
    const ok: unknown = await verification.executeOperation(input.operation, input.input as never, {
      scheduleToCloseTimeout: '30s',
    });
    return { ok };
  } catch (err) {
    const cause = (err as { cause?: unknown }).cause;
    if (cause instanceof HandlerError) return { error: { handler: cause.type, message: cause.message } };
    // A failed operation: the SDK wraps the handler's failure in one of type `OperationError`; ours is its cause.
    if (cause instanceof ApplicationFailure && cause.cause instanceof ApplicationFailure) {
      return { error: { failure: cause.cause.type ?? undefined, message: cause.cause.message } };
    }
    throw err;
  }
}

/** Starts an identity verification, reads its state, then cancels the operation (the team's user gave up). */
export async function identityThenCancel(input: { endpoint: string; reference: string }): Promise<unknown> {
  const verification = createNexusServiceClient({ endpoint: input.endpoint, service: verificationNexusService });
  const scope = new CancellationScope();
  const identity = await scope.run(() =>
    verification.startOperation('identityVerification', { type: 'document', reference: input.reference }),
  );
  const state = await verification.executeOperation('getState', { kind: 'identity', reference: input.reference });
  scope.cancel();
  await identity.result().catch(() => undefined); // the run's outcome is read on its side
  return state;
}
