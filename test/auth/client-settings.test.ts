import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BadRequestException } from '@nestjs/common';
import { stringify } from 'yaml';
import { ClientSettings } from '../../src/auth/client-settings';
import { loadAuthConfig } from '../../src/config/auth-config';

/**
 * Per-client settings (CLIENTS_FILE): validated once at startup with messages naming the client and the field; then
 * applied to each start — defaults where the request leaves something out, bounds it may narrow but never widen.
 */
const KEY = 'sha256:' + 'b'.repeat(64);
const write = (clients: unknown[], yaml = false): string => {
  const file = join(mkdtempSync(join(tmpdir(), 'client-settings-')), yaml ? 'clients.yaml' : 'clients.json');
  writeFileSync(file, yaml ? stringify({ clients }) : JSON.stringify({ clients }));
  return file;
};
const load = (clients: unknown[], yaml = false) =>
  loadAuthConfig({ CLIENTS_FILE: write(clients, yaml), API_KEYS: `plain:${KEY}` }, { sandbox: false });

const acme = {
  id: 'acme',
  keys: [KEY],
  brand: 'Acme',
  channels: ['whatsapp', 'sms', 'voice'],
  providers: ['sms_gateway', 'vonage'],
  messageTemplate: 'login',
  templates: { login: 'Acme code: @@password@@', short: '@@password@@' },
  maxCodeAttempts: 3,
  expirySeconds: 300,
};
const settings = new ClientSettings(load([acme], true).clients);
const refusal = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(BadRequestException);
    return (err as BadRequestException).message;
  }
  throw new Error('not refused');
};
const TO = '+14155550100';

describe('startup validation of CLIENTS_FILE settings', () => {
  it('reads them from YAML (and JSON) as written', () => {
    expect(load([acme], true).clients.acme).toMatchObject({
      brand: 'Acme',
      channels: ['whatsapp', 'sms', 'voice'],
      providers: ['sms_gateway', 'vonage'],
      messageTemplate: 'login',
      maxCodeAttempts: 3,
      expirySeconds: 300,
    });
    expect(load([acme]).clients.acme.channels).toEqual(['whatsapp', 'sms', 'voice']);
  });

  it.each([
    [{ channels: ['sms', 'fax'] }, /clients\.0\.channels\.1: /],
    [{ channels: ['sms', 'sms'] }, /clients\.0\.channels: must not list a channel twice/],
    [{ channels: [] }, /clients\.0\.channels: /],
    [{ providers: ['vonage', 'acme-sms'] }, /clients\.0\.providers\.1: /],
    [{ providers: ['vonage', 'vonage'] }, /clients\.0\.providers: must not list a provider twice/],
    [{ brand: 'A'.repeat(40) }, /clients\.0\.brand: /],
    [{ brand: 'Acme\u202e' }, /clients\.0\.brand: /],
    [{ maxCodeAttempts: 11 }, /clients\.0\.maxCodeAttempts: /],
    [{ expirySeconds: 2 }, /clients\.0\.expirySeconds: /],
    [{ channels: ['voice'], providers: ['sms_gateway'] }, /acme: channels: voice is served by none of its providers/],
    [{ channels: ['sms'], providers: ['stripe'] }, /acme: channels are listed but providers allows no phone provider/],
    [{ messageTemplate: 'welcome' }, /acme: messageTemplate: welcome is not one of its templates \(none\) nor default/],
    [{ templates: { login: 'x @@password@@' }, messageTemplate: 'otp' }, /messageTemplate: otp .*\(login\)/],
  ])('refuses %j, naming the field', (extra, message) => {
    expect(() => load([{ id: 'acme', keys: [KEY], ...extra }])).toThrow(message);
  });

  it('accepts a client without settings (the API_KEYS short form has none)', () => {
    const auth = load([{ id: 'bare', keys: [KEY] }]);
    expect(auth.clients.bare).toEqual({ id: 'bare' });
    expect(auth.clients.plain).toEqual({ id: 'plain' });
    expect(load([{ id: 'acme', keys: [KEY], messageTemplate: 'default' }]).clients.acme.messageTemplate).toBe(
      'default',
    );
  });
});

describe('phone starts under the client settings', () => {
  it('applies the defaults when the request leaves them out: brand, channels in its order, providers, template', () => {
    expect(settings.phoneStart('acme', { to: TO }, [])).toEqual({
      to: TO,
      brand: 'Acme',
      // whatsapp and voice only Vonage serves; sms goes to the first allowed provider that serves it.
      channels: [
        { channel: 'whatsapp', provider: 'vonage' },
        { channel: 'sms', provider: 'sms_gateway' },
        { channel: 'voice', provider: 'vonage' },
      ],
      messageTemplate: 'login',
      maxCodeAttempts: 3,
      expirySeconds: 300,
    });
  });

  it('accepts a request that narrows: fewer channels, another order, an allowed provider, its own brand', () => {
    const narrowed = settings.phoneStart(
      'acme',
      {
        to: TO,
        brand: 'Acme Pay',
        channels: [
          { channel: 'voice', provider: 'vonage' },
          { channel: 'sms', provider: 'vonage' },
        ],
        messageTemplate: 'short',
        maxCodeAttempts: 2,
        expirySeconds: 120,
      },
      [true, true],
    );
    expect(narrowed).toMatchObject({
      brand: 'Acme Pay',
      channels: [
        { channel: 'voice', provider: 'vonage' },
        { channel: 'sms', provider: 'vonage' },
      ],
      messageTemplate: 'short',
      maxCodeAttempts: 2,
      expirySeconds: 120,
    });
    // A channel named without a provider goes to the client's first provider for it (not the contract's vonage).
    expect(
      settings.phoneStart('acme', { to: TO, channels: [{ channel: 'sms', provider: 'vonage' }] }, [false]).channels,
    ).toEqual([{ channel: 'sms', provider: 'sms_gateway' }]);
  });

  it('refuses a request that widens, with a 400 naming the field', () => {
    expect(
      refusal(() =>
        settings.phoneStart('acme', { to: TO, channels: [{ channel: 'sms' }, { channel: 'silent_auth' }] }, []),
      ),
    ).toBe('channels[1].channel: silent_auth is not allowed for this client (allowed: whatsapp, sms, voice)');
    const vonageOnly = new ClientSettings(load([{ id: 'v', keys: [KEY], providers: ['vonage'] }]).clients);
    expect(
      refusal(() =>
        vonageOnly.phoneStart(
          'v',
          { to: TO, brand: 'V', channels: [{ channel: 'sms', provider: 'sms_gateway', gateway: 'gw' }] },
          [true],
        ),
      ),
    ).toBe('channels[0].provider: sms_gateway is not allowed for this client (allowed: vonage)');
    expect(refusal(() => settings.phoneStart('acme', { to: TO, maxCodeAttempts: 5 }, []))).toBe(
      'maxCodeAttempts: 5 is more than this client allows (at most 3)',
    );
    expect(refusal(() => settings.phoneStart('acme', { to: TO, expirySeconds: 600 }, [], 'phone.'))).toBe(
      'phone.expirySeconds: 600 is more than this client allows (at most 300)',
    );
    // In an onboarding the phone step's fields are named under `phone.`.
    expect(
      refusal(() =>
        settings.phoneStart('acme', { to: TO, channels: [{ channel: 'email', to: 'a@b.co' }] }, [], 'phone.'),
      ),
    ).toMatch(/^phone\.channels\[0\]\.channel: email is not allowed/);
  });

  it('push and identity need their provider allowed; a client without settings is bounded by nothing', () => {
    const phoneOnly = new ClientSettings(
      load([{ id: 'p', keys: [KEY], providers: ['vonage', 'sms_gateway'] }]).clients,
    );
    expect(refusal(() => phoneOnly.requireProvider('p', 'twilio', 'provider'))).toBe(
      'provider: twilio is not allowed for this client (allowed: vonage, sms_gateway)',
    );
    expect(() => phoneOnly.requireProvider('p', 'vonage', 'provider')).not.toThrow();
    expect(() => settings.requireProvider('plain', 'stripe', 'provider')).not.toThrow();
    const open = new ClientSettings(load([{ id: 'open', keys: [KEY] }]).clients);
    const request = {
      to: TO,
      brand: 'Open',
      channels: [{ channel: 'silent_auth' as const, provider: 'vonage' as const }],
    };
    expect(open.phoneStart('open', request, [true])).toEqual(request);
    expect(open.phoneStart('open', { to: TO, brand: 'Open' }, [])).toEqual({ to: TO, brand: 'Open' });
    expect(refusal(() => open.phoneStart('open', { to: TO }, []))).toBe(
      'brand: required (no default brand is configured for this client)',
    );
  });

  it('twilio serves phone channels too; a server without Twilio refuses it by name and never picks it', () => {
    const twilioFirst = load([{ id: 't', keys: [KEY], brand: 'T', providers: ['twilio', 'vonage'] }]).clients;
    const sms = { to: TO, channels: [{ channel: 'sms' as const }] };
    expect(new ClientSettings(twilioFirst).phoneStart('t', sms, [false]).channels).toEqual([
      { channel: 'sms', provider: 'twilio' },
    ]);
    const withoutTwilio = new ClientSettings(twilioFirst, ['twilio']);
    expect(withoutTwilio.phoneStart('t', sms, [false]).channels).toEqual([{ channel: 'sms', provider: 'vonage' }]);
    expect(
      refusal(() =>
        withoutTwilio.phoneStart(
          't',
          { to: TO, channels: [{ channel: 'voice', provider: 'twilio' }] },
          [true],
          'phone.',
        ),
      ),
    ).toBe('phone.channels[0].provider: twilio is not configured on this server');
    const onlyTwilio = new ClientSettings(load([{ id: 'o', keys: [KEY], brand: 'O', providers: ['twilio'] }]).clients, [
      'twilio',
    ]);
    expect(refusal(() => onlyTwilio.phoneStart('o', sms, [false]))).toBe(
      "channels[0].provider: none of this client's providers (none) serves sms",
    );
    // A client file listing channels only Twilio serves for a client that allows only Twilio is consistent.
    expect(() => load([{ id: 'w', keys: [KEY], providers: ['twilio'], channels: ['whatsapp'] }])).not.toThrow();
    expect(() => load([{ id: 's', keys: [KEY], providers: ['sms_gateway'], channels: ['voice'] }])).toThrow(
      'CLIENTS_FILE s: channels: voice is served by none of its providers (sms_gateway; sms_gateway sends sms only)',
    );
  });
});
