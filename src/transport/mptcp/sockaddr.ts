/**
 * struct sockaddr_in / sockaddr_in6 to and from bytes, for bind() and MPTCP_SUBFLOW_ADDRS.
 *
 *   sockaddr_in  (16 B): u16 family (host order) | u16 port (BE) | 4 B address | 8 B zero
 *   sockaddr_in6 (28 B): u16 family | u16 port (BE) | u32 flowinfo | 16 B address | u32 scope_id
 */
import net from 'node:net';
import { AF_INET, AF_INET6 } from './libc.js';

/** An IP address with its family, as dns.lookup returns it. */
export interface IpAddress {
  address: string;
  family: 4 | 6;
}

function ipv4Bytes(address: string, out: Uint8Array, at: number): void {
  const parts = address.split('.');
  for (let i = 0; i < 4; i++) out[at + i] = Number(parts[i]);
}

/** The 16 bytes of an IPv6 address (no zone), '::' and an embedded IPv4 tail included. */
export function ipv6Bytes(address: string): Uint8Array {
  const out = new Uint8Array(16);
  let text = address;
  const tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  // An embedded IPv4 tail ('::ffff:10.0.0.1') is the last two groups.
  if (text.includes('.', lastColon)) {
    const v4 = new Uint8Array(4);
    ipv4Bytes(text.slice(lastColon + 1), v4, 0);
    tail.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
    text = text.slice(0, lastColon + 1);
    if (!text.endsWith('::')) text = text.slice(0, -1);
  }
  const groups = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const [head, rest] = text.includes('::') ? text.split('::') : [text, undefined];
  const left = groups(head);
  const right = [...(rest === undefined ? [] : groups(rest)), ...tail];
  const words = rest === undefined ? [...left, ...tail] : [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  for (let i = 0; i < 8; i++) {
    out[2 * i] = (words[i] ?? 0) >> 8;
    out[2 * i + 1] = (words[i] ?? 0) & 0xff;
  }
  return out;
}

/** The RFC 5952 text of 16 address bytes (longest run of zero groups as '::'). */
export function formatIpv6(bytes: Uint8Array): string {
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push((bytes[2 * i] << 8) | bytes[2 * i + 1]);
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) {
    return `::ffff:${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  }
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) [bestAt, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = (ws: number[]): string => ws.map((w) => w.toString(16)).join(':');
  return bestAt < 0 ? hex(words) : `${hex(words.slice(0, bestAt))}::${hex(words.slice(bestAt + bestLen))}`;
}

/** The sockaddr of `ip`:`port`; `scopeId` is the interface index of a link-local IPv6 address. */
export function encodeSockaddr(ip: IpAddress, port: number, scopeId = 0): Buffer {
  if (ip.family === 4) {
    const b = Buffer.alloc(16);
    b.writeUInt16LE(AF_INET, 0);
    b.writeUInt16BE(port, 2);
    ipv4Bytes(ip.address, b, 4);
    return b;
  }
  const b = Buffer.alloc(28);
  b.writeUInt16LE(AF_INET6, 0);
  b.writeUInt16BE(port, 2);
  b.set(ipv6Bytes(ip.address.split('%')[0]), 8);
  b.writeUInt32LE(scopeId, 24);
  return b;
}

/** 'address:port' of the sockaddr at `at`, as node's socket.localAddress/localPort print it; '?' if not IP. */
export function decodeSockaddr(b: Buffer, at: number): string {
  const family = b.readUInt16LE(at);
  const port = b.readUInt16BE(at + 2);
  if (family === AF_INET) return `${b[at + 4]}.${b[at + 5]}.${b[at + 6]}.${b[at + 7]}:${port}`;
  if (family === AF_INET6) return `${formatIpv6(b.subarray(at + 8, at + 24))}:${port}`;
  return '?';
}

/** True when `host` is an IP literal (no lookup needed). */
export function ipFamily(host: string): 0 | 4 | 6 {
  return net.isIP(host.split('%')[0]) as 0 | 4 | 6;
}
