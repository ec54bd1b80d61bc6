/**
 * Video by URL: the service fetches it itself (ffmpeg never sees a URL). http and https only;
 * the host must be on the allowlist; every address the name resolves to must be public (see
 * address-policy.ts) and the connection is pinned to the address that was checked, so a second
 * DNS answer cannot move it; each redirect (at most `maxRedirects`) is checked the same way; the
 * size and the total time are capped. The body goes to a server-made file.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { createWriteStream, rmSync } from 'node:fs';
import { request as httpGet, type IncomingMessage } from 'node:http';
import { request as httpsGet } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { InvalidParameterError, ServiceError, TooLargeError } from '../errors.js';
import { isForbiddenAddress } from './address-policy.js';

export interface UrlFetchPolicy {
  /** Host names allowed (exact, or `*.example.com` for its subdomains). */
  readonly allowHosts: readonly string[];
  readonly maxBytes: number;
  readonly timeoutMs: number;
  readonly maxRedirects: number;
  /** Which resolved addresses are refused (default: all but public unicast). */
  readonly forbidAddress?: (address: string) => boolean;
  /** Name resolution (default: the system resolver, every address). */
  readonly resolve?: (host: string) => Promise<Array<{ address: string; family: number }>>;
}

export const DEFAULT_URL_LIMITS = { maxRedirects: 5, timeoutMs: 60_000 } as const;

export interface FetchedVideo {
  readonly bytes: number;
  readonly finalUrl: string;
  /** The last path segment, for messages and result names. */
  readonly name: string;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** A host as URL parsing writes it (IPv6 compressed, IPv4-mapped in hex), without brackets. */
function canonicalHost(host: string): string {
  const bare = host.replace(/^\[|\]$/g, '');
  try {
    return new URL(`http://${isIP(bare) === 6 ? `[${bare}]` : bare}/`).hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '');
  } catch {
    return bare.toLowerCase();
  }
}

function hostAllowed(host: string, allow: readonly string[]): boolean {
  const h = canonicalHost(host);
  return allow.some((pattern) => {
    const p = pattern.startsWith('*.') ? pattern.toLowerCase() : canonicalHost(pattern);
    return p.startsWith('*.') ? h.endsWith(p.slice(1)) && h.length > p.length - 1 : h === p;
  });
}

/** Checks scheme and host of one hop; resolves and checks its addresses; returns the pinned one. */
async function checkHop(url: URL, policy: UrlFetchPolicy): Promise<{ address: string; family: number }> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidParameterError('url', url.href, 'must be an http or https URL', 'url_not_allowed');
  }
  if (url.username || url.password) throw new InvalidParameterError('url', url.origin, 'must not carry credentials', 'url_not_allowed');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!hostAllowed(host, policy.allowHosts)) {
    throw new InvalidParameterError('url', url.href, `names host '${host}', which is not on this server's allowlist`, 'url_not_allowed');
  }
  const forbid = policy.forbidAddress ?? isForbiddenAddress;
  const addresses = isIP(host)
    ? [{ address: host, family: isIP(host) }]
    : await (policy.resolve ?? ((h: string) => dnsLookup(h, { all: true, verbatim: true })))(host).catch(() => {
        throw new ServiceError(502, 'url_fetch_failed', `host '${host}' of parameter 'url' does not resolve`, {
          parameter: 'url',
          value: host,
        });
      });
  if (addresses.length === 0)
    throw new ServiceError(502, 'url_fetch_failed', `host '${host}' of parameter 'url' does not resolve`, {
      parameter: 'url',
      value: host,
    });
  // Every answer must be public: a name that resolves to a public and a private address is refused.
  const bad = addresses.find((a) => forbid(a.address));
  if (bad) {
    throw new InvalidParameterError(
      'url',
      url.href,
      `resolves to ${bad.address}, a private, loopback, link-local or otherwise non-public address`,
      'url_forbidden_address',
    );
  }
  return addresses[0]!;
}

function get(url: URL, pinned: { address: string; family: number }, signal: AbortSignal): Promise<IncomingMessage> {
  // The socket connects to the checked address whatever the resolver would say now.
  const lookup: LookupFunction = (_host, options, callback) => {
    if ((options as { all?: boolean }).all) (callback as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [pinned]);
    else callback(null, pinned.address, pinned.family);
  };
  const send = url.protocol === 'https:' ? httpsGet : httpGet;
  return new Promise((resolve, reject) => {
    const req = send(
      url,
      {
        method: 'GET',
        lookup,
        signal,
        headers: { 'user-agent': 'videomae-serve', accept: 'video/*, application/octet-stream, */*' },
        ...(url.protocol === 'https:' ? { servername: url.hostname } : {}),
      },
      resolve,
    );
    req.on('error', reject);
    req.end();
  });
}

/** Fetches `raw` into `file` under the policy; the file is removed on any failure. */
export async function fetchVideoUrl(raw: string, policy: UrlFetchPolicy, file: string, requestSignal?: AbortSignal): Promise<FetchedVideo> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InvalidParameterError('url', raw, 'is not a valid absolute URL');
  }
  const timeout = AbortSignal.timeout(policy.timeoutMs);
  const signal = requestSignal ? AbortSignal.any([requestSignal, timeout]) : timeout;
  const failed = (error: unknown): never => {
    rmSync(file, { force: true });
    if (error instanceof ServiceError) throw error;
    if (requestSignal?.aborted) throw requestSignal.reason;
    if (timeout.aborted)
      throw new ServiceError(504, 'url_fetch_timeout', `fetching parameter 'url' took longer than ${policy.timeoutMs / 1000} s`, {
        parameter: 'url',
      });
    throw new ServiceError(502, 'url_fetch_failed', `fetching parameter 'url' failed: ${(error as Error).message}`, { parameter: 'url' });
  };
  try {
    for (let hop = 0; ; hop++) {
      const pinned = await checkHop(url, policy);
      const response = await get(url, pinned, signal);
      const status = response.statusCode ?? 0;
      if (REDIRECTS.has(status)) {
        response.resume();
        const location = response.headers.location;
        if (!location)
          throw new ServiceError(502, 'url_fetch_failed', `parameter 'url': a redirect (${status}) without a Location`, {
            parameter: 'url',
          });
        if (hop >= policy.maxRedirects)
          throw new InvalidParameterError('url', raw, `redirects more than ${policy.maxRedirects} times`, 'too_many_redirects');
        url = new URL(location, url);
        continue;
      }
      if (status < 200 || status >= 300) {
        response.resume();
        throw new ServiceError(502, 'url_fetch_failed', `parameter 'url': the server answered ${status}`, {
          parameter: 'url',
          value: status,
        });
      }
      const declared = Number(response.headers['content-length']);
      if (Number.isFinite(declared) && declared > policy.maxBytes) {
        response.destroy();
        throw new TooLargeError('url_too_large', `parameter 'url' points at ${declared} bytes; the limit is ${policy.maxBytes}`, {
          parameter: 'url',
          value: declared,
        });
      }
      let bytes = 0;
      const counter = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          bytes += chunk.length;
          if (bytes > policy.maxBytes)
            callback(
              new TooLargeError('url_too_large', `parameter 'url' sent more than the limit of ${policy.maxBytes} bytes`, {
                parameter: 'url',
              }),
            );
          else callback(null, chunk);
        },
      });
      await pipeline(response, counter, createWriteStream(file, { flags: 'wx' }), { signal });
      const name = decodeURIComponent(url.pathname.split('/').pop() || url.hostname).slice(0, 200);
      return { bytes, finalUrl: url.href, name };
    }
  } catch (error) {
    return failed(error);
  }
}
