import 'reflect-metadata';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { HttpException } from '@nestjs/common';
import type { AbuseGuard } from '../activities/abuse-guard';
import { createAbuseGuard } from '../src/auth/abuse-guard';
import { ApiSecurity, templatesOf } from '../src/auth/api-security';
import { Authenticator } from '../src/auth/authenticator';
import { ClientSettings, explicitProviders, type PhoneStartRequest } from '../src/auth/client-settings';
import { ZodBody } from '../src/common/zod-body';
import { loadConfig } from '../src/config/config';
import { phoneStartSchema } from '../src/phone/phone.controller';
import { PhoneService } from '../src/phone/phone.service';
import { connectClient } from '../src/temporal/client';
import { runMain } from '../src/run-main';
import { PLAIN_ROUTES, type PlainRoute } from './lib/api-overhead';

/**
 * Bench only, never a product path: `POST /v1/verifications/phone` without NestJS, on a bare `node:http` server, for
 * `bench/api-overhead` to compare with the API. Same configuration, Temporal client, payload codec and PhoneService (so
 * the same workflow, input, ID, memo, search attributes and summaries) as the API; each route leaves out more of what
 * the API does around that start (PLAIN_ROUTES says what). Listens on PORT at HOST.
 */
runMain(async () => {
  const config = loadConfig();
  const client = await connectClient(config);
  const guard = createAbuseGuard(config.limits);
  const settings = new ClientSettings(config.auth.clients, config.twilio ? [] : ['twilio']);
  const authenticator = new Authenticator(config.auth);
  const validate = new ZodBody(phoneStartSchema);
  const service = new PhoneService(
    client,
    config,
    new ApiSecurity(guard, templatesOf(config), config.hashSecret),
    settings,
  );
  // Every send allowed, nothing counted: the `temporal` route leaves the abuse guard's store out.
  const allowAll: AbuseGuard = {
    consumeSend: async () => ({ allowed: true }),
    refundSend: async () => undefined,
    peekSend: async () => ({ allowed: true }),
    checkAllowed: async () => ({ allowed: true }),
    recordFailedCheck: async () => undefined,
    reserveCheck: async () => ({ allowed: true }),
    releaseCheck: async () => undefined,
    noteCompletedByCheck: async () => undefined,
    completedByCheck: async () => false,
    startBegun: async () => false,
    forgetStart: async () => undefined,
    close: async () => undefined,
  };
  const unguarded = new PhoneService(
    client,
    config,
    new ApiSecurity(allowAll, templatesOf(config), config.hashSecret),
    settings,
  );
  const bench = process.env.PLAIN_CLIENT ?? 'bench';

  const handle = async (route: PlainRoute, req: IncomingMessage): Promise<unknown> => {
    const text = await readBody(req);
    const raw: unknown = JSON.parse(text);
    if (route === 'temporal') return unguarded.start(bench, raw as PhoneStartRequest, explicitProviders(raw));
    const caller = await authenticator.authenticate(req.headers.authorization);
    if (!('client' in caller)) throw new HttpException('invalid credential', 401);
    const body = route === 'full' ? (validate.transform(raw) as PhoneStartRequest) : (raw as PhoneStartRequest);
    return service.start(caller.client, body, explicitProviders(raw));
  };

  const server = createServer((req, res) => {
    const route = PLAIN_ROUTES.find((r) => req.method === 'POST' && req.url === `/plain/${r}`);
    if (!route) return answer(res, 404, { message: 'not found' });
    handle(route, req).then(
      (state) => answer(res, 201, state),
      (err: unknown) =>
        err instanceof HttpException
          ? answer(res, err.getStatus(), err.getResponse())
          : answer(res, 500, { message: (err as Error)?.message ?? 'error' }),
    );
  });
  await new Promise<void>((resolve) => server.listen(config.port, config.host, resolve));
  console.log(`plain route on http://${config.host}:${config.port}`);
  return async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await guard.close();
    await client.connection.close();
  };
});

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function answer(res: ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(json),
  });
  res.end(json);
}
