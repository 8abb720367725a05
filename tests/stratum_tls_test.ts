/**
 * The TLS terminator behind the Stratum TLS listeners, against real sockets and real clients
 * (Deno's TLS client and the `openssl` binary): certificate errors name their config key, a
 * silent or excess connection is really closed and counted, a SIGHUP-style reload keeps connected
 * clients and serves the new certificate to new ones, and only TLS 1.2/1.3 with ECDHE + AEAD
 * suites are negotiated. Certificates come from tools/gen_test_certs.ts (openssl).
 */
import assert from "node:assert/strict";
import { getLogger } from "@tbg/shared/log";
import { type TlsAccepted, TlsCertificateError, TlsTerminator } from "@tbg/shared/engine";
import { withCerts } from "./support/tls_probe.ts";
import {
  opensslHandshake,
  opensslTls12Ciphers,
  OpensslVersion,
  serverCertificateFingerprint,
} from "./support/tls_probe.ts";

const log = getLogger(["tls-test"]);

/** Counts of what the terminator reported. */
class Counts {
  completed = 0;
  timedOut = 0;
  failed = 0;
  refused = 0;
  inFlight = 0;
  reloadsOk = 0;
  reloadsFailed = 0;
  backlogCloses = 0;
  readonly observer = {
    handshakeCompleted: () => void this.completed++,
    handshakeTimedOut: () => void this.timedOut++,
    handshakeFailed: () => void this.failed++,
    handshakeRefused: () => void this.refused++,
    handshakesInFlight: (n: number) => void (this.inFlight = n),
    certificateReloaded: (ok: boolean) => void (ok ? this.reloadsOk++ : this.reloadsFailed++),
    backlogExceeded: () => void this.backlogCloses++,
  };
}

/** Polls `condition` every 20 ms for up to `timeoutMs`. */
async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * A TLS line-echo server on 127.0.0.1: a TCP listener whose connections go through the
 * terminator, each decrypted connection echoing what it reads.
 */
async function withEchoServer(
  options: {
    certFile: string;
    keyFile: string;
    handshakeTimeoutMs?: number;
    max?: number;
    maxQueuedBytes?: number;
    /** What the server does with a decrypted connection; echoes lines when absent. */
    serve?: (conn: Deno.Conn) => Promise<void>;
  },
  fn: (port: number, terminator: TlsTerminator, counts: Counts) => Promise<void>,
): Promise<void> {
  const counts = new Counts();
  const terminator = await TlsTerminator.open(
    {
      certFile: options.certFile,
      keyFile: options.keyFile,
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? 10_000,
      maxHandshakes: options.max ?? 64,
      maxQueuedBytes: options.maxQueuedBytes ?? 1024 * 1024,
    },
    counts.observer,
    log,
  );
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const served: TlsAccepted[] = [];
  const echo = async (accepted: TlsAccepted) => {
    served.push(accepted);
    if (options.serve !== undefined) return await options.serve(accepted.conn);
    const buffer = new Uint8Array(1024);
    try {
      while (true) {
        const n = await accepted.conn.read(buffer);
        if (n === null) break;
        await accepted.conn.write(buffer.subarray(0, n));
      }
    } catch {
      // Closed by the test.
    }
  };
  const accepting = (async () => {
    for await (const conn of listener) {
      void terminator.handshake(conn).then((a) => a === null ? undefined : echo(a));
    }
  })().catch(() => {});
  try {
    await fn(listener.addr.port, terminator, counts);
  } finally {
    listener.close();
    await accepting;
    for (const a of served) {
      try {
        a.conn.close();
      } catch {
        // Already closed.
      }
    }
    terminator.close();
  }
}

/** Reads until EOF or error; resolves with what ended the read ("eof" or "error"). */
async function readToEnd(conn: Deno.Conn): Promise<"eof" | "error"> {
  const buffer = new Uint8Array(4096);
  try {
    while ((await conn.read(buffer)) !== null) { /* discard */ }
    return "eof";
  } catch {
    return "error";
  }
}

async function tlsEcho(port: number, caFile: string, text: string): Promise<Deno.TlsConn> {
  const conn = await Deno.connectTls({
    hostname: "localhost",
    port,
    caCerts: [await Deno.readTextFile(caFile)],
  });
  await conn.write(new TextEncoder().encode(text));
  const buffer = new Uint8Array(text.length);
  let got = 0;
  while (got < text.length) {
    const n = await conn.read(buffer.subarray(got));
    if (n === null) throw new Error("Cannot echo: connection closed");
    got += n;
  }
  assert.equal(new TextDecoder().decode(buffer), text);
  return conn;
}

Deno.test("TlsTerminator.open() names tls.cert_file or tls.key_file for a pair it cannot use", async () => {
  await withCerts(async (a, b, dir) => {
    const open = (certFile: string, keyFile: string) =>
      TlsTerminator.open(
        { certFile, keyFile, handshakeTimeoutMs: 1000, maxHandshakes: 1, maxQueuedBytes: 1024 },
        new Counts().observer,
        log,
      );
    const garbage = `${dir}/garbage.pem`;
    await Deno.writeTextFile(garbage, "not a PEM file\n");
    const cases: [string, string, string, RegExp][] = [
      [`${dir}/missing.crt`, a.hub.keyFile, "tls.cert_file", /Cannot read .*missing\.crt/],
      [a.hub.certFile, `${dir}/missing.key`, "tls.key_file", /Cannot read .*missing\.key/],
      [garbage, a.hub.keyFile, "tls.cert_file", /holds no usable PEM certificate/],
      [a.hub.certFile, garbage, "tls.key_file", /holds no usable PEM private key/],
      [a.hub.certFile, b.hub.keyFile, "tls.key_file", /is not the private key of/],
    ];
    for (const [cert, key, blamed, message] of cases) {
      await assert.rejects(open(cert, key), (e: unknown) => {
        assert.ok(e instanceof TlsCertificateError, String(e));
        assert.equal(e.key, blamed, e.message);
        assert.match(e.message, message);
        return true;
      });
    }
  });
});

Deno.test("a TLS client completes the handshake and its bytes reach the server in clear", async () => {
  await withCerts(async (a) => {
    await withEchoServer(a.hub, async (port, terminator, counts) => {
      const conn = await tlsEcho(port, a.caFile, "mining.subscribe\n");
      conn.close();
      assert.equal(counts.completed, 1);
      assert.equal(await serverCertificateFingerprint(port), terminator.fingerprint);
    });
  });
});

Deno.test("a connection that never finishes its handshake is closed at the deadline and counted", async () => {
  await withCerts(async (a) => {
    await withEchoServer({ ...a.hub, handshakeTimeoutMs: 300 }, async (port, _t, counts) => {
      // Connects and stays silent: no ClientHello.
      const silent = await Deno.connect({ hostname: "127.0.0.1", port });
      // Sends half a ClientHello record, then stalls.
      const stalled = await Deno.connect({ hostname: "127.0.0.1", port });
      await stalled.write(new Uint8Array([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]));
      const ends = await Promise.race([
        Promise.all([readToEnd(silent), readToEnd(stalled)]),
        new Promise<"still open">((r) => setTimeout(() => r("still open"), 15_000)),
      ]);
      assert.notEqual(ends, "still open", "the server must close a stalled handshake");
      silent.close();
      stalled.close();
      await until(() => counts.timedOut === 2, "two timeouts counted");
      await until(() => counts.inFlight === 0, "no handshake left in flight");
      assert.equal(counts.completed, 0);
    });
  });
});

Deno.test("connections beyond max_handshakes in progress are closed at once and counted", async () => {
  await withCerts(async (a) => {
    await withEchoServer({ ...a.hub, max: 2 }, async (port, _t, counts) => {
      const first = await Deno.connect({ hostname: "127.0.0.1", port });
      const second = await Deno.connect({ hostname: "127.0.0.1", port });
      await until(() => counts.inFlight === 2, "two handshakes in flight");
      const third = await Deno.connect({ hostname: "127.0.0.1", port });
      assert.notEqual(await readToEnd(third), undefined);
      assert.equal(counts.refused, 1);
      third.close();
      first.close();
      second.close();
      await until(() => counts.inFlight === 0, "handshakes ended when their clients left");
      // A slot is free again: a real client gets through.
      (await tlsEcho(port, a.caFile, "again\n")).close();
      assert.equal(counts.completed, 1);
    });
  });
});

Deno.test("a TLS miner that stops reading is closed once its relay holds more than the output cap", async () => {
  await withCerts(async (a) => {
    let serverWrote = 0;
    let serverWriteEnded: string | null = null;
    const flood = async (conn: Deno.Conn) => {
      // What a notify storm to a miner that never reads looks like from the engine's side.
      const line = new TextEncoder().encode(`${"x".repeat(1023)}\n`);
      try {
        // Bounded: 64 MiB, far beyond every buffer on the way.
        while (serverWrote < 64 * 1024 * 1024) serverWrote += await conn.write(line);
        serverWriteEnded = "wrote everything";
      } catch (e) {
        serverWriteEnded = String(e);
      }
    };
    await withEchoServer(
      { ...a.hub, maxQueuedBytes: 256 * 1024, serve: flood },
      async (port, _t, counts) => {
        const miner = await Deno.connectTls({
          hostname: "localhost",
          port,
          caCerts: [await Deno.readTextFile(a.caFile)],
        });
        await miner.handshake();
        // The miner reads nothing. Its relay queue passes 256 KiB and the relay closes; the
        // server's next writes fail instead of waiting on loopback buffers forever.
        await until(() => serverWriteEnded !== null, "the server's writes ending", 30_000);
        assert.equal(counts.backlogCloses, 1);
        assert.notEqual(serverWriteEnded, "wrote everything");
        miner.close();
      },
    );
  });
});

Deno.test("a handshake at TLS 1.0/1.1 fails and is counted; the server stays up", async () => {
  await withCerts(async (a) => {
    await withEchoServer(a.hub, async (port, _t, counts) => {
      for (const version of [OpensslVersion.Tls1, OpensslVersion.Tls1_1]) {
        const r = await opensslHandshake(port, { version, caFile: a.caFile });
        assert.equal(r.ok, false, `${version} must be refused:\n${r.output}`);
        // Refused by the server (its alert), not by the local OpenSSL policy.
        assert.match(r.output, /alert (handshake failure|protocol version)/, r.output);
      }
      await until(() => counts.failed === 2, "two failed handshakes counted");
      (await tlsEcho(port, a.caFile, "still up\n")).close();
    });
  });
});

Deno.test("openssl s_client: TLS 1.2 and 1.3 accepted, only ECDHE with AEAD suites negotiated", async () => {
  await withCerts(async (a) => {
    await withEchoServer(a.hub, async (port) => {
      const tls13 = await opensslHandshake(port, {
        version: OpensslVersion.Tls1_3,
        caFile: a.caFile,
      });
      assert.ok(tls13.ok, tls13.output);
      assert.equal(tls13.protocol, "TLSv1.3");
      const tls12 = await opensslHandshake(port, {
        version: OpensslVersion.Tls1_2,
        caFile: a.caFile,
      });
      assert.ok(tls12.ok, tls12.output);
      assert.equal(tls12.protocol, "TLSv1.2");

      // Every TLS 1.2 suite this OpenSSL knows, weak ones included, offered one at a time.
      const accepted: string[] = [];
      for (const cipher of await opensslTls12Ciphers()) {
        const r = await opensslHandshake(port, { version: OpensslVersion.Tls1_2, cipher });
        if (r.ok) accepted.push(r.cipher ?? cipher);
      }
      // The certificate is ECDSA P-256: these are the suites rustls offers for it.
      assert.deepEqual(accepted.sort(), [
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
      ]);
      const tls13Suites: string[] = [];
      for (
        const suite of [
          "TLS_AES_128_GCM_SHA256",
          "TLS_AES_256_GCM_SHA384",
          "TLS_CHACHA20_POLY1305_SHA256",
          "TLS_AES_128_CCM_SHA256",
          "TLS_AES_128_CCM_8_SHA256",
        ]
      ) {
        const r = await opensslHandshake(port, {
          version: OpensslVersion.Tls1_3,
          ciphersuites: suite,
        });
        if (r.ok) tls13Suites.push(r.cipher ?? suite);
      }
      assert.deepEqual(tls13Suites, [
        "TLS_AES_128_GCM_SHA256",
        "TLS_AES_256_GCM_SHA384",
        "TLS_CHACHA20_POLY1305_SHA256",
      ]);
    });
  });
});

Deno.test("reload() keeps connected clients, serves the new certificate to new ones, and keeps the old on a bad pair", async () => {
  await withCerts(async (a, b, dir) => {
    // The files the config names; the test swaps their content as an operator's renewal would.
    const certFile = `${dir}/live.crt`;
    const keyFile = `${dir}/live.key`;
    await Deno.copyFile(a.hub.certFile, certFile);
    await Deno.copyFile(a.hub.keyFile, keyFile);
    await withEchoServer({ certFile, keyFile }, async (port, terminator, counts) => {
      const before = await serverCertificateFingerprint(port);
      assert.equal(before, terminator.fingerprint);
      const connected = await tlsEcho(port, a.caFile, "before reload\n");

      await Deno.copyFile(b.hub.certFile, certFile);
      await Deno.copyFile(b.hub.keyFile, keyFile);
      assert.equal(await terminator.reload(), true);
      assert.equal(counts.reloadsOk, 1);
      const after = await serverCertificateFingerprint(port);
      assert.notEqual(after, before);
      assert.equal(after, terminator.fingerprint);
      // The connection made before the reload still works on its old session.
      await connected.write(new TextEncoder().encode("after reload\n"));
      const buffer = new Uint8Array(13);
      let got = 0;
      while (got < 13) got += (await connected.read(buffer.subarray(got))) ?? 13;
      assert.equal(new TextDecoder().decode(buffer), "after reload\n");
      // A new client trusting only CA b gets through; one trusting only CA a does not.
      (await tlsEcho(port, b.caFile, "new cert\n")).close();
      await assert.rejects(tlsEcho(port, a.caFile, "old CA\n"));

      // A broken renewal: the key no longer matches. The working certificate stays.
      await Deno.copyFile(a.hub.keyFile, keyFile);
      assert.equal(await terminator.reload(), false);
      assert.equal(counts.reloadsFailed, 1);
      assert.equal(await serverCertificateFingerprint(port), after);
      (await tlsEcho(port, b.caFile, "kept\n")).close();
      connected.close();
    });
  });
});

Deno.test("Deno.listenTls keeps a silent connection open after close(): why the terminator relays", async () => {
  // If this starts failing, Deno learnt to abort a server handshake and the loopback relay in
  // shared/engine/tls_terminator.ts could give way to Deno.listenTls on the public port.
  await withCerts(async (a) => {
    const listener = Deno.listenTls({
      hostname: "127.0.0.1",
      port: 0,
      cert: await Deno.readTextFile(a.hub.certFile),
      key: await Deno.readTextFile(a.hub.keyFile),
    });
    const accepted = listener.accept().then((conn) => conn.close());
    const silent = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    await accepted;
    const outcome = await Promise.race([
      readToEnd(silent),
      new Promise<"still open">((r) => setTimeout(() => r("still open"), 1500)),
    ]);
    assert.equal(outcome, "still open");
    silent.close();
    listener.close();
  });
});
