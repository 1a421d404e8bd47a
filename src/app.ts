import { NestFactory } from '@nestjs/core';
import { json } from 'express';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { Client } from '@temporalio/client';
import type { AppConfig } from './config/config';
import { AppModule } from './app.module';
import { mountSandbox, type Sandbox } from '../sandbox';

export interface ApiApp {
  app: NestExpressApplication;
  sandbox?: Sandbox;
}

/**
 * Builds the API application: raw bodies kept for webhook signatures, OpenAPI at /docs, the sandbox emulators when
 * in sandbox mode. The caller listens and closes.
 */
export async function createApi(config: AppConfig, client: Client, options: { logger?: false } = {}): Promise<ApiApp> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config, client), {
    rawBody: true,
    bodyParser: true,
    ...(options.logger === false ? { logger: false } : {}),
  });
  // The codec server decodes whole history pages for the Web UI; everything else stays small.
  app.use('/codec', json({ limit: '4mb' }));
  app.useBodyParser('json', { limit: '64kb' });
  app.enableShutdownHooks();
  const sandbox = config.sandbox ? mountSandbox(app, config) : undefined;
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
