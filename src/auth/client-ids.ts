import type { WorkflowContract } from '../../workflows/contract';

/**
 * Whether `id` is a workflow ID the API client could own: an ID of one of `contracts` (its `idPattern`) made for the
 * client (`<idPrefix>-<client>-<key>`). A cheap first check (no Temporal call) before `ownedRun` confirms it on the
 * run itself.
 */
export function isClientId(id: string, client: string, contracts: readonly WorkflowContract[]): boolean {
  return contracts.some(
    (c) =>
      c.idPattern.test(id) &&
      id.startsWith(`${c.idPrefix}-${client}-`) &&
      id.length > c.idPrefix.length + client.length + 2,
  );
}
