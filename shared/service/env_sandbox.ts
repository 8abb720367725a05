/**
 * Node-compatible libraries read `process.env`, and some enumerate it (the `debug` module that
 * ioredis loads calls `Object.keys(process.env)`), which Deno only allows with an unrestricted
 * `--allow-env`. Services instead replace `process.env` with a plain object holding just the
 * variables they were granted, so `--allow-env=<list>` stays narrow and such libraries still load.
 */
import process from "node:process";

/** Replaces `process.env` with the granted subset of `allowed` (call before loading npm clients). */
export function sandboxProcessEnv(allowed: readonly string[]): void {
  const env: Record<string, string> = {};
  for (const variable of allowed) {
    if (Deno.permissions.querySync({ name: "env", variable }).state !== "granted") continue;
    const value = Deno.env.get(variable);
    if (value !== undefined) env[variable] = value;
  }
  Object.defineProperty(process, "env", { value: env, writable: true, configurable: true });
}
