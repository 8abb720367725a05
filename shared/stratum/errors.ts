/**
 * Stratum V1 error codes as miners and pools commonly use them (ckpool, public-pool, cgminer).
 * Code 20 is the catch-all; 21–25 carry specific meaning that miners' firmware acts on.
 */
export const StratumErrorCode = {
  other: 20,
  jobNotFound: 21,
  duplicate: 22,
  lowDifficulty: 23,
  unauthorized: 24,
  notSubscribed: 25,
} as const;

/** One of the Stratum error codes 20–25. */
export type StratumErrorCode = typeof StratumErrorCode[keyof typeof StratumErrorCode];

/** The error triple as it goes on the wire: `[code, message, traceback]`. */
export type StratumWireError = [code: StratumErrorCode, message: string, traceback: null];

/** Builds the wire error triple. */
export function stratumError(code: StratumErrorCode, message: string): StratumWireError {
  return [code, message, null];
}
