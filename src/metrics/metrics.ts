import {
  Controller,
  Get,
  Header,
  Injectable,
  Module,
  type CallHandler,
  type DynamicModule,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import { tap, type Observable } from 'rxjs';
import { Public } from '../auth/auth.guard';

/**
 * The API's Prometheus registry: process metrics, one request counter and latency histogram per route, and the abuse
 * guard's refusals made by the API itself (a start or a check refused before it reaches a workflow; the workflows
 * count theirs on the worker).
 */
@Injectable()
export class Metrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'verifyflow_http_requests_total',
    help: 'HTTP requests by method, route template and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  readonly latency = new Histogram({
    name: 'verifyflow_http_request_duration_seconds',
    help: 'HTTP request latency by method and route template',
    labelNames: ['method', 'route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly refusals = new Counter({
    name: 'verifyflow_abuse_refusals_total',
    help: 'Abuse guard refusals by the API, by scope and API client',
    labelNames: ['scope', 'client'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'verifyflow_' });
  }
}

/** Times every controller call; labels use the route template (never IDs, numbers or other request data). */
@Injectable()
export class MetricsInterceptor implements NestInterceptor {
  constructor(private readonly metrics: Metrics) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const http = context.switchToHttp();
    const req = http.getRequest<Request>();
    const route = `${(req.baseUrl ?? '') + ((req.route as { path?: string } | undefined)?.path ?? 'unmatched')}`;
    const stop = this.metrics.latency.startTimer({ method: req.method, route });
    const done = (status: number) => {
      stop();
      this.metrics.requests.inc({ method: req.method, route, status: String(status) });
    };
    return next.handle().pipe(
      tap({
        next: () => done(http.getResponse<Response>().statusCode),
        error: (err: { getStatus?: () => number }) => done(err?.getStatus?.() ?? 500),
      }),
    );
  }
}

@ApiExcludeController()
// Open by design (no API client credential), like health: Prometheus scrapes it; labels carry no ids or numbers.
@Public()
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: Metrics) {}

  /** Prometheus text exposition. */
  @Get()
  @Header('Content-Type', 'text/plain; version=0.0.4')
  scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}

/** `/metrics` for Prometheus over `metrics` (made by the app, which feeds it too), and the interceptor that feeds it. */
@Module({})
export class MetricsModule {
  static forRoot(metrics: Metrics): DynamicModule {
    return {
      module: MetricsModule,
      controllers: [MetricsController],
      providers: [
        { provide: Metrics, useValue: metrics },
        { provide: APP_INTERCEPTOR, useClass: MetricsInterceptor },
      ],
    };
  }
}
