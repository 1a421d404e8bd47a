/**
 * The verifyflow package for platform teams: the worker plugin and the contract. Put the plugin in your worker,
 * call our workflows by name from any client, or as child workflows from yours.
 */
export { VerificationPlugin, type VerificationPluginOptions } from './temporal/plugin';
export * from '../workflows/definitions';
export { phoneVerification } from '../workflows/phone-verification';
