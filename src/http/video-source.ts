/**
 * Where a request's video comes from: the multipart upload, or (when the server allows it) the
 * URL the request names, fetched into the request's own temp folder. Either way the work below
 * sees a server-made local path; the folder goes when the response is done.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Request, Response } from 'express';
import { InvalidParameterError } from '../errors.js';
import { fetchVideoUrl } from './fetch-url.js';
import type { ServiceState } from './service-state.js';
import { uploadedVideo } from './upload.js';

export interface RequestVideo {
  readonly path: string;
  /** For messages and result names: the upload's file name or the URL's last segment. */
  readonly name: string;
}

/** One source, and only one: checked before anything else about the request. */
export function checkVideoSource(req: Request, url: string | undefined): void {
  const upload = uploadedVideo(req);
  if (upload && url !== undefined) throw new InvalidParameterError('url', url, "cannot be given together with an uploaded 'video'");
  if (!upload && url === undefined)
    throw new InvalidParameterError(
      'video',
      (req.body as { video?: unknown } | undefined)?.video,
      "must be a file uploaded as multipart/form-data (or give 'url')",
      'missing_parameter',
    );
}

export async function requestVideo(
  req: Request,
  res: Response,
  state: ServiceState,
  url: string | undefined,
  signal?: AbortSignal,
): Promise<RequestVideo> {
  checkVideoSource(req, url);
  const upload = uploadedVideo(req);
  if (upload) return { path: upload.path, name: upload.originalName || 'video' };
  if (url === undefined) throw new Error('unreachable: checkVideoSource passed without a source');
  const policy = state.config.urlFetch;
  if (!policy || policy.allowHosts.length === 0)
    throw new InvalidParameterError(
      'url',
      url,
      'is not accepted: this server does not fetch videos by URL (serve --url-allow-host)',
      'url_disabled',
    );
  const dir = mkdtempSync(join(state.config.tempDir, 'videomae-url-'));
  res.once('close', () => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'fetched');
  const fetched = await fetchVideoUrl(url, policy, file, signal);
  return { path: file, name: fetched.name };
}
