/**
 * Generates a throwaway certificate authority and the certificates of a test NATS topology: the
 * hub's leafnode listener (`hub.crt`) and one client certificate per region's leaf node
 * (`leaf-<region>.crt`), all for `localhost` and `127.0.0.1`, with P-256 keys, using the Debian
 * `openssl` binary.
 *
 *   deno run --allow-run=openssl --allow-read=.tbg/certs --allow-write=.tbg/certs \
 *     tools/gen_test_certs.ts [--out .tbg/certs] [--regions us-east,asia] [--days 30]
 *
 * The output directory is git-ignored (`.tbg/`); private keys are written with mode 0600 and are
 * for tests and the local simulation only. Production certificates come from the operator's own
 * CA (see `infra/nats/README.md`). Every run replaces the directory's certificates.
 *
 * Exit codes: 0 written, 1 openssl failed, 2 usage.
 *
 * @module
 */
import { parseArgs } from "node:util";

/** Regions whose leaf certificates are generated when `--regions` is not given. */
export const DEFAULT_REGIONS: readonly string[] = ["us-east", "asia"];
/** Output directory when `--out` is not given (git-ignored). */
export const DEFAULT_CERT_DIR = ".tbg/certs";
/** Validity when `--days` is not given. */
export const DEFAULT_VALID_DAYS = 30;

/** Paths of a generated certificate set. */
export interface TestCerts {
  /** Directory holding every file. */
  readonly dir: string;
  /** The CA certificate every side trusts. */
  readonly caFile: string;
  /** The hub's leafnode listener certificate and key. */
  readonly hub: CertPair;
  /** One client certificate and key per region, for its leaf node's connection to the hub. */
  readonly leaves: ReadonlyMap<string, CertPair>;
}

/** A certificate and its private key. */
export interface CertPair {
  /** PEM certificate. */
  readonly certFile: string;
  /** PEM private key (mode 0600). */
  readonly keyFile: string;
}

/** Options for {@link generateTestCerts}. */
export interface GenerateTestCertsOptions {
  /** Directory to write to; created if missing. */
  readonly dir: string;
  /** Regions to issue leaf certificates for. Default {@link DEFAULT_REGIONS}. */
  readonly regions?: readonly string[];
  /** Validity in days. Default {@link DEFAULT_VALID_DAYS}. */
  readonly validDays?: number;
  /** Common name of the CA, so two sets from different CAs are told apart in logs. */
  readonly caName?: string;
}

const REGION_PATTERN = /^[a-z0-9-]{1,32}$/;
/** SANs of every certificate: the topology runs on loopback and is reached by either name. */
const LOOPBACK_SAN = "DNS:localhost,IP:127.0.0.1";

/** openssl missing or failing. */
export class OpensslError extends Error {
  override name = "OpensslError";
}

async function openssl(args: readonly string[], cwd: string): Promise<void> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command("openssl", {
      args: [...args],
      cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new OpensslError(
        'Cannot generate test certificates: openssl not found on PATH; install the Debian package "openssl"',
        { cause: error },
      );
    }
    if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
      throw new OpensslError(
        "Cannot generate test certificates: run with --allow-run=openssl",
        { cause: error },
      );
    }
    throw error;
  }
  if (!output.success) {
    throw new OpensslError(
      `Cannot generate test certificates: openssl ${args[0]} exited with ${output.code}: ` +
        new TextDecoder().decode(output.stderr).trim(),
    );
  }
}

function randomSerial(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] ?? 0) & 0x7f; // Serials are positive integers.
  return `0x${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** Issues `<name>.crt`/`<name>.key` signed by the CA in `dir`. */
async function issue(
  dir: string,
  name: string,
  commonName: string,
  extendedKeyUsage: string,
  days: number,
): Promise<CertPair> {
  const extFile = `${name}.ext`;
  await Deno.writeTextFile(
    `${dir}/${extFile}`,
    [
      "basicConstraints=critical,CA:FALSE",
      "keyUsage=critical,digitalSignature,keyEncipherment",
      `extendedKeyUsage=${extendedKeyUsage}`,
      `subjectAltName=${LOOPBACK_SAN}`,
      "",
    ].join("\n"),
  );
  try {
    await openssl([
      "req",
      "-new",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      `${name}.key`,
      "-subj",
      `/O=TheBitcoinGame test/CN=${commonName}`,
      "-out",
      `${name}.csr`,
    ], dir);
    await Deno.chmod(`${dir}/${name}.key`, 0o600);
    await openssl([
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-set_serial",
      randomSerial(),
      "-days",
      String(days),
      "-sha256",
      "-extfile",
      extFile,
      "-out",
      `${name}.crt`,
    ], dir);
  } finally {
    await Deno.remove(`${dir}/${extFile}`).catch(() => {});
    await Deno.remove(`${dir}/${name}.csr`).catch(() => {});
  }
  return { certFile: `${dir}/${name}.crt`, keyFile: `${dir}/${name}.key` };
}

/**
 * Writes a CA, a hub certificate and one leaf certificate per region into `dir`.
 *
 * The hub certificate is for TLS servers and clients (a hub may also solicit connections); the
 * leaf certificates are client certificates, which the hub's leafnode listener requires
 * (`verify: true`). File names: `ca.crt`, `ca.key`, `hub.crt`, `hub.key`, `leaf-<region>.crt`,
 * `leaf-<region>.key`.
 *
 * @param options Directory, regions, validity, CA name.
 * @returns The paths written (absolute when `dir` is).
 * @throws {RangeError} If a region is not a slug or `validDays` is not a positive integer.
 * @throws {OpensslError} If openssl is missing, not permitted, or fails.
 */
export async function generateTestCerts(options: GenerateTestCertsOptions): Promise<TestCerts> {
  const regions = options.regions ?? DEFAULT_REGIONS;
  for (const region of regions) {
    if (!REGION_PATTERN.test(region)) {
      throw new RangeError(
        `Cannot generate a leaf certificate for region ${JSON.stringify(region)}: ` +
          "use 1-32 of a-z 0-9 -",
      );
    }
  }
  const days = options.validDays ?? DEFAULT_VALID_DAYS;
  if (!Number.isInteger(days) || days <= 0) {
    throw new RangeError(`Cannot generate test certificates: days must be a positive integer`);
  }
  const dir = options.dir;
  await Deno.mkdir(dir, { recursive: true });
  await openssl([
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    "ca.key",
    "-subj",
    `/O=TheBitcoinGame test/CN=${options.caName ?? "TBG test CA"}`,
    "-days",
    String(days),
    "-sha256",
    "-set_serial",
    randomSerial(),
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
    "-out",
    "ca.crt",
  ], dir);
  await Deno.chmod(`${dir}/ca.key`, 0o600);
  const hub = await issue(dir, "hub", "tbg-nats-hub", "serverAuth,clientAuth", days);
  const leaves = new Map<string, CertPair>();
  for (const region of regions) {
    leaves.set(region, await issue(dir, `leaf-${region}`, `leaf-${region}`, "clientAuth", days));
  }
  return { dir, caFile: `${dir}/ca.crt`, hub, leaves };
}

const USAGE = "usage: gen_test_certs.ts [--out <dir>] [--regions us-east,asia] [--days 30]";

async function main(args: readonly string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      options: {
        out: { type: "string", default: DEFAULT_CERT_DIR },
        regions: { type: "string", default: DEFAULT_REGIONS.join(",") },
        days: { type: "string", default: String(DEFAULT_VALID_DAYS) },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    Deno.stderr.writeSync(new TextEncoder().encode(`${(error as Error).message}\n${USAGE}\n`));
    return 2;
  }
  const regions = parsed.values.regions.split(",").map((region) => region.trim()).filter(Boolean);
  const days = Number(parsed.values.days);
  try {
    const certs = await generateTestCerts({ dir: parsed.values.out, regions, validDays: days });
    const files = [
      certs.caFile,
      certs.hub.certFile,
      ...[...certs.leaves.values()].map((p) => p.certFile),
    ];
    Deno.stdout.writeSync(
      new TextEncoder().encode(
        `test certificates (private keys mode 0600) in ${certs.dir}:\n  ${files.join("\n  ")}\n`,
      ),
    );
    return 0;
  } catch (error) {
    Deno.stderr.writeSync(new TextEncoder().encode(`${(error as Error).message}\n`));
    return error instanceof RangeError ? 2 : 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
