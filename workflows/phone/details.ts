/**
 * What the Web UI shows of a phone verification while it runs: its current details and the snapshot of what its search
 * attributes say (re-published when it changes). Pure; never the destination.
 */
import type { SearchAttributePair } from '@temporalio/common';
import {
  isTerminal,
  SA_CHANNEL,
  SA_CLIENT,
  SA_KIND,
  SA_PROVIDER,
  SA_PROVIDER_REF,
  SA_STATUS,
  type Channel,
} from '../contract/common';
import type { PhoneState } from './state';

const CHANNEL_LABEL: Record<Channel, string> = {
  silent_auth: 'silent auth',
  sms: 'SMS code',
  voice: 'voice call code',
  whatsapp: 'WhatsApp code',
  email: 'e-mail code',
};

/** The current details the Web UI shows (never the destination). */
export function describe(s: PhoneState): string {
  const planned = s.channels[s.view.channelIndex];
  const expires = s.view.expiresAt.slice(11, 19);
  if (isTerminal(s.view.status)) return `${s.view.status}${s.view.reason ? ` (${s.view.reason})` : ''}`;
  if (!planned) return `moving on, expires ${expires} UTC`;
  const what =
    planned.channel === 'silent_auth'
      ? 'waiting for the silent auth check'
      : `waiting for the ${CHANNEL_LABEL[planned.channel]}`;
  const via =
    planned.provider === 'sms_gateway'
      ? `sms_gateway ${s.view.channels[s.view.channelIndex].gateway ?? ''}`
      : planned.provider;
  return `${what}, channel ${s.view.channelIndex + 1} of ${s.channels.length} (${via.trim()}), expires ${expires} UTC`;
}

/** What the search attributes say: re-published when it changes while the run waits. */
export const snapshot = (s: PhoneState): string => `${s.view.status}|${s.view.channel}|${s.view.channelIndex}`;

/**
 * The search attributes the state stands for: kind, status, channel, provider and client; with `refs`, the provider
 * refs too (callback routing when the ID does not fit client_ref, and the terminal upsert). Never PII.
 */
export function attributesOf(s: PhoneState, refs: boolean): SearchAttributePair[] {
  return [
    { key: SA_KIND, value: 'phone' },
    { key: SA_STATUS, value: s.view.status },
    { key: SA_CHANNEL, value: s.view.channel ?? '' },
    { key: SA_PROVIDER, value: s.channels[Math.min(s.view.channelIndex, s.channels.length - 1)].provider },
    ...(s.view.client ? [{ key: SA_CLIENT, value: s.view.client }] : []),
    ...(refs ? [{ key: SA_PROVIDER_REF, value: [...s.providerRefs] }] : []),
  ];
}
