/**
 * TLS for the Stratum listeners: turns an accepted TCP connection into a decrypted one the
 * engine serves exactly like a plain connection, with a handshake deadline, a cap on handshakes
 * in progress, and certificate reload without dropping connected miners.
 *
 * Why a loopback relay rather than `Deno.listenTls` on the public port: Deno 2.9 cannot abort a
 * server handshake. A `TlsConn` closed before its handshake completes keeps its TCP socket open
 * until the peer speaks or hangs up (its rustls stream finishes the handshake in a background
 * task first), so a client that connects and stays silent would hold a socket forever whatever
 * the timeout — the slowloris hole TLS must not open. Here the public socket is a plain
 * `Deno.TcpConn` this module owns: its bytes are relayed through a loopback connection to a
 * `Deno.listenTls` server on 127.0.0.1 (port chosen by the kernel). On a deadline both relay
 * sockets close for real, and the loopback server's pending handshake ends on that EOF.
 *
 * The same design gives reload for free: a new certificate opens a new loopback server; new
 * connections go to it; established ones keep their old server-side TLS state; the old server
 * closes once no connection is still on its way to it. The public port never closes.
 *
 * TLS versions and suites are rustls's (Deno's TLS): TLS 1.2 and 1.3 only, ECDHE key exchange
 * with AES-GCM or ChaCha20-Poly1305; nothing weaker is implemented, so nothing needs disabling.
 *
 * Ownership: the terminator owns the public sockets and loopback client sockets of connections
 * in handshake and of established ones (their relays); the caller owns each decrypted
 * connection it is handed, and closing it ends that connection's relay.
 *
 * @module
 */
import type { StructuredLogger } from "../log/mod.ts";
import { closeQuietly, LOOPBACK_HOST, LoopbackServer, Relay, setNoDelay } from "./_tls_loopback.ts";

/** How long a failed handshake's alert may take to reach the client before its sockets close. */
const ALERT_DRAIN_MS = 1000;

/** The config keys a certificate problem is reported under. */
export const TlsConfigKey = { CertFile: "tls.cert_file", KeyFile: "tls.key_file" } as const;

/** `tls.cert_file` or `tls.key_file`. */
export type TlsConfigKey = typeof TlsConfigKey[keyof typeof TlsConfigKey];

/** A certificate or key that cannot be read or used; `key` names the config key at fault. */
export class TlsCertificateError extends Error {
  override name = "TlsCertificateError";
  /** The config key whose file is at fault. */
  readonly key: TlsConfigKey;

  /**
   * @param key the config key whose file is at fault
   * @param message what is wrong, starting with "Cannot …"
   * @param options standard error options (`cause`)
   */
  constructor(key: TlsConfigKey, message: string, options?: ErrorOptions) {
    super(message, options);
    this.key = key;
  }
}

/** Where the certificate comes from and how handshakes are bounded. */
export interface TlsTerminatorOptions {
  /** PEM certificate chain, leaf first (`tls.cert_file`). */
  readonly certFile: string;
  /** PEM private key of the certificate (`tls.key_file`). */
  readonly keyFile: string;
  /** A connection whose handshake has not finished by then is closed (`tls.handshake_timeout_ms`). */
  readonly handshakeTimeoutMs: number;
  /** Handshakes in progress at once; a connection beyond it is closed (`tls.max_handshakes`). */
  readonly maxHandshakes: number;
  /**
   * Server output a miner may leave unread in its relay before the connection is closed (bytes):
   * the plain listeners' output cap, so a slow reader costs the same over TLS.
   */
  readonly maxQueuedBytes: number;
}

/** What the terminator reports (the pool's metrics implement it). */
export interface TlsObserver {
  /** A handshake finished; the connection goes to the engine. */
  handshakeCompleted(): void;
  /** A handshake did not finish within the timeout; its connection was closed. */
  handshakeTimedOut(): void;
  /** A handshake failed (protocol version, cipher, not TLS, peer gone); closed. */
  handshakeFailed(): void;
  /** A connection arrived with `maxHandshakes` already in progress; closed at once. */
  handshakeRefused(): void;
  /** Handshakes in progress changed. */
  handshakesInFlight(count: number): void;
  /** A certificate reload (SIGHUP) succeeded or failed. */
  certificateReloaded(ok: boolean): void;
  /** An established connection was closed: its miner left `maxQueuedBytes` unread. */
  backlogExceeded(): void;
}

/** A decrypted connection and the address its public socket came from. */
export interface TlsAccepted {
  /** The connection to serve; its reads and writes are plaintext. */
  readonly conn: Deno.Conn;
  /** Remote IP of the public socket (per-IP rules use it, not the loopback address). */
  readonly ip: string;
}

/** Reads a file for a TLS key, naming the key on failure. */
async function readPem(path: string, key: TlsConfigKey): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    throw new TlsCertificateError(key, `Cannot read ${path}: ${String(error)}`, { cause: error });
  }
}

/**
 * SHA-256 fingerprint of the first certificate in a PEM chain, as colon-separated upper-case
 * hex (the form `openssl x509 -fingerprint -sha256` prints), or null when there is none.
 */
export async function certificateFingerprint(pem: string): Promise<string | null> {
  const match = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(pem);
  if (match === null) return null;
  let der: Uint8Array<ArrayBuffer>;
  try {
    der = Uint8Array.from(atob(match[1]!.replace(/\s+/g, "")), (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", der));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0").toUpperCase()).join(":");
}

/** Terminates TLS for every TLS listener of one engine. */
export class TlsTerminator {
  readonly #options: TlsTerminatorOptions;
  readonly #observer: TlsObserver;
  readonly #log: StructuredLogger;
  #server: LoopbackServer;
  #fingerprint: string | null;
  #inFlight = 0;
  /** Relays still in handshake, closed by {@link close}. */
  readonly #pending = new Set<Relay>();
  /** Relays of established connections, closed by {@link close} after the engine's own close. */
  readonly #established = new Set<Relay>();
  #reloading: Promise<boolean> = Promise.resolve(true);
  #closed = false;

  private constructor(
    options: TlsTerminatorOptions,
    observer: TlsObserver,
    log: StructuredLogger,
    server: LoopbackServer,
    fingerprint: string | null,
  ) {
    this.#options = options;
    this.#observer = observer;
    this.#log = log;
    this.#server = server;
    this.#fingerprint = fingerprint;
  }

  /**
   * Reads the certificate and key and opens the loopback TLS server.
   *
   * @throws {TlsCertificateError} naming `tls.cert_file` or `tls.key_file` when a file cannot be
   *   read or the pair is not a usable PEM certificate and matching private key
   */
  static async open(
    options: TlsTerminatorOptions,
    observer: TlsObserver,
    log: StructuredLogger,
  ): Promise<TlsTerminator> {
    const { server, fingerprint } = await TlsTerminator.#load(options);
    return new TlsTerminator(options, observer, log, server, fingerprint);
  }

  static async #load(
    options: TlsTerminatorOptions,
  ): Promise<{ server: LoopbackServer; fingerprint: string | null }> {
    const cert = await readPem(options.certFile, TlsConfigKey.CertFile);
    const key = await readPem(options.keyFile, TlsConfigKey.KeyFile);
    let server: LoopbackServer;
    try {
      server = new LoopbackServer({ cert, key }, options.handshakeTimeoutMs);
    } catch (error) {
      const text = String(error);
      // Deno's messages: "No certificates found in certificate data", "No keys found in key
      // data", "keys may not be consistent: KeyMismatch".
      const blame = /no certificates/i.test(text) ? TlsConfigKey.CertFile : TlsConfigKey.KeyFile;
      const what = blame === TlsConfigKey.CertFile
        ? `${options.certFile} holds no usable PEM certificate`
        : /mismatch|consistent/i.test(text)
        ? `${options.keyFile} is not the private key of ${options.certFile}`
        : `${options.keyFile} holds no usable PEM private key (PKCS#8, RSA or EC)`;
      throw new TlsCertificateError(blame, `Cannot use TLS certificate: ${what} (${text})`, {
        cause: error,
      });
    }
    if (server.port === 0) throw new Error("Cannot open the loopback TLS server: no port");
    return { server, fingerprint: await certificateFingerprint(cert) };
  }

  /** SHA-256 fingerprint of the certificate new handshakes present. */
  get fingerprint(): string | null {
    return this.#fingerprint;
  }

  /** Handshakes in progress. */
  get handshakesInFlight(): number {
    return this.#inFlight;
  }

  /**
   * Re-reads the certificate and key. On success new handshakes present the new certificate and
   * connected miners are untouched; on failure the old certificate stays, the error is logged
   * and reported to the observer. Reloads run one at a time.
   *
   * @returns whether the new pair is in use
   */
  reload(): Promise<boolean> {
    this.#reloading = this.#reloading.then(() => this.#reloadNow());
    return this.#reloading;
  }

  async #reloadNow(): Promise<boolean> {
    if (this.#closed) return false;
    let loaded;
    try {
      loaded = await TlsTerminator.#load(this.#options);
    } catch (error) {
      this.#log.error("TLS certificate reload failed; keeping the current certificate", {
        key: error instanceof TlsCertificateError ? error.key : undefined,
        error: error instanceof Error ? error.message : String(error),
        fingerprint: this.#fingerprint,
      });
      this.#observer.certificateReloaded(false);
      return false;
    }
    if (this.#closed) {
      loaded.server.close();
      return false;
    }
    const old = this.#server;
    this.#server = loaded.server;
    this.#fingerprint = loaded.fingerprint;
    old.retire();
    this.#log.info("TLS certificate reloaded", { fingerprint: loaded.fingerprint });
    this.#observer.certificateReloaded(true);
    return true;
  }

  /**
   * Runs the TLS handshake of a connection accepted on a TLS listener.
   *
   * @param outer the accepted public socket; the terminator owns it from here on
   * @returns the decrypted connection, or null when the handshake was refused, failed or timed
   *   out (the socket is then closed and the reason counted)
   */
  async handshake(outer: Deno.TcpConn): Promise<TlsAccepted | null> {
    const ip = outer.remoteAddr.hostname;
    if (this.#closed || this.#inFlight >= this.#options.maxHandshakes) {
      this.#observer.handshakeRefused();
      closeQuietly(outer);
      return null;
    }
    this.#setInFlight(this.#inFlight + 1);
    const server = this.#server;
    server.reserve();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), this.#options.handshakeTimeoutMs);
    });
    let relay: Relay | null = null;
    let clientPort: number | null = null;
    let reserved = true;
    const unreserve = () => {
      if (reserved) {
        reserved = false;
        server.release();
      }
    };
    try {
      let inner: Deno.TcpConn;
      try {
        inner = await Deno.connect({ hostname: LOOPBACK_HOST, port: server.port });
      } catch (error) {
        this.#log.error("TLS loopback connect failed", { error: String(error) });
        closeQuietly(outer);
        this.#observer.handshakeFailed();
        return null;
      }
      setNoDelay(outer);
      setNoDelay(inner);
      relay = new Relay(
        outer,
        inner,
        this.#options.maxQueuedBytes,
        () => this.#observer.backlogExceeded(),
      );
      this.#pending.add(relay);
      clientPort = inner.localAddr.port;
      const claimed = server.claim(clientPort);
      const matched = await Promise.race([
        claimed,
        timedOut,
        relay.ended.then(() => "ended" as const),
      ]);
      unreserve();
      if (matched === "timeout" || matched === "ended") {
        server.unclaim(clientPort);
        // Arrives later when still in the accept queue: close it then.
        void claimed.then(closeQuietly);
        relay.close();
        if (matched === "timeout") this.#observer.handshakeTimedOut();
        else this.#observer.handshakeFailed();
        return null;
      }
      const conn = matched;
      const outcome = await Promise.race([
        conn.handshake().then(() => "done" as const, () => "failed" as const),
        timedOut,
      ]);
      if (outcome === "timeout" || this.#closed) {
        // The loopback server's pending handshake ends on the relay's EOF.
        relay.close();
        closeQuietly(conn);
        if (outcome === "timeout") this.#observer.handshakeTimedOut();
        else this.#observer.handshakeFailed();
        return null;
      }
      if (outcome === "failed") {
        // The server's alert (protocol version, no shared cipher) is on its way to the client:
        // the relay ends on the loopback server's EOF once it has passed it on.
        closeQuietly(conn);
        relay.closeAfterDrain(ALERT_DRAIN_MS);
        this.#observer.handshakeFailed();
        return null;
      }
      this.#pending.delete(relay);
      this.#established.add(relay);
      const established = relay;
      void established.ended.then(() => this.#established.delete(established));
      this.#observer.handshakeCompleted();
      return { conn, ip };
    } finally {
      clearTimeout(timer);
      unreserve();
      if (relay !== null) this.#pending.delete(relay);
      this.#setInFlight(this.#inFlight - 1);
    }
  }

  /** Closes the loopback server and every connection still in handshake. */
  stopHandshakes(): void {
    this.#closed = true;
    this.#server.close();
    for (const relay of this.#pending) relay.close();
  }

  /** Also closes the relays of established connections (after the engine closed its own). */
  close(): void {
    this.stopHandshakes();
    for (const relay of this.#established) relay.close();
  }

  #setInFlight(count: number): void {
    this.#inFlight = count;
    this.#observer.handshakesInFlight(count);
  }
}
