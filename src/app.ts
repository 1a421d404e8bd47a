import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { Client } from '@temporalio/client';
import type { AppConfig } from './config/config';
import { AppModule } from './app.module';
import { HttpErrorsFilter } from './common/http-errors.filter';
import { installBodyParsers, translateBodyErrors } from './common/request-bodies';
import { mountSandbox, type Sandbox } from '../sandbox';

export interface ApiApp {
  app: NestExpressApplication;
  sandbox?: Sandbox;
}

/**
 * Builds the API application: JSON-only REST bodies and raw bodies kept for webhook signatures (common/request-bodies),
 * errors answered in Nest's shape and logged by status (common/http-errors.filter), OpenAPI at /docs, the sandbox
 * emulators when in sandbox mode. The caller listens and closes.
 */
export async function createApi(config: AppConfig, client: Client, options: { logger?: false } = {}): Promise<ApiApp> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config, client), {
    rawBody: true,
    bodyParser: false,
    ...(options.logger === false ? { logger: false } : {}),
  });
  app.useGlobalFilters(new HttpErrorsFilter(app.getHttpAdapter()));
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
      .build(),
  );
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs/openapi.json' });
  return { app, sandbox };
}
