/**
 * A line-level Stratum test client: sends arbitrary text (malformed JSON, oversize lines) and
 * reads every line the server answers, including error lines with a null id.
 */

const encoder = new TextEncoder();

/** One raw connection. */
export class RawStratum {
  readonly #conn: Deno.TcpConn;
  readonly lines: Record<string, unknown>[] = [];
  #waiters: (() => void)[] = [];
  #closed = false;
  /** Resolves when the server closes the connection (or it is reset). */
  readonly closed: Promise<void>;

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
    this.closed = this.#read();
  }

  /** Connects to `hostname`:`port` (127.0.0.1 unless given; `::1` for IPv6 loopback). */
  static async open(port: number, hostname = "127.0.0.1"): Promise<RawStratum> {
    return new RawStratum(await Deno.connect({ hostname, port }));
  }

  /** True once the server closed the connection. */
  get isClosed(): boolean {
    return this.#closed;
  }

  /** Sends text as-is. */
  async send(text: string): Promise<void> {
    const bytes = encoder.encode(text);
    let offset = 0;
    while (offset < bytes.length) offset += await this.#conn.write(bytes.subarray(offset));
  }

  /** Sends a request line and waits for the response with that id. */
  async request(
    id: number,
    method: string,
    params: unknown[],
    timeoutMs = 5_000,
  ): Promise<Record<string, unknown>> {
    await this.send(JSON.stringify({ id, method, params }) + "\n");
    return await this.waitFor((l) => l.id === id && !("method" in l), timeoutMs);
  }

  /** Waits for a line matching `predicate` (already received lines count). */
  async waitFor(
    predicate: (l: Record<string, unknown>) => boolean,
    timeoutMs = 5_000,
  ): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const found = this.lines.find(predicate);
      if (found) return found;
      if (this.#closed) {
        throw new Error(
          `connection closed before a matching line; got ${JSON.stringify(this.lines)}`,
        );
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `no matching line within ${timeoutMs} ms; got ${JSON.stringify(this.lines)}`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Waits until the server closes the connection; false if it stays open for `timeoutMs`. */
  async waitClosed(timeoutMs = 5_000): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const result = await Promise.race([
      this.closed.then(() => true),
      new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), timeoutMs)),
    ]);
    clearTimeout(timer);
    return result;
  }

  /** Closes our side. */
  close(): void {
    if (this.#closed) return;
    try {
      this.#conn.close();
    } catch {
      // Already closed by the server.
    }
  }

  async #read(): Promise<void> {
    const decoder = new TextDecoder();
    const buffer = new Uint8Array(64 * 1024);
    let pending = "";
    try {
      while (true) {
        const n = await this.#conn.read(buffer);
        if (n === null) break;
        pending += decoder.decode(buffer.subarray(0, n), { stream: true });
        let nl;
        while ((nl = pending.indexOf("\n")) !== -1) {
          const line = pending.slice(0, nl);
          pending = pending.slice(nl + 1);
          try {
            this.lines.push(JSON.parse(line));
          } catch {
            this.lines.push({ unparsable: line });
          }
        }
        for (const w of this.#waiters.splice(0)) w();
      }
    } catch {
      // Reset by the server counts as closed.
    } finally {
      this.#closed = true;
      try {
        this.#conn.close();
      } catch {
        // Already closed.
      }
      for (const w of this.#waiters.splice(0)) w();
    }
  }
}
