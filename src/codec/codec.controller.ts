import { createHash, timingSafeEqual } from 'node:crypto';
import {
  BadRequestException,
  Controller,
  HttpCode,
  Logger,
  Options,
  Post,
  Req,
  Res,
  UnauthorizedException,
  UnprocessableEntityException,
} from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Payload } from '@temporalio/common';
import type { Request, Response } from 'express';
import { CodecServerOptions } from './codec-server-options';
import { Public } from '../auth/auth.guard';

/** A payload in proto3 JSON, as the Web UI and the CLI send it: metadata values and data are base64. */
export interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

/** Body and answer of `/codec/encode` and `/codec/decode`. */
export interface JsonPayloads {
  payloads: JsonPayload[];
}

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;
const ALLOWED_HEADERS = 'content-type, x-namespace, authorization';

/**
 * The codec server for the Temporal Web UI and CLI (`--ui-codec-endpoint` / `--codec-endpoint` = `<api>/codec`):
 * `POST /codec/encode` and `POST /codec/decode` run our payload codec over `{ payloads }` in proto3 JSON, so an
 * authorized engineer reads encrypted inputs and results in clear. Every request needs the configured bearer token
 * (unless unauthenticated loopback access was explicitly allowed for local dev); browsers are admitted only from the
 * configured UI origins. Payload contents are never logged.
 */
@ApiExcludeController()
// Not an API client route: authenticated by its own bearer token (CODEC_SERVER_TOKEN).
@Public()
@Controller('codec')
export class CodecController {
  private readonly logger = new Logger(CodecController.name);
  private readonly tokenDigest?: Buffer;

  constructor(private readonly options: CodecServerOptions) {
    // Digests have a fixed length, so timingSafeEqual never reveals the token's length.
    this.tokenDigest = options.token ? sha256(options.token) : undefined;
  }

  /** CORS preflight: the Web UI sends JSON with `x-namespace` and, when configured, `authorization`. */
  @Options(['encode', 'decode'])
  @HttpCode(204)
  preflight(@Req() req: Request, @Res({ passthrough: true }) res: Response): void {
    this.cors(req, res);
  }

  @Post('encode')
  @HttpCode(200)
  async encode(@Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<JsonPayloads> {
    this.cors(req, res);
    this.authorize(req, res);
    const payloads = parseBody(req.body);
    return { payloads: (await this.options.codec.encode(payloads)).map(toJson) };
  }

  @Post('decode')
  @HttpCode(200)
  async decode(@Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<JsonPayloads> {
    this.cors(req, res);
    this.authorize(req, res);
    const payloads = parseBody(req.body);
    const decoded: Payload[] = [];
    // One at a time, so an undecodable payload is reported by its index.
    for (const [index, payload] of payloads.entries()) {
      try {
        decoded.push(...(await this.options.codec.decode([payload])));
      } catch (err) {
        const message = `payloads[${index}]: ${(err as Error).message}`;
        this.logger.warn(`decode failed: ${message}`);
        throw new UnprocessableEntityException(message);
      }
    }
    return { payloads: decoded.map(toJson) };
  }

  private cors(req: Request, res: Response): void {
    res.setHeader('Vary', 'Origin');
    const origin = req.headers.origin;
    if (!origin || !this.options.allowedOrigins.includes(origin)) return;
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Access-Control-Allow-Credentials', 'true');
    res.setHeader('Access-Control-Allow-Headers', ALLOWED_HEADERS);
    res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
    res.setHeader('Access-Control-Max-Age', '600');
  }

  private authorize(req: Request, res: Response): void {
    if (!this.tokenDigest) {
      if (this.options.allowUnauthenticated && isLoopback(req.socket.remoteAddress)) return;
      this.reject(res, 'codec server disabled: no token configured');
    }
    const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (!match || !timingSafeEqual(sha256(match[1]), this.tokenDigest!)) this.reject(res, 'invalid or missing token');
  }

  private reject(res: Response, why: string): never {
    this.logger.warn(`codec request rejected: ${why}`);
    res.setHeader('WWW-Authenticate', 'Bearer');
    throw new UnauthorizedException(why);
  }
}

function parseBody(body: unknown): Payload[] {
  if (!isObject(body)) throw new BadRequestException('body: must be a JSON object');
  // proto3 JSON omits an empty repeated field (and Go clients send null): both mean no payloads.
  const payloads = body.payloads ?? [];
  if (!Array.isArray(payloads)) throw new BadRequestException('payloads: must be an array');
  return payloads.map((p, i) => fromJson(p, `payloads[${i}]`));
}

function fromJson(value: unknown, where: string): Payload {
  if (!isObject(value)) throw new BadRequestException(`${where}: must be an object`);
  const { metadata, data } = value;
  if (metadata !== undefined && metadata !== null && !isObject(metadata)) {
    throw new BadRequestException(`${where}.metadata: must be an object`);
  }
  // fromEntries defines own properties, so a `__proto__` key cannot reach the prototype.
  const payload: Payload = {
    metadata: Object.fromEntries(
      Object.entries(metadata ?? {}).map(([key, v]) => [key, base64(v, `${where}.metadata.${key}`)]),
    ),
  };
  if (data !== undefined && data !== null) payload.data = base64(data, `${where}.data`);
  return payload;
}

function toJson(payload: Payload): JsonPayload {
  const json: JsonPayload = {
    metadata: Object.fromEntries(Object.entries(payload.metadata ?? {}).map(([k, v]) => [k, toBase64(v)])),
  };
  if (payload.data && payload.data.length > 0) json.data = toBase64(payload.data);
  return json;
}

function base64(value: unknown, where: string): Uint8Array {
  if (typeof value !== 'string' || !BASE64.test(value))
    throw new BadRequestException(`${where}: must be a base64 string`);
  return Buffer.from(value, 'base64');
}

function toBase64(bytes: Uint8Array | null | undefined): string {
  return bytes ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64') : '';
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isLoopback(address: string | undefined): boolean {
  return !!address && (address === '::1' || /^(::ffff:)?127\./.test(address));
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}
