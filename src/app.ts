import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { Client } from '@temporalio/client';
import type { AbuseGuard } from '../activities/abuse-guard';
import { ApiSecurity, templatesOf } from './auth/api-security';
import type { AppConfig } from './config/config';
import { AppModule } from './app.module';
import { HttpErrorsFilter } from './common/http-errors.filter';
import { installBodyParsers, translateBodyErrors } from './common/request-bodies';
import { mountSandbox, type Sandbox } from '../sandbox';
import { Metrics } from './metrics/metrics';
import { traceHttpRequests } from './telemetry/http-server';
import type { Tracing } from './telemetry/tracing';

export interface ApiApp {
  app: NestExpressApplication;
  sandbox?: Sandbox;
}

/**
 * Builds the API application: JSON-only REST bodies and raw bodies kept for webhook signatures (common/request-bodies),
 * errors answered in Nest's shape and logged by status (common/http-errors.filter), OpenAPI at /docs, the sandbox
 * emulators when in sandbox mode. `guard` is the abuse guard, the same store as the workers' (the caller owns and
 * closes it). With `tracing`, each API, webhook and SMS gateway request is a server span (telemetry/http-server). The
 * caller listens and closes.
 */
export async function createApi(
  config: AppConfig,
  client: Client,
  guard: AbuseGuard,
  options: { logger?: false; tracing?: Tracing } = {},
): Promise<ApiApp> {
  const metrics = new Metrics();
  const security = new ApiSecurity(guard, templatesOf(config), config.hashSecret, (scope, client) =>
    metrics.refusals.inc({ scope, client }),
  );
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config, client, security, metrics), {
    rawBody: true,
    bodyParser: false,
    ...(options.logger === false ? { logger: false } : {}),
  });
  app.useGlobalFilters(new HttpErrorsFilter(app.getHttpAdapter()));
  if (options.tracing) app.use(traceHttpRequests(options.tracing.tracer));
  installBodyParsers(app);
  app.enableShutdownHooks();
  const sandbox = config.sandbox ? mountSandbox(app, config) : undefined;
  app.use(translateBodyErrors);
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('verifyflow')
      .setDescription(
        'Durable user verification on Temporal. Every call maps to the Temporal contract (docs in README).',
      )
      .setVersion('0.1.0')
      .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'An API key, or a JWT of your identity provider' })
      .build(),
  );
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs/openapi.json' });
  return { app, sandbox };
}
