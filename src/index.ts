/**
 * The verifyflow package for platform teams: the worker plugin, the payload codec and the contract (one descriptor
 * per workflow kind — `phoneContract`, `pushContract`, … listed in `WORKFLOW_CONTRACTS` — with the types of their
 * payloads). Put the plugin in your worker and call our workflows by name from any client. Workflow code must import
 * from `verifyflow/dist/workflows` (deterministic, Node-free), never from this entry point.
 */
export { SHARED_WORKFLOW_MODULES, VerificationPlugin, type VerificationPluginOptions } from './temporal/plugin';
export { EncryptionCodec, parseCodecKeys, codecDataConverter, type CodecKeys } from './temporal/codec';
export * from '../workflows/contract';
