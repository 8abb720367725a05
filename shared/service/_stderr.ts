/** Writes one line to the process's stderr, synchronously so it lands before an exit. */
export function writeStderrLine(line: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(`${line}\n`));
}
