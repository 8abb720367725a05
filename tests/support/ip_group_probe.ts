/**
 * Run inside a network namespace whose `lo` holds the addresses named on the command line
 * (tests/stratum_ip_groups_test.ts makes it): starts a devnet node and a pool listening on
 * `[::]` with `max_connections_per_ip` 2, opens one connection to each address in order (the
 * kernel then uses that address as the source, so the pool sees a distinct peer address each
 * time) and prints, as one JSON line, whether the pool admitted each.
 *
 *   deno run <permissions> tests/support/ip_group_probe.ts fd00:64::a fd00:64::b …
 *
 * @module
 */
import { startDevnet } from "./devnet/mod.ts";
import { startInProcessPool } from "./pool_in_process.ts";
import { RawStratum } from "./raw_stratum.ts";

/** One connection's outcome. */
export interface IpGroupResult {
  /** The address connected to, which is also the connection's source address. */
  readonly host: string;
  /** Whether the pool answered a subscribe on it (false: it refused the connection). */
  readonly admitted: boolean;
}

const devnet = await startDevnet({ bits: 0x1d00ffff });
const pool = await startInProcessPool(devnet, {
  serverurl: ["[::]:0"],
  rate_limits: { connections_per_ip_per_minute: 65_535, max_connections_per_ip: 2 },
});
const port = pool.runtime.server.addresses[0]!.port;
const open: RawStratum[] = [];
const results: IpGroupResult[] = [];
try {
  for (const [i, host] of Deno.args.entries()) {
    const raw = await RawStratum.open(port, host);
    open.push(raw);
    let admitted: boolean;
    try {
      admitted = Array.isArray((await raw.request(i + 1, "mining.subscribe", [])).result);
    } catch {
      admitted = false;
    }
    results.push({ host, admitted });
  }
} finally {
  for (const raw of open) raw.close();
  await pool.stop();
  await devnet.stop();
}
await Deno.stdout.write(new TextEncoder().encode(JSON.stringify(results) + "\n"));
