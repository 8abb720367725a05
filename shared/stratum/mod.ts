/**
 * Stratum V1 wire layer shared by the pool, the relay and the test clients: message types, error
 * codes, line framing, request parsing with the validation matrix, and line encoders.
 * @module
 */
export * from "./errors.ts";
export * from "./messages.ts";
export * from "./line_decoder.ts";
export * from "./parse.ts";
export * from "./password_difficulty.ts";
export * from "./encode.ts";
export * from "./prev_hash.ts";
