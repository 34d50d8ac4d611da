/**
 * Egress address rules: which hosts the gateway never calls, whatever the signed configuration says.
 * A registry entry naming a private, link-local, cloud-metadata or reserved address is refused when
 * the bundle loads (the last good configuration stays); loopback is allowed only in local development
 * (`VERITY_LOCAL_DEV=loopback`, which wrangler.toml must never carry: see the README).
 *
 * Hosts are judged after the WHATWG URL parser has canonicalised them, so every spelling of an IPv4
 * address (`2130706433`, `0x7f.1`, `0177.0.0.1`) arrives here as dotted decimal, and IPv6 in its
 * compressed lower-case form. IPv4 addresses embedded in IPv6 (mapped `::ffff:0:0/96`, compatible
 * `::/96`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) are judged as the IPv4 address they carry.
 *
 * Names are not resolved (a Worker cannot resolve DNS, and an answer could change after the check):
 * a public name that resolves to a private address is stopped by Cloudflare's own egress, which does
 * not connect Workers' `fetch` to private or loopback networks in production.
 */

export type AddressClass = "loopback" | "private" | "link-local" | "metadata" | "reserved";

/** Instance-metadata services by name (GCP, Azure/OCI/AWS aliases) and by address (AWS, Alibaba Cloud). */
const METADATA_NAMES = new Set(["metadata.google.internal", "metadata.goog", "metadata", "instance-data", "instance-data.ec2.internal"]);

function ipv4Class(a: number, b: number, c: number, d: number): AddressClass | undefined {
  if (a === 169 && b === 254 && c === 169 && d === 254) return "metadata"; // AWS, GCP, Azure, OCI
  if (a === 100 && b === 100 && c === 100 && d === 200) return "metadata"; // Alibaba Cloud
  if (a === 127) return "loopback";
  if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)) return "private"; // RFC 1918
  if (a === 100 && b >= 64 && b <= 127) return "private"; // RFC 6598 shared address space (carrier NAT)
  if (a === 169 && b === 254) return "link-local"; // RFC 3927
  if (a === 0) return "reserved"; // "this network": 0.0.0.0 reaches the local host on many stacks
  if (a === 192 && b === 0 && c === 0) return "reserved"; // RFC 6890 IETF protocol assignments
  if (a === 198 && (b === 18 || b === 19)) return "reserved"; // RFC 2544 benchmarking
  if (a >= 224) return "reserved"; // multicast, class E, broadcast
  return undefined;
}

function parseIpv4(host: string): [number, number, number, number] | undefined {
  const parts = host.split(".");
  if (parts.length !== 4) return undefined;
  const octets = parts.map((p) => (/^\d{1,3}$/.test(p) ? Number(p) : NaN));
  if (octets.some((o) => !(o >= 0 && o <= 255))) return undefined;
  return octets as [number, number, number, number];
}

/** The eight 16-bit groups of an IPv6 address (brackets stripped), or undefined when it is not one. */
function parseIpv6(text: string): number[] | undefined {
  let body = text;
  const groups: number[] = [];
  // A dotted IPv4 tail (a canonical URL never has one, but a caller may pass a raw address).
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(body);
  let tail: number[] = [];
  if (dotted) {
    const v4 = parseIpv4(dotted[2]!);
    if (!v4) return undefined;
    tail = [(v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]];
    body = dotted[1]!.endsWith("::") ? dotted[1]! : dotted[1]!.slice(0, -1);
  }
  const halves = body.split("::");
  if (halves.length > 2) return undefined;
  const parse = (part: string) => (part === "" ? [] : part.split(":").map((g) => (/^[0-9a-f]{1,4}$/i.test(g) ? parseInt(g, 16) : NaN)));
  const head = parse(halves[0]!);
  const rest = halves.length === 2 ? parse(halves[1]!) : [];
  const known = head.length + rest.length + tail.length;
  if (head.some(Number.isNaN) || rest.some(Number.isNaN)) return undefined;
  if (halves.length === 1 && known !== 8) return undefined;
  if (halves.length === 2 && known > 7) return undefined;
  groups.push(...head, ...new Array<number>(8 - known).fill(0), ...rest, ...tail);
  return groups;
}

function embeddedIpv4Class(high: number, low: number): AddressClass | undefined {
  return ipv4Class(high >> 8, high & 0xff, low >> 8, low & 0xff);
}

function ipv6Class(g: number[]): AddressClass | undefined {
  const zeroUpTo = (n: number) => g.slice(0, n).every((x) => x === 0);
  if (zeroUpTo(7) && g[7] === 1) return "loopback";
  if (zeroUpTo(8)) return "reserved"; // the unspecified address
  if (zeroUpTo(5) && g[5] === 0xffff) return embeddedIpv4Class(g[6]!, g[7]!); // IPv4-mapped
  if (zeroUpTo(6)) return embeddedIpv4Class(g[6]!, g[7]!) ?? "reserved"; // IPv4-compatible (deprecated)
  if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0)) return embeddedIpv4Class(g[6]!, g[7]!); // NAT64
  if (g[0] === 0x2002) return embeddedIpv4Class(g[1]!, g[2]!); // 6to4
  if (g[0] === 0xfd00 && g[1] === 0x0ec2 && g.slice(2, 7).every((x) => x === 0) && g[7] === 0x254) return "metadata"; // AWS IMDS over IPv6
  if ((g[0]! & 0xfe00) === 0xfc00) return "private"; // fc00::/7 unique local
  if ((g[0]! & 0xffc0) === 0xfe80) return "link-local"; // fe80::/10
  if ((g[0]! & 0xffc0) === 0xfec0) return "private"; // fec0::/10 site-local (deprecated)
  if ((g[0]! & 0xff00) === 0xff00) return "reserved"; // multicast
  return undefined;
}

/**
 * What kind of special address a URL's canonical `hostname` is; undefined for a public address or an
 * ordinary name.
 */
export function addressClassOf(hostname: string): AddressClass | undefined {
  const host = hostname.toLowerCase().replace(/\.$/, "");
  if (host.startsWith("[") && host.endsWith("]")) {
    const groups = parseIpv6(host.slice(1, -1).replace(/%.*$/, ""));
    return groups ? ipv6Class(groups) : "reserved";
  }
  const v4 = parseIpv4(host);
  if (v4) return ipv4Class(...v4);
  if (host === "localhost" || host.endsWith(".localhost")) return "loopback"; // RFC 6761 §6.3
  if (METADATA_NAMES.has(host)) return "metadata";
  return undefined;
}

/** Why the gateway refuses to call `url` (a registry entry's); undefined when it may, loopback aside. */
export function refusedAddress(url: URL): AddressClass | undefined {
  const found = addressClassOf(url.hostname);
  return found === "loopback" ? undefined : found;
}

/** The origins of the set that are loopback: allowed only in local development. */
export function loopbackOrigins(origins: Iterable<string>): string[] {
  return [...origins].filter((origin) => addressClassOf(new URL(origin).hostname) === "loopback");
}

/** The value of `VERITY_LOCAL_DEV` that allows loopback destinations (and nothing else does). */
export const LOCAL_DEV_LOOPBACK = "loopback";

/**
 * Whether this deployment is the local stack. Unset or empty: no. `loopback`: yes. Anything else is a
 * deployment error (a typo must not quietly mean either), thrown as a TypeError.
 */
export function isLocalDevelopment(value: string | undefined): boolean {
  if (value === undefined || value === "") return false;
  if (value === LOCAL_DEV_LOOPBACK) return true;
  throw new TypeError(`VERITY_LOCAL_DEV must be unset or "${LOCAL_DEV_LOOPBACK}"`);
}
