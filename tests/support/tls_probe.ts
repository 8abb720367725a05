/**
 * Probes a TLS listener with the Debian `openssl` binary (row `openssl openssl` in
 * tools/ensure_tools.sh): one handshake at a given protocol version or cipher suite, and the
 * SHA-256 fingerprint of the certificate the server presents. A real, independent TLS client, so
 * what it reports is what a miner's TLS stack would see.
 */
import { generateTestCerts, type TestCerts } from "../../tools/gen_test_certs.ts";

/** Protocol versions `openssl s_client` can be pinned to. */
export const OpensslVersion = {
  Tls1: "-tls1",
  Tls1_1: "-tls1_1",
  Tls1_2: "-tls1_2",
  Tls1_3: "-tls1_3",
} as const;

/** One of {@link OpensslVersion}. */
export type OpensslVersion = typeof OpensslVersion[keyof typeof OpensslVersion];

/** What one `openssl s_client` handshake negotiated, or why it failed. */
export interface OpensslHandshake {
  /** True when the handshake completed. */
  readonly ok: boolean;
  /** Negotiated protocol, e.g. "TLSv1.3" (null on failure). */
  readonly protocol: string | null;
  /** Negotiated suite in OpenSSL's naming, e.g. "ECDHE-ECDSA-AES128-GCM-SHA256" (null on failure). */
  readonly cipher: string | null;
  /** openssl's output, for assertion messages. */
  readonly output: string;
}

/** Options of {@link opensslHandshake}. */
export interface OpensslHandshakeOptions {
  /** Pin the protocol version. */
  readonly version?: OpensslVersion;
  /** TLS 1.2 and older: offer only this OpenSSL cipher list. */
  readonly cipher?: string;
  /** TLS 1.3: offer only these suites. */
  readonly ciphersuites?: string;
  /** CA file to verify the server with; unverified when absent. */
  readonly caFile?: string;
}

async function run(args: string[], stdin?: Uint8Array): Promise<Deno.CommandOutput> {
  try {
    const child = new Deno.Command("openssl", {
      args,
      stdin: stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    if (stdin !== undefined) {
      const writer = child.stdin.getWriter();
      await writer.write(stdin);
      await writer.close();
    }
    return await child.output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error(
        'Cannot probe TLS: openssl not found on PATH; install the Debian package "openssl" (tools/ensure_tools.sh)',
        { cause: error },
      );
    }
    throw error;
  }
}

/**
 * One handshake with `127.0.0.1:port` (SNI localhost). Old versions are offered at OpenSSL
 * security level 0, so a refusal comes from the server, not from the local OpenSSL policy.
 */
export async function opensslHandshake(
  port: number,
  options: OpensslHandshakeOptions = {},
): Promise<OpensslHandshake> {
  const legacy = options.version === OpensslVersion.Tls1 ||
    options.version === OpensslVersion.Tls1_1;
  const cipher = options.cipher ?? (legacy ? "DEFAULT" : undefined);
  const args = [
    "s_client",
    "-connect",
    `127.0.0.1:${port}`,
    "-servername",
    "localhost",
    "-brief",
    ...(options.version === undefined ? [] : [options.version]),
    ...(cipher === undefined ? [] : ["-cipher", legacy ? `${cipher}@SECLEVEL=0` : cipher]),
    ...(options.ciphersuites === undefined ? [] : ["-ciphersuites", options.ciphersuites]),
    ...(options.caFile === undefined ? [] : ["-CAfile", options.caFile, "-verify_return_error"]),
  ];
  const out = await run(args);
  const output = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
  const protocol = /Protocol version: (\S+)/.exec(output)?.[1] ?? null;
  const suite = /Ciphersuite: (\S+)/.exec(output)?.[1] ?? null;
  const ok = out.success && protocol !== null;
  return { ok, protocol: ok ? protocol : null, cipher: ok ? suite : null, output };
}

/** The TLS 1.2 cipher suites this OpenSSL knows (at security level 0: the weak ones too). */
export async function opensslTls12Ciphers(): Promise<string[]> {
  const out = await run(["ciphers", "-v", "ALL:COMPLEMENTOFALL:@SECLEVEL=0"]);
  return new TextDecoder().decode(out.stdout).split("\n")
    .map((line) => line.trim().split(/\s+/))
    .filter((cols) => cols[1] === "TLSv1.2" || cols[1] === "SSLv3")
    .map((cols) => cols[0]!)
    .filter((name, i, all) => all.indexOf(name) === i);
}

/**
 * SHA-256 fingerprint of the certificate `127.0.0.1:port` presents, as openssl prints it
 * (colon-separated upper-case hex).
 */
export async function serverCertificateFingerprint(port: number): Promise<string> {
  const hello = await run([
    "s_client",
    "-connect",
    `127.0.0.1:${port}`,
    "-servername",
    "localhost",
  ]);
  const text = new TextDecoder().decode(hello.stdout);
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(text)?.[0];
  if (pem === undefined) {
    throw new Error(
      `Cannot read the certificate of 127.0.0.1:${port}: ${new TextDecoder().decode(hello.stderr)}`,
    );
  }
  const x509 = await run(
    ["x509", "-noout", "-fingerprint", "-sha256"],
    new TextEncoder().encode(pem + "\n"),
  );
  const line = new TextDecoder().decode(x509.stdout);
  const fingerprint = /Fingerprint=([0-9A-F:]+)/i.exec(line)?.[1];
  if (fingerprint === undefined) throw new Error(`Cannot parse openssl x509 output: ${line}`);
  return fingerprint.toUpperCase();
}

/**
 * Runs `fn` with two certificate sets from two CAs in a temporary directory (removed after), so
 * "which certificate was presented" is unambiguous.
 */
export async function withCerts(
  fn: (a: TestCerts, b: TestCerts, dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tbg-tls-" });
  try {
    const a = await generateTestCerts({ dir: `${dir}/a`, regions: [], caName: "TBG test CA a" });
    const b = await generateTestCerts({ dir: `${dir}/b`, regions: [], caName: "TBG test CA b" });
    await fn(a, b, dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
