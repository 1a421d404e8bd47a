import type { Response } from 'express';

/** An error answer of a Twilio API emulator: HTTP status, Twilio error code, message, extra headers. */
export class TwilioError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** 60200: invalid parameter. */
export const invalid = (message: string) => new TwilioError(400, 60200, message);
/** 20404: unknown resource. */
export const notFound = (path: string) => new TwilioError(404, 20404, `The requested resource ${path} was not found`);

/** Writes `err` as Twilio's API does: `{code, message, more_info, status}`. */
export function sendTwilioError(res: Response, err: TwilioError): void {
  res
    .status(err.status)
    .set(err.headers)
    .json({
      code: err.code,
      message: err.message,
      more_info: `https://www.twilio.com/docs/errors/${err.code}`,
      status: err.status,
    });
}

/** Answers `fn`'s reply (JSON, or an empty body), or the TwilioError it throws as Twilio would. */
export function replyAsTwilio(res: Response, fn: () => { status: number; body?: unknown }): void {
  let reply: { status: number; body?: unknown };
  try {
    reply = fn();
  } catch (err) {
    if (err instanceof TwilioError) return sendTwilioError(res, err);
    throw err;
  }
  if (reply.body === undefined) res.status(reply.status).end();
  else res.status(reply.status).json(reply.body);
}
