/**
 * Stand-in service for the launcher's signal test: prints "ready", and on SIGTERM or SIGINT
 * prints the signal's name and exits 42, so the test can tell a forwarded signal (and the
 * child's exit code passed through) from the launcher dying. Exits 1 by itself after 10 s.
 */
if (import.meta.main) {
  const encoder = new TextEncoder();
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    Deno.addSignalListener(signal, () => {
      Deno.stdout.writeSync(encoder.encode(`got ${signal}\n`));
      Deno.exit(42);
    });
  }
  Deno.stdout.writeSync(encoder.encode("ready\n"));
  setTimeout(() => Deno.exit(1), 10_000);
}
