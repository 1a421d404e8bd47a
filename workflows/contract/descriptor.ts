/**
 * How a workflow kind of the contract is described: the descriptor every kind module exports (WorkflowContract),
 * its messages (the SDK's update, signal and query definitions with what the contract doc says about them), and
 * `lazy`, which builds each kind's schemas on first use. Deterministic and Node-free (workflow code imports it).
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { QueryDefinition, SignalDefinition, UpdateDefinition } from '@temporalio/common';
import type { z } from 'zod';
import { buildOnce } from '../shared-libraries';

/**
 * `build`, run on the first call and remembered under `key` (unique in the contract). Every zod schema of the contract
 * is built this way: building them all at module load cost each workflow ≈ 16 ms (the bundle is evaluated per
 * workflow, docs/PERFORMANCE.md), for schemas of kinds it never validates; and in a worker the memo is shared by
 * every run (`buildOnce`), so only the first builds. Deterministic: the same schemas whatever the order of first use.
 */
export const lazy = <T>(key: string, build: () => T): (() => T) => buildOnce(`contract:${key}`, build);

/** What docs/CONTRACT.md says about a message: one line, and its argument's and result's schemas (built on demand). */
export interface MessageDoc<Arg = unknown, Ret = unknown> {
  summary: string;
  /** The argument's schema; absent when the message takes none. */
  input?: () => z.ZodType<Arg>;
  /** The result's schema (updates, queries). */
  result?: () => z.ZodType<Ret>;
}

/* eslint-disable @typescript-eslint/no-explicit-any -- message definitions are generic over any arguments */
/** An update of the contract: the SDK's definition (use it with setHandler, executeUpdate…) plus its documentation. */
export type ContractUpdate<Ret, Args extends any[] = []> = UpdateDefinition<Ret, Args> & MessageDoc<Args[0], Ret>;
/** A signal of the contract: the SDK's definition plus its documentation. */
export type ContractSignal<Args extends any[]> = SignalDefinition<Args> & MessageDoc<Args[0], never>;
/** A query of the contract: the SDK's definition plus its documentation. */
export type ContractQuery<Ret> = QueryDefinition<Ret> & MessageDoc<never, Ret>;
export type ContractMessage = ContractUpdate<any, any> | ContractSignal<any> | ContractQuery<any>;

/** Defines an update under its wire name, with what the contract doc says about it. */
export const update = <Ret, Args extends any[] = []>(
  name: string,
  doc: { summary: string; input?: () => z.ZodType<Args[0]>; result: () => z.ZodType<Ret> },
): ContractUpdate<Ret, Args> => Object.assign(defineUpdate<Ret, Args>(name), doc);

/** Defines a signal under its wire name, with what the contract doc says about it. */
export const signal = <Args extends [any]>(
  name: string,
  doc: { summary: string; input: () => z.ZodType<Args[0]> },
): ContractSignal<Args> => Object.assign(defineSignal<Args>(name), doc);

/** Defines a query under its wire name, with what the contract doc says about it. */
export const query = <Ret>(name: string, doc: { summary: string; result: () => z.ZodType<Ret> }): ContractQuery<Ret> =>
  Object.assign(defineQuery<Ret>(name), doc);

/**
 * One workflow kind as other services see it: its workflow type, workflow IDs, input and result, messages and
 * defaults. The API validates IDs with it, the contract doc and the replay test iterate every one
 * (`WORKFLOW_CONTRACTS` in ./index.ts), and callers use its message definitions:
 * `handle.executeUpdate(phoneContract.messages.checkCode, { args: [{ code }] })`.
 */
export interface WorkflowContract<
  S extends { input: z.ZodType; result: z.ZodType } = { input: z.ZodType; result: z.ZodType },
  M extends Record<string, ContractMessage> = Record<string, ContractMessage>,
  Id extends (...args: any[]) => string = (...args: any[]) => string,
  D = unknown,
> {
  /** The workflow type (its name on the wire). */
  type: string;
  /** Its `VerificationKind` search attribute (and state `kind`), for the kinds that publish one. */
  kind?: string;
  /** What it does, for docs/CONTRACT.md. */
  summary: string;
  /** What every workflow ID of this kind starts with, before its `-`. */
  idPrefix: string;
  /** Every workflow ID of this kind matches it (the API refuses others before calling Temporal). */
  idPattern: RegExp;
  /** The ID scheme in words, for docs/CONTRACT.md. */
  idScheme: string;
  /** Makes the workflow ID from business keys. */
  id: Id;
  /** More functions of the kind's IDs and keys (a child's ID, a provider-side key an ID derives from). */
  helpers?: Record<string, (...args: any[]) => string>;
  /** The kind's zod schemas (`input` and `result` among them), built on the first call. */
  schemas: () => S;
  /** Its updates, signals and queries, by TypeScript name (each carries its wire name). */
  messages: M;
  /** The values used when the input leaves them out. */
  defaults: D;
  /** Reasons of its own, when its terminal reasons are not (only) REASONS. */
  reasons?: readonly string[];
}
/* eslint-enable @typescript-eslint/no-explicit-any */
