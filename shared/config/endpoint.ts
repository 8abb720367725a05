/** A TCP endpoint named in a configuration file. */
export interface Endpoint {
  /** Host exactly as written (hostname, IPv4 address, or bracketed IPv6 address such as `[::1]`). */
  host: string;
  /** TCP port. */
  port: number;
}

const HOST_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?";
const HOST_NAME = `${HOST_LABEL}(?:\\.${HOST_LABEL})*`;
const HOST_IPV6 = "\\[[0-9A-Fa-f:.]+\\]";
const HOST_PORT = new RegExp(`^(${HOST_NAME}|${HOST_IPV6}):([0-9]{1,5})$`);
const HOST_ONLY = new RegExp(`^(?:${HOST_NAME}|${HOST_IPV6})$`);

/**
 * Checks a host as written in a config file: a DNS name, a dotted IPv4 address, or a bracketed
 * IPv6 address. Numeric-looking names must be valid IPv4 addresses, so a typo such as
 * `127.0.0.256` is caught here rather than at connect time.
 */
export function isValidHost(host: string): boolean {
  if (!HOST_ONLY.test(host)) return false;
  if (host.startsWith("[")) return isIpv6(host.slice(1, -1));
  const labels = host.split(".");
  if (labels.every((label) => /^[0-9]+$/.test(label))) {
    return labels.length === 4 && labels.every((label) => Number(label) <= 255);
  }
  return true;
}

function isIpv6(text: string): boolean {
  try {
    return new URL(`http://[${text}]/`).hostname.length > 2;
  } catch {
    return false;
  }
}

/**
 * Parses `host:port`. Port 0 is accepted only when `allowPortZero` is set, which listeners use
 * to ask the kernel for a free port.
 *
 * @returns the endpoint, or undefined when the text is not `host:port`
 */
export function parseHostPort(text: string, allowPortZero = false): Endpoint | undefined {
  const match = HOST_PORT.exec(text);
  if (match === null) return undefined;
  const host = match[1] ?? "";
  const port = Number(match[2]);
  if (!isValidHost(host) || port > 65535 || (port === 0 && !allowPortZero)) return undefined;
  return { host, port };
}

/**
 * Parses a bitcoind RPC address as ckpool accepts it: `host:port` or `http://host:port`.
 *
 * @returns the endpoint, or undefined when the text has another form
 */
export function parseBtcdUrl(text: string): Endpoint | undefined {
  return parseHostPort(text.startsWith("http://") ? text.slice("http://".length) : text);
}

/**
 * Parses a URL such as `redis://user:secret@host:6379/0` or `tcp://127.0.0.1:28332` into its
 * host and port, filling in the scheme's default port when the URL has none.
 *
 * @param text the URL
 * @param defaultPorts scheme (without `:`) to default port; other schemes are rejected.
 *   A default port of 0 means the URL must name its port.
 * @returns the endpoint, or undefined when the URL is malformed or has another scheme
 */
export function parseServiceUrl(
  text: string,
  defaultPorts: Readonly<Record<string, number>>,
): Endpoint | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  const scheme = url.protocol.slice(0, -1);
  const defaultPort = defaultPorts[scheme];
  if (defaultPort === undefined || !isValidHost(url.hostname)) return undefined;
  if (url.port === "" && defaultPort === 0) return undefined;
  const port = url.port === "" ? defaultPort : Number(url.port);
  if (port < 1 || port > 65535) return undefined;
  return { host: url.hostname, port };
}

/** Default ports of the NATS URL schemes nats.js accepts. */
export const NATS_URL_SCHEMES: Readonly<Record<string, number>> = { nats: 4222, tls: 4222 };

/**
 * Parses a NATS server list as nats.js accepts it: one or more comma-separated
 * `nats://[user:password@]host[:port]`, `tls://…` or bare `host:port` entries.
 *
 * @returns one endpoint per server, or undefined when any entry is malformed
 */
export function parseNatsUrls(text: string): Endpoint[] | undefined {
  const entries = text.split(",").map((entry) => entry.trim());
  const endpoints: Endpoint[] = [];
  for (const entry of entries) {
    const endpoint = entry.includes("://")
      ? parseServiceUrl(entry, NATS_URL_SCHEMES)
      : parseHostPort(entry);
    if (endpoint === undefined) return undefined;
    endpoints.push(endpoint);
  }
  return endpoints;
}

/** Renders an endpoint the way Deno's `--allow-net` expects it: `host:port`. */
export function formatEndpoint(endpoint: Endpoint): string {
  return `${endpoint.host}:${endpoint.port}`;
}
