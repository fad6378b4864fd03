/**
 * Exit codes, compatible with nefarius/SDCM (reference/hdc-api.md b.3) so CI scripts written for it
 * keep their meaning: 7 = Microsoft rejected it, 9 = the client stopped waiting (run again to resume).
 */
export const ExitCode = {
  Signed: 0,
  BadArguments: 1,
  Authentication: 2,
  ApiError: 3,
  NotFound: 4,
  InvalidState: 5,
  RateLimited: 6,
  RejectedByMicrosoft: 7,
  Io: 8,
  Timeout: 9,
  /** check/pack: the package has warnings only (Microsoft may accept it). */
  PreflightWarnings: 10,
  /** check/pack: the package breaks a rule Microsoft refuses (docs/package-rules.md). */
  PreflightRefused: 11,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** An error that ends the command with a given exit code; `message` is safe to print. */
export class CliError extends Error {
  constructor(
    readonly exitCode: ExitCodeValue,
    message: string,
    readonly httpStatus?: number,
  ) {
    super(message);
    this.name = "CliError";
  }
}

/** What an HTTP status from our API means for the exit code. */
export function exitCodeForHttpStatus(status: number): ExitCodeValue {
  if (status === 400) return ExitCode.BadArguments;
  if (status === 401 || status === 403) return ExitCode.Authentication;
  if (status === 404) return ExitCode.NotFound;
  if (status === 409) return ExitCode.InvalidState;
  if (status === 429) return ExitCode.RateLimited;
  return ExitCode.ApiError;
}
